//! Promotion: the configuration's pin rewritten to the candidate, in place, keeping every other
//! line (comments included). Only a file pin is rewritten; an OCI pin is the registry's to move.

use std::path::Path;

use anyhow::{Context, bail};

/// Rewrites `[connector] component` in the file at `config_path` to `candidate`, and its
/// `digest` (when the file pins one) to `digest`. Written through a new file renamed into
/// place, so a crash leaves the old pin or the new one, never half a file.
pub fn rewrite_pin(config_path: &Path, candidate: &Path, digest: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let path = candidate
        .to_str()
        .context("the candidate's path is not UTF-8")?;
    if path.contains(['"', '\\', '\n']) {
        bail!("the candidate's path {path:?} holds a quote, backslash or newline; move it");
    }
    let mut section = String::new();
    let mut rewritten = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            section = trimmed.trim_end().to_string();
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        if section == "[connector]" && key == "oci" {
            bail!(
                "[connector] pins an OCI artifact: push the candidate and change `oci` and `digest` (promotion rewrites file pins only)"
            );
        }
        if section == "[connector]" && key == "component" {
            out.push(format!("component = \"{path}\""));
            rewritten = true;
        } else if section == "[connector]" && key == "digest" {
            out.push(format!("digest = \"{digest}\""));
        } else {
            out.push(line.to_string());
        }
    }
    if !rewritten {
        bail!(
            "{} has no `component = ...` line under [connector] to rewrite",
            config_path.display()
        );
    }
    let tmp = config_path.with_extension("toml.promote");
    std::fs::write(&tmp, out.join("\n") + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, config_path)
        .with_context(|| format!("replacing {}", config_path.display()))
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
}
