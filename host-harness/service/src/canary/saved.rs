//! The last canary of a tenant, kept beside its state (`STATE_DIR/canary/NAME.json`) by
//! `harness canary` and `harness rollout`, and read back by `harness serve`'s admin API
//! (`GET /tenants/NAME/canary`) and console (the tenant's page). The file is read as untrusted
//! input: a regular file (no symlink, FIFO or device), at most [`MAX_BYTES`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::CanaryReport;
use tenant_instance::config::Config;

/// The largest saved report read back (reports list at most a few dozen examples).
pub const MAX_BYTES: u64 = 1024 * 1024;

/// A canary as saved: when, of which candidate, what it found, and whether the pin moved.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedCanary {
    /// Epoch seconds.
    pub finished_at: i64,
    pub candidate: String,
    pub candidate_digest: String,
    /// Where both versions' answers came from: a recording's path, or "live sample".
    pub source: String,
    pub promoted: bool,
    pub report: CanaryReport,
}

/// Where the tenant of `config` keeps its last canary.
pub fn path(config: &Config) -> PathBuf {
    config
        .state_dir
        .join("canary")
        .join(format!("{}.json", config.name))
}

/// Saves `saved` as the tenant's last canary (a new file renamed into place).
pub fn save(config: &Config, saved: &SavedCanary) -> anyhow::Result<PathBuf> {
    let path = path(config);
    let dir = path.parent().context("the canary file has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(saved)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(path)
}

/// The tenant's last canary: `Ok(None)` when none ran, an error when the file is not one.
pub fn load(config: &Config) -> anyhow::Result<Option<SavedCanary>> {
    read(&path(config))
}

fn read(path: &Path) -> anyhow::Result<Option<SavedCanary>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if !meta.file_type().is_file() {
        anyhow::bail!("{} is not a regular file", path.display());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        anyhow::bail!("{} is over {} bytes", path.display(), MAX_BYTES);
    }
    let saved = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a saved canary", path.display()))?;
    Ok(Some(saved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        assert!(read(&p).unwrap().is_none());
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), &p).unwrap();
        assert!(
            read(&p)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, vec![b' '; (MAX_BYTES + 1) as usize]).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("over"));
        std::fs::write(&p, "{}").unwrap();
        assert!(
            read(&p)
                .unwrap_err()
                .to_string()
                .contains("not a saved canary")
        );
    }
}
