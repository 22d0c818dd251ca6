//! One writer per state on one machine: an exclusive `flock` on `<name>.lock` beside the state
//! database, held for as long as a process may write that state. A second process refuses at
//! once, naming the process that holds it (its pid and command, which the holder writes into
//! the lock file). The kernel releases the lock when the holder exits, however it exits (a
//! SIGKILL included): no timeout, no stale lock to clean up.

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The most of a holder's note that is read back (the note is one short line).
const MAX_NOTE: u64 = 512;

/// The lock on one instance's state; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock on the state of instance `name` under `dir`, or refuses at once, naming
    /// the process that holds it.
    pub fn acquire(dir: &Path, name: &str) -> anyhow::Result<StateLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the state directory {}", dir.display()))?;
        let path = dir.join(format!("{name}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("could not open the state lock {}", path.display()))?;
        // SAFETY: flock on a file descriptor this function owns; no memory is involved.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !taken {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err).with_context(|| format!("could not lock {}", path.display()));
            }
            let holder = holder_note(&mut file);
            anyhow::bail!(
                "the state of `{name}` ({}) is in use by another process ({holder}); one process \
                 writes an instance's state at a time: stop that process first, or give this \
                 configuration its own [connector] name or state_dir",
                dir.display()
            );
        }
        write_note(&mut file).with_context(|| format!("could not write {}", path.display()))?;
        Ok(StateLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds the lock, as the holder wrote it (escaped, short).
fn holder_note(file: &mut std::fs::File) -> String {
    let mut note = String::new();
    let _ = file.rewind();
    let _ = file.take(MAX_NOTE).read_to_string(&mut note);
    let note: String = note
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if note.is_empty() {
        "a process that has not said which".into()
    } else {
        note
    }
}

/// Writes this process's pid and command (its first two arguments) into the lock file.
fn write_note(file: &mut std::fs::File) -> std::io::Result<()> {
    let command: Vec<String> = std::env::args()
        .take(2)
        .map(|a| {
            Path::new(&a)
                .file_name()
                .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "pid {}: {}", std::process::id(), command.join(" "))?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_lock_frees_on_drop() {
        let dir = tempfile_dir();
        let first = StateLock::acquire(&dir, "acme").unwrap();
        let e = StateLock::acquire(&dir, "acme").unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains("in use by another process"), "{e}");
        // Another instance's state is not affected.
        let _other = StateLock::acquire(&dir, "globex").unwrap();
        drop(first);
        StateLock::acquire(&dir, "acme").unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "state-lock-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
