//! Where a secret comes from: an environment variable (`{ env = "CLARI_API_KEY" }`) or a file
//! (`{ file = "/run/secrets/clari-key" }`, as Kubernetes and Docker mount secrets). A file is
//! untrusted input: a regular file (a FIFO or a device is refused without blocking), at most
//! [`MAX_SECRET_BYTES`], UTF-8, one trailing newline dropped. Secrets are resolved again before
//! every crawl ([`crate::config::Config::refresh_secrets`]), so a rotated file is used without a
//! restart. Errors name the setting and the variable or path, never a value.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::bail;
use egress::Secret;
use serde::Deserialize;

/// A secret file larger than this is refused (keys and tokens are a few hundred bytes).
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// The form in a configuration file: exactly one of `env` and `file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

/// A validated source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFrom {
    Env(String),
    /// An absolute path (relative ones are taken from the configuration's directory).
    File(PathBuf),
}

impl SecretFrom {
    /// Validates `source` for `setting` (e.g. "[upstreams.clari.credentials] `X-Api-Key`").
    pub fn parse(source: &SecretSource, setting: &str, base_dir: &Path) -> anyhow::Result<Self> {
        match (&source.env, &source.file) {
            (Some(e), None) if !e.is_empty() => Ok(SecretFrom::Env(e.clone())),
            (None, Some(f)) if !f.as_os_str().is_empty() => Ok(SecretFrom::File(base_dir.join(f))),
            (Some(_), Some(_)) => {
                bail!("{setting} names both `env` and `file`; keep the one the secret is in")
            }
            _ => bail!(
                "{setting} needs `env = \"VARIABLE\"` or `file = \"/run/secrets/NAME\"`, naming where the secret is"
            ),
        }
    }

    /// What isolates tenants: two tenants may not share one.
    pub fn key(&self) -> String {
        match self {
            SecretFrom::Env(e) => format!("the environment variable `{e}`"),
            SecretFrom::File(p) => format!("the file {}", p.display()),
        }
    }

    /// Reads the secret now.
    pub fn resolve(
        &self,
        setting: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Secret> {
        match self {
            SecretFrom::Env(var) => env(var)
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{setting} comes from the environment variable `{var}`, which is not set; export it before running"
                    )
                }),
            SecretFrom::File(path) => read_secret_file(path)
                .map(Secret::new)
                .map_err(|why| anyhow::anyhow!("{setting} comes from the file {}, which {why}", path.display())),
        }
    }
}

/// The secret in `path`, or why it cannot be used (a phrase: "cannot be read: …").
fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot be opened: {e}; mount or create it, readable by this user"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err(
            "is not a regular file; point the setting at the file holding the secret".into(),
        );
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "is over {} KiB; a secret file holds only the secret",
            MAX_SECRET_BYTES / 1024
        ));
    }
    let mut text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err("is empty; write the secret into it".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &Path) -> SecretFrom {
        SecretFrom::File(p.to_path_buf())
    }

    const SETTING: &str = "[glean] token_file";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_file_secret_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "s3cret-value\r\n").unwrap();
        assert_eq!(
            file(&p).resolve(SETTING, &no_env).unwrap().expose(),
            "s3cret-value"
        );
        std::fs::write(&p, "two\n\n").unwrap();
        assert_eq!(
            file(&p).resolve(SETTING, &no_env).unwrap().expose(),
            "two\n"
        );
    }

    #[test]
    fn what_is_not_a_usable_file_is_refused_naming_the_setting_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = file(&missing)
            .resolve(SETTING, &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(SETTING) && e.contains("missing") && e.contains("cannot be opened"),
            "{e}"
        );
        let e = file(dir.path())
            .resolve(SETTING, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let e = file(&fifo)
            .resolve(SETTING, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "a FIFO blocked"
        );
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(70_000)).unwrap();
        let e = file(&big)
            .resolve(SETTING, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("over 64 KiB") && !e.contains("xxxx"), "{e}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(
            file(&empty)
                .resolve(SETTING, &no_env)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn exactly_one_source() {
        let base = Path::new("/etc/harness");
        let both = SecretSource {
            env: Some("A".into()),
            file: Some("k".into()),
        };
        assert!(
            SecretFrom::parse(&both, SETTING, base)
                .unwrap_err()
                .to_string()
                .contains("both")
        );
        let none = SecretSource {
            env: None,
            file: None,
        };
        assert!(SecretFrom::parse(&none, SETTING, base).is_err());
        let rel = SecretSource {
            env: None,
            file: Some("keys/k".into()),
        };
        assert_eq!(
            SecretFrom::parse(&rel, SETTING, base).unwrap(),
            SecretFrom::File("/etc/harness/keys/k".into())
        );
    }
}
