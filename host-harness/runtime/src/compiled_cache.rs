//! The on-disk cache of compiled components. Its files are loaded as native code, so the
//! directory is created private (0700) and checked before anything is loaded from it: owned by
//! this user and writable by nobody else. Entries of other engine builds, and all but the
//! newest few, are pruned.

use std::path::Path;

/// Entries kept for the current engine.
const KEEP: usize = 32;

/// Creates the directory private, or checks an existing one; an error says why it is unsafe.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("could not inspect {}: {e}", dir.display()))?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory (a symlink?)", dir.display()));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc_geteuid() };
        if meta.uid() != me {
            return Err(format!(
                "{} is owned by uid {}, not by this user ({me}); remove it",
                dir.display(),
                meta.uid()
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{} is open to other users (mode {:o}); run `chmod 700 {}`",
                dir.display(),
                meta.permissions().mode() & 0o777,
                dir.display()
            ));
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    Ok(())
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Writes an entry atomically (temp file, then rename).
pub fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Removes entries of other engine builds and all but the newest [`KEEP`] of this one.
pub fn prune(dir: &Path, engine_hash: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut current = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".cwasm") || path == keep {
            continue;
        }
        if !name.ends_with(&format!("-{engine_hash}.cwasm")) {
            std::fs::remove_file(&path).ok();
            continue;
        }
        let modified = e.metadata().and_then(|m| m.modified()).ok();
        current.push((modified, path));
    }
    current.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, path) in current.into_iter().skip(KEEP.saturating_sub(1)) {
        std::fs::remove_file(path).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn the_directory_is_private_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("cc-test-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let cache = dir.join("cache");
        prepare_dir(&cache).unwrap();
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dir(&cache).unwrap_err();
        assert!(e.contains("chmod 700"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn prune_drops_other_engines_and_old_entries() {
        let dir = std::env::temp_dir().join(format!("cc-prune-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("aaa-oldengine.cwasm"), b"x").unwrap();
        for i in 0..40 {
            std::fs::write(dir.join(format!("{i:03}-eng.cwasm")), b"x").unwrap();
        }
        let keep = dir.join("keep-eng.cwasm");
        std::fs::write(&keep, b"x").unwrap();
        prune(&dir, "eng", &keep);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), KEEP, "{left:?}");
        assert!(!dir.join("aaa-oldengine.cwasm").exists());
        assert!(keep.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
