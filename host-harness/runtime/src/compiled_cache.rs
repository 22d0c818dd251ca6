//! The on-disk cache of compiled components. Its files are loaded as native code, so the
//! directory is created private (0700) and checked before anything is loaded from it: owned by
//! this user and writable by nobody else. The check and every read and write go through one
//! directory handle ([`Dir`]): a directory swapped for a symlink after the check redirects
//! nothing. Writes use a temporary name unique to the process and the call. Entries of other
//! engine builds, and all but the newest few, are pruned.

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
        let me = unsafe { libc::geteuid() };
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

/// The cache directory, opened once and checked by handle: entries are read and written
/// relative to it (`openat`, `renameat`), never by a path a symlink could redirect.
#[cfg(unix)]
pub struct Dir {
    fd: std::os::fd::OwnedFd,
}

#[cfg(unix)]
impl Dir {
    /// Opens `dir` (not following a symlink), checks on the handle that this user owns it and
    /// nobody else may write or read it.
    pub fn open(dir: &Path) -> Result<Dir, String> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dir)
            .map_err(|e| format!("could not open {} as a directory: {e}", dir.display()))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("could not inspect {}: {e}", dir.display()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{} is not private to this user (owner {}, mode {:o}); remove it",
                dir.display(),
                meta.uid(),
                meta.permissions().mode() & 0o777
            ));
        }
        Ok(Dir { fd: file.into() })
    }

    fn c_name(name: &str) -> Option<std::ffi::CString> {
        (!name.contains('/')).then(|| std::ffi::CString::new(name).ok())?
    }

    /// The entry `name`, if it is a regular file of this user's, at most `max` bytes.
    pub fn read(&self, name: &str, max: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::os::unix::fs::MetadataExt;
        let c = Self::c_name(name)?;
        // SAFETY: a valid directory descriptor and C string; the result is checked.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` was just opened and is owned here alone.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        let meta = file.metadata().ok()?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_file() || meta.uid() != me || meta.mode() & 0o022 != 0 || meta.len() > max {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(max).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Writes entry `name` atomically: a temporary name unique to this process and call,
    /// created exclusively, then renamed over the entry.
    pub fn store(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad entry name");
        let tmp = format!(
            ".{name}.tmp{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (c_tmp, c_name) = (
            Self::c_name(&tmp).ok_or_else(bad)?,
            Self::c_name(name).ok_or_else(bad)?,
        );
        let dir = self.fd.as_raw_fd();
        // SAFETY: a valid directory descriptor and C string; the result is checked.
        let fd = unsafe {
            libc::openat(
                dir,
                c_tmp.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned here alone.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        let written = file.write_all(bytes);
        drop(file);
        // SAFETY: valid descriptors and C strings; the results are checked.
        let renamed = written.and_then(|()| {
            match unsafe { libc::renameat(dir, c_tmp.as_ptr(), dir, c_name.as_ptr()) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
        if renamed.is_err() {
            // SAFETY: as above.
            unsafe { libc::unlinkat(dir, c_tmp.as_ptr(), 0) };
        }
        renamed
    }
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

#[cfg(all(test, unix))]
mod by_handle {
    use super::*;

    #[test]
    fn entries_are_read_by_handle_and_temp_names_never_collide() {
        let root = std::env::temp_dir().join(format!("cc-handle-{}", std::process::id()));
        std::fs::remove_dir_all(&root).ok();
        let cache = root.join("cache");
        prepare_dir(&cache).unwrap();
        let dir = Dir::open(&cache).unwrap();
        // Concurrent writers of different entries, and of the same one, never clobber.
        std::thread::scope(|s| {
            for i in 0..8 {
                let dir = &dir;
                s.spawn(move || {
                    dir.store(&format!("e{i}.cwasm"), &[i as u8; 1000]).unwrap();
                    dir.store("same.cwasm", &[7; 500]).unwrap();
                });
            }
        });
        for i in 0..8 {
            assert_eq!(
                dir.read(&format!("e{i}.cwasm"), 1 << 20).unwrap(),
                vec![i as u8; 1000]
            );
        }
        assert_eq!(dir.read("same.cwasm", 1 << 20).unwrap(), vec![7; 500]);
        // The directory swapped for a symlink to an attacker's directory after it was opened:
        // reads still go to the checked directory, and a planted symlink entry is not followed.
        let planted = root.join("planted");
        std::fs::create_dir(&planted).unwrap();
        std::fs::write(planted.join("e0.cwasm"), b"evil").unwrap();
        std::fs::rename(&cache, root.join("moved")).unwrap();
        std::os::unix::fs::symlink(&planted, &cache).unwrap();
        assert_eq!(dir.read("e0.cwasm", 1 << 20).unwrap(), vec![0u8; 1000]);
        assert!(
            Dir::open(&cache).is_err(),
            "a symlinked cache directory is refused"
        );
        std::os::unix::fs::symlink(planted.join("e0.cwasm"), root.join("moved/link.cwasm"))
            .unwrap();
        assert!(dir.read("link.cwasm", 1 << 20).is_none());
        assert!(dir.read("../planted/e0.cwasm", 1 << 20).is_none());
        std::fs::remove_dir_all(&root).ok();
    }
}
