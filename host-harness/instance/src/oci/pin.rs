//! Digest pins on pulled artifacts. A pin is either the manifest digest that registries,
//! `oras` and `crane digest` show, or the component's own digest (the wasm layer, what
//! `harness inspect` prints); the check says which one matched, and a refusal names where
//! the pin came from so the operator knows what to edit.

/// Which of an artifact's two digests a pin matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMatch {
    /// The manifest digest (what the registry shows for the tag).
    Manifest,
    /// The component's digest (the wasm layer).
    Component,
}

impl std::fmt::Display for PinMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PinMatch::Manifest => "the manifest digest",
            PinMatch::Component => "the component digest",
        })
    }
}

/// Where a pin was written, for messages: `--digest on the command line`, `digest in
/// [connector] of tenants/acme.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinOrigin(pub String);

impl PinOrigin {
    pub fn command_line() -> PinOrigin {
        PinOrigin("--digest on the command line".into())
    }

    pub fn configuration() -> PinOrigin {
        PinOrigin("digest in the configuration's [connector]".into())
    }
}

impl std::fmt::Display for PinOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An artifact's two digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub manifest: Option<String>,
    pub component: String,
}

/// Which digest `pinned` matches, or an error naming the reference, the pin's origin and
/// both digests the registry served.
pub fn match_pin(
    reference: &str,
    digests: &Digests,
    pinned: &str,
    origin: &PinOrigin,
) -> anyhow::Result<PinMatch> {
    if digests.component == pinned {
        return Ok(PinMatch::Component);
    }
    if digests.manifest.as_deref() == Some(pinned) {
        return Ok(PinMatch::Manifest);
    }
    let manifest = digests.manifest.as_deref().unwrap_or("(not reported)");
    anyhow::bail!(
        "{reference} matches neither digest of the pin {pinned} ({origin}): the registry serves \
         manifest {manifest} holding component {}. Nothing was compiled. If this artifact is \
         intended, pin one of those two digests",
        digests.component
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_digest_pins_and_a_miss_names_the_origin() {
        let d = Digests {
            manifest: Some("sha256:m".into()),
            component: "sha256:c".into(),
        };
        let cli = PinOrigin::command_line();
        assert_eq!(
            match_pin("r/x:1", &d, "sha256:m", &cli).unwrap(),
            PinMatch::Manifest
        );
        assert_eq!(
            match_pin("r/x:1", &d, "sha256:c", &cli).unwrap(),
            PinMatch::Component
        );
        let e = match_pin("r/x:1", &d, "sha256:z", &cli)
            .unwrap_err()
            .to_string();
        for part in [
            "r/x:1",
            "sha256:z",
            "--digest on the command line",
            "sha256:m",
            "sha256:c",
        ] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
    }
}
