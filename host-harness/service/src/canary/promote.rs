//! Promotion: the configuration's pin rewritten to the candidate, in place, keeping every other
//! line (comments included): to a component file (`component`, and `digest` when the file pins
//! one), or to an OCI artifact (`oci` and `digest`).

use std::path::Path;

use anyhow::{Context, bail};

/// Where a promoted tenant's component comes from.
#[derive(Debug, Clone, Copy)]
pub enum Pin<'a> {
    /// A component file; `digest` is written only where the file already pins one.
    File { path: &'a str, digest: &'a str },
    /// An artifact in a registry, pinned by `digest`.
    Oci { reference: &'a str, digest: &'a str },
}

impl Pin<'_> {
    /// The line that names the component.
    fn line(&self) -> String {
        match self {
            Pin::File { path, .. } => format!("component = \"{path}\""),
            Pin::Oci { reference, .. } => format!("oci = \"{reference}\""),
        }
    }

    fn digest(&self) -> &str {
        match self {
            Pin::File { digest, .. } | Pin::Oci { digest, .. } => digest,
        }
    }

    /// Refuses a value that would break out of its TOML string.
    fn check(&self) -> anyhow::Result<()> {
        let (what, value) = match self {
            Pin::File { path, .. } => ("the candidate's path", *path),
            Pin::Oci { reference, .. } => ("the candidate's reference", *reference),
        };
        for v in [value, self.digest()] {
            if v.contains(['"', '\\', '\n', '\r']) || v.is_empty() {
                bail!("{what} or digest {v:?} is empty or holds a quote, backslash or newline");
            }
        }
        Ok(())
    }
}

/// Rewrites `[connector] component` in the file at `config_path` to `candidate`, and its
/// `digest` (when the file pins one) to `digest` ([`rewritten_text`], [`write_atomically`]).
pub fn rewrite_pin(config_path: &Path, candidate: &Path, digest: &str) -> anyhow::Result<()> {
    let path = candidate
        .to_str()
        .context("the candidate's path is not UTF-8")?;
    rewrite_to(config_path, Pin::File { path, digest })
}

/// Rewrites the pin of the file at `config_path` to `pin`.
pub fn rewrite_to(config_path: &Path, pin: Pin<'_>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let out = rewritten(&text, pin)
        .with_context(|| format!("rewriting the pin of {}", config_path.display()))?;
    write_atomically(config_path, &out)
}

/// `text` with its `[connector]` pin moved to the component file `path` (and its `digest`, when
/// it pins one, to `digest`). A `builtin = ...` line, or no pin at all (the default built-in
/// connector), becomes the `component` line.
pub fn rewritten_text(text: &str, path: &str, digest: &str) -> anyhow::Result<String> {
    rewritten(text, Pin::File { path, digest })
}

/// `text` with its `[connector]` pin moved to `pin`. The line naming the component
/// (`component`, `builtin` or `oci`; none for the default built-in connector) becomes `pin`'s;
/// an OCI pin always carries its `digest` (added when the table has none). A file pin does not
/// replace an OCI pin: push the candidate instead.
pub fn rewritten(text: &str, pin: Pin<'_>) -> anyhow::Result<String> {
    pin.check()?;
    let oci = matches!(pin, Pin::Oci { .. });
    // An OCI pin's digest goes right under its `oci` line when the table has no `digest`.
    let has_digest = connector_keys(text).any(|k| k == "digest");
    let mut section = String::new();
    let (mut named, mut digested) = (false, false);
    let mut out = Vec::new();
    let close = |out: &mut Vec<String>, named: &mut bool, digested: &mut bool| {
        if !*named {
            out.push(pin.line());
            *named = true;
        }
        if oci && !*digested {
            out.push(format!("digest = \"{}\"", pin.digest()));
            *digested = true;
        }
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if section == "[connector]" {
                // Leaving [connector]: what it lacked goes at its end.
                close(&mut out, &mut named, &mut digested);
            }
            section = trimmed
                .split('#')
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        let here = section == "[connector]";
        if here && key == "oci" && !oci {
            bail!(
                "[connector] pins an OCI artifact: push the candidate and promote its reference (a file pin does not replace an OCI pin)"
            );
        }
        if here && matches!(key, "component" | "builtin" | "oci") {
            out.push(pin.line());
            named = true;
            if oci && !has_digest {
                out.push(format!("digest = \"{}\"", pin.digest()));
                digested = true;
            }
        } else if here && key == "digest" {
            out.push(format!("digest = \"{}\"", pin.digest()));
            digested = true;
        } else {
            out.push(line.to_string());
        }
    }
    if section == "[connector]" {
        close(&mut out, &mut named, &mut digested);
    }
    if !named {
        bail!("the file has no [connector] table to pin a component in");
    }
    Ok(out.join("\n") + "\n")
}

/// The keys of the `[connector]` table in `text`.
fn connector_keys(text: &str) -> impl Iterator<Item = &str> {
    let mut section = "";
    text.lines().filter_map(move |line| {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            section = trimmed.split('#').next().unwrap_or("").trim_end();
            return None;
        }
        (section == "[connector]")
            .then(|| trimmed.split('=').next().unwrap_or("").trim())
            .filter(|k| !k.is_empty() && !k.starts_with('#'))
    })
}

/// Writes `text` to `path` through a new file renamed into place, so a crash leaves the old
/// text or the new one, never half a file.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("toml.promote");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_connector_pin_only() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("h.toml");
        std::fs::write(
            &cfg,
            "# keep me\n[connector]\nname = \"a\"\ncomponent = \"old.wasm\"  # pinned\ndigest = \"sha256:00\"\n\n[upstreams.api]\ncomponent = \"not this\"\n",
        )
        .unwrap();
        rewrite_pin(&cfg, Path::new("/new/c.wasm"), "sha256:11").unwrap();
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.contains("# keep me\n[connector]\nname = \"a\"\ncomponent = \"/new/c.wasm\"\ndigest = \"sha256:11\"\n"), "{text}");
        assert!(text.contains("component = \"not this\""), "{text}");
        std::fs::write(&cfg, "[connector]\noci = \"r/x:1\"\n").unwrap();
        assert!(rewrite_pin(&cfg, Path::new("/c.wasm"), "sha256:1").is_err());
    }

    #[test]
    fn a_builtin_pin_or_none_becomes_a_component_line() {
        let t = rewritten_text(
            "[connector]\nname = \"g\"\nbuiltin = \"gong\"\n[glean]\nx = 1\n",
            "/c.wasm",
            "sha256:1",
        )
        .unwrap();
        assert_eq!(
            t,
            "[connector]\nname = \"g\"\ncomponent = \"/c.wasm\"\n[glean]\nx = 1\n"
        );
        let t = rewritten_text(
            "[connector]\nname = \"c\"\n\n[glean]\n",
            "/c.wasm",
            "sha256:1",
        )
        .unwrap();
        assert_eq!(
            t,
            "[connector]\nname = \"c\"\n\ncomponent = \"/c.wasm\"\n[glean]\n"
        );
        let t = rewritten_text("[connector]\nname = \"c\"\n", "/c.wasm", "sha256:1").unwrap();
        assert_eq!(t, "[connector]\nname = \"c\"\ncomponent = \"/c.wasm\"\n");
        assert!(rewritten_text("[glean]\n", "/c.wasm", "sha256:1").is_err());
    }

    #[test]
    fn an_oci_pin_moves_with_its_digest_from_any_pin() {
        let pin = Pin::Oci {
            reference: "r.example/c:2",
            digest: "sha256:22",
        };
        let t = rewritten("[connector]\nname = \"a\"\noci = \"r.example/c:1\"  # old\ndigest = \"sha256:11\"\noci_plain_http = true\n[glean]\n", pin).unwrap();
        assert_eq!(
            t,
            "[connector]\nname = \"a\"\noci = \"r.example/c:2\"\ndigest = \"sha256:22\"\noci_plain_http = true\n[glean]\n"
        );
        let t = rewritten(
            "[connector]\nname = \"a\"\ncomponent = \"/x.wasm\"\n[glean]\n",
            pin,
        )
        .unwrap();
        assert_eq!(
            t,
            "[connector]\nname = \"a\"\noci = \"r.example/c:2\"\ndigest = \"sha256:22\"\n[glean]\n"
        );
        let t = rewritten("[connector]\nname = \"a\"\n", pin).unwrap();
        assert_eq!(
            t,
            "[connector]\nname = \"a\"\noci = \"r.example/c:2\"\ndigest = \"sha256:22\"\n"
        );
        let evil = Pin::Oci {
            reference: "r\"\n[glean]",
            digest: "sha256:1",
        };
        assert!(rewritten("[connector]\n", evil).is_err());
    }
}
