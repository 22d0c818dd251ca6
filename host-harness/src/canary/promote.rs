//! Promotion: the configuration's pin rewritten to the candidate, in place, keeping every other
//! line (comments included). Only a file pin is rewritten; an OCI pin is the registry's to move.

use std::path::Path;

use anyhow::{Context, bail};

/// Rewrites `[connector] component` in the file at `config_path` to `candidate`, and its
/// `digest` (when the file pins one) to `digest` ([`rewritten_text`], [`write_atomically`]).
pub fn rewrite_pin(config_path: &Path, candidate: &Path, digest: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let path = candidate
        .to_str()
        .context("the candidate's path is not UTF-8")?;
    if path.contains(['"', '\\', '\n']) {
        bail!("the candidate's path {path:?} holds a quote, backslash or newline; move it");
    }
    let out = rewritten_text(&text, path, digest)
        .with_context(|| format!("rewriting the pin of {}", config_path.display()))?;
    write_atomically(config_path, &out)
}

/// `text` with its `[connector]` pin moved to the component file `path` (and its `digest`, when
/// it pins one, to `digest`). A `builtin = ...` line, or no pin at all (the default built-in
/// connector), becomes the `component` line.
pub fn rewritten_text(text: &str, path: &str, digest: &str) -> anyhow::Result<String> {
    let mut section = String::new();
    let mut rewritten = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if section == "[connector]" && !rewritten {
                // Leaving [connector] without a pin line: the pin goes at its end.
                out.push(format!("component = \"{path}\""));
                rewritten = true;
            }
            section = trimmed
                .split('#')
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        if section == "[connector]" && key == "oci" {
            bail!(
                "[connector] pins an OCI artifact: push the candidate and change `oci` and `digest` (promotion rewrites file pins only)"
            );
        }
        if section == "[connector]" && (key == "component" || key == "builtin") {
            out.push(format!("component = \"{path}\""));
            rewritten = true;
        } else if section == "[connector]" && key == "digest" {
            out.push(format!("digest = \"{digest}\""));
        } else {
            out.push(line.to_string());
        }
    }
    if section == "[connector]" && !rewritten {
        out.push(format!("component = \"{path}\""));
        rewritten = true;
    }
    if !rewritten {
        bail!("the file has no [connector] table to pin a component in");
    }
    Ok(out.join("\n") + "\n")
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
}
