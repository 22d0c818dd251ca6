//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` and `pg_ctl` from Debian's
//! `postgresql` package (found under `/usr/lib/postgresql/*/bin`, else on `PATH`), a data
//! directory in the temp dir, loopback only, trust authentication, fsync off. PostgreSQL
//! refuses to run as root, so as root (CI) the server runs as the `postgres` user the package
//! creates (else `nobody`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// A running server; stopped and removed on drop.
pub struct TempPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
}

/// The directory holding `initdb` and `pg_ctl`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return Ok(b);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").is_file())
        .context(
            "PostgreSQL is not installed: install the Debian package `postgresql` (./test.sh does)",
        )
}

/// The uid and gid to run as when this process is root.
fn unprivileged() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    for name in [c"postgres", c"nobody"] {
        // SAFETY: a valid C string; the result is read before any other getpw* call.
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: non-null, points at the static passwd entry.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            return Some((uid, gid));
        }
    }
    None
}

impl TempPostgres {
    /// Starts a server on a free loopback port.
    pub fn start() -> anyhow::Result<TempPostgres> {
        use std::os::unix::fs::PermissionsExt;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("harness-pg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let user = unprivileged();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pg = TempPostgres {
            bin: bin_dir()?,
            dir,
            port,
            user,
        };
        let data = pg.dir.join("data");
        pg.run("initdb", |c| {
            c.arg("-D").arg(&data).args([
                "-U",
                "harness",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]);
        })?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=300",
            pg.dir.display()
        );
        pg.run("pg_ctl", |c| {
            c.arg("-D").arg(&data).arg("-l").arg(pg.dir.join("log"));
            c.args(["-o", &opts, "-w", "start"]);
        })?;
        Ok(pg)
    }

    fn run(&self, program: &str, args: impl FnOnce(&mut Command)) -> anyhow::Result<()> {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(self.bin.join(program));
        args(&mut c);
        c.current_dir(&self.dir);
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        let out = c.output().with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            anyhow::bail!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// The connection string for database `db` (created by [`TempPostgres::database`]).
    pub fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=harness dbname={db}", self.port)
    }

    /// A new, empty database; answers its connection string.
    pub fn database(&self, name: &str) -> anyhow::Result<String> {
        let mut admin = crate::connect(&self.url("postgres"))?;
        admin.batch_execute(&format!("CREATE DATABASE \"{}\"", name.replace('"', "")))?;
        Ok(self.url(name))
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        self.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
        })
        .ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
