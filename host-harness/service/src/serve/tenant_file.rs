//! Reading a tenant file as the untrusted input it is: only a regular file, opened without
//! blocking (a FIFO cannot hang the scheduler), at most [`MAX_TENANT_FILE_BYTES`], and only
//! inside the tenants directory once symlinks are resolved (a Kubernetes ConfigMap mount's
//! `x.toml -> ..data/x.toml` stays inside; `x.toml -> /etc/shadow` does not). Errors name the
//! file and what to do, and never quote its content; [`excerpt`] makes any other message safe
//! to show (one line, escaped, short).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest tenant file read (a configuration is a few kilobytes).
pub const MAX_TENANT_FILE_BYTES: u64 = 256 * 1024;

/// The longest message quoted about a tenant file in the admin API and the console.
pub const MAX_EXCERPT_CHARS: usize = 600;

/// Reads `path`, a tenant file in `dir`.
pub fn read(dir: &Path, path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let real_dir = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("cannot resolve the tenants directory: {e}"))?;
    let real = path.canonicalize().map_err(|e| {
        anyhow::anyhow!(
            "{shown} cannot be resolved ({e}); if it is a symlink, point it at a file that exists"
        )
    })?;
    if !real.starts_with(&real_dir) {
        anyhow::bail!(
            "{shown} resolves to a file outside the tenants directory; tenant files must live in it (symlinks within it, as a ConfigMap mount makes, are fine)"
        );
    }
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&real)
        .map_err(|e| anyhow::anyhow!("cannot open {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        anyhow::bail!("{shown} is not a regular file; a tenant is a TOML file");
    }
    if meta.len() > MAX_TENANT_FILE_BYTES {
        anyhow::bail!(
            "{shown} is {} bytes, over the {MAX_TENANT_FILE_BYTES}-byte limit for a tenant file",
            meta.len()
        );
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_TENANT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_TENANT_FILE_BYTES {
        anyhow::bail!("{shown} grew over the {MAX_TENANT_FILE_BYTES}-byte limit while read");
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{shown} is not UTF-8 text"))
}

/// `message` made safe to show: control characters escaped (so nothing in it can start a new
/// line of a log or a page), and at most [`MAX_EXCERPT_CHARS`] characters.
pub fn excerpt(message: &str) -> String {
    egress::quote::quote_at_most(message, MAX_EXCERPT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let e = read(dir.path(), &fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_symlink_out_of_the_directory_is_refused_without_reading_it() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("shadow");
        std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("x.toml");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let e = read(dir.path(), &link).unwrap_err().to_string();
        assert!(e.contains("outside the tenants directory"), "{e}");
        assert!(!e.contains("secret-hash"), "{e}");
    }

    #[test]
    fn a_configmap_mount_inside_the_directory_is_read() {
        // As Kubernetes mounts a ConfigMap: x.toml -> ..data/x.toml, ..data -> ..2026_12_03.
        let dir = tempfile::tempdir().unwrap();
        let version = dir.path().join("..2026_12_03");
        std::fs::create_dir(&version).unwrap();
        std::fs::write(version.join("x.toml"), "[connector]\n").unwrap();
        std::os::unix::fs::symlink("..2026_12_03", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/x.toml", dir.path().join("x.toml")).unwrap();
        assert_eq!(
            read(dir.path(), &dir.path().join("x.toml")).unwrap(),
            "[connector]\n"
        );
    }

    #[test]
    fn an_oversized_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("x.toml");
        std::fs::write(&big, vec![b'#'; MAX_TENANT_FILE_BYTES as usize + 1]).unwrap();
        let e = read(dir.path(), &big).unwrap_err().to_string();
        assert!(e.contains("over the"), "{e}");
    }

    #[test]
    fn an_excerpt_is_one_short_line() {
        let forged = format!(
            "bad\r\nINFO crawl: full crawl completed\x1b[2J{}",
            "x".repeat(5000)
        );
        let e = excerpt(&forged);
        assert!(!e.chars().any(char::is_control), "{e}");
        assert!(e.starts_with("bad\\r\\nINFO"));
        assert!(e.chars().count() <= MAX_EXCERPT_CHARS + 1);
    }
}
