//! Durable crawl state for one connector instance in an embedded SQLite database
//! (`<name>.state.sqlite`), behind the engine's [`StateStore`]. Each checkpoint is one
//! transaction that writes only what changed: the acknowledged documents, the deletions, the
//! page's listed ids, failures, and the small meta row. Lookups are by id; nothing loads the
//! whole index into memory. The weekly budget is written request by request by a
//! [`BudgetWriter`] on its own connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use crawl_engine::{Checkpoint, DocRecord, FailureRecord, StateMeta, StateStore};
use rusqlite::OptionalExtension;

mod lock;

pub use budget_period::{BudgetUsage, week_start};
pub use lock::StateLock;

const STATE_VERSION: u32 = 3;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS listed (id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS documents (
        id TEXT PRIMARY KEY, object_type TEXT NOT NULL, hash TEXT NOT NULL, indexed_at INTEGER NOT NULL,
        fingerprint TEXT, fetched_because TEXT);
    CREATE TABLE IF NOT EXISTS held_deletions (id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS failures (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL);
";

fn corrupt(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "the state database {} is unreadable ({e}); move it away to start over with a full crawl",
        path.display()
    )
}

/// The state of one instance in SQLite.
pub struct SqliteStore {
    path: PathBuf,
    /// Shared with the state's [`BudgetWriter`] ([`BudgetWriter::sharing`]): one connection
    /// a crawl instead of two (opening one, with its WAL index mapping, was a fifth of an
    /// unchanged crawl's CPU).
    conn: Arc<Mutex<rusqlite::Connection>>,
    meta: StateMeta,
    /// The weekly budget as of opening (the [`BudgetWriter`] keeps it current on disk).
    pub budget: BudgetUsage,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the state of instance `name` under `dir`.
    pub fn open(dir: &Path, name: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the state directory {}", dir.display()))?;
        let path = dir.join(format!("{name}.state.sqlite"));
        let conn = rusqlite::Connection::open(&path).map_err(|e| corrupt(&path, e))?;
        // WAL with `synchronous = NORMAL`: a commit is not fsynced (checkpoints of the WAL
        // are), so a killed process loses nothing and only a power cut can roll back the last
        // few checkpoints. That is safe here: the state only ever lags the index (a checkpoint
        // follows the index's acknowledgement), and replaying a lost checkpoint re-sends
        // upserts and deletions, which are idempotent. It keeps a checkpoint's cost flat as
        // the index grows (BENCHMARKS.md).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(|e| corrupt(&path, e))?;
        no_checkpoint_on_close(&conn).map_err(|e| corrupt(&path, e))?;
        let stored = meta_get::<u32>(&conn, "version").ok().flatten();
        // The schema statements only for a new database or one to migrate: parsing them on
        // every open was a visible share of an unchanged crawl's CPU (BENCHMARKS.md, density).
        if stored != Some(STATE_VERSION) {
            conn.execute_batch(SCHEMA).map_err(|e| corrupt(&path, e))?;
        }
        let mut version = meta_get::<u32>(&conn, "version")
            .map_err(|e| corrupt(&path, e))?
            .unwrap_or(STATE_VERSION);
        if version == 1 {
            migrate_from_1(&conn).map_err(|e| corrupt(&path, e))?;
            version = 2;
        }
        if version == 2 {
            migrate_from_2(&conn).map_err(|e| corrupt(&path, e))?;
            version = STATE_VERSION;
        }
        if version != STATE_VERSION {
            anyhow::bail!(
                "the state database {} has version {version}, this harness reads version {STATE_VERSION}; \
                 move it away to start over with a full crawl",
                path.display()
            );
        }
        let meta = meta_get::<StateMeta>(&conn, "state")
            .map_err(|e| corrupt(&path, e))?
            .unwrap_or_default();
        let budget = meta_get::<BudgetUsage>(&conn, "budget")
            .map_err(|e| corrupt(&path, e))?
            .unwrap_or_default();
        Ok(SqliteStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
            meta,
            budget,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the write-ahead log into the database file (SQLite also does this on its own
    /// every 1,000 pages).
    pub fn settle(&self) -> anyhow::Result<()> {
        self.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .with_context(|| format!("checkpointing {}", self.path.display()))
    }

    /// The weekly budget as written now (not as of opening).
    pub fn current_budget(&self) -> anyhow::Result<BudgetUsage> {
        Ok(meta_get(&self.conn(), "budget")?.unwrap_or_default())
    }
}

/// Version 1 kept the meta in separate keys; version 2 keeps them in one `state` row. The
/// tables are the same.
/// The write-ahead log is not folded into the database when a connection closes: a crawl
/// opens and closes its state every time, and that checkpoint (with its fsync and the log's
/// deletion) was a tenth of an unchanged crawl's CPU. SQLite still checkpoints on its own every
/// 1,000 pages, and [`SqliteStore::settle`] does on demand.
fn no_checkpoint_on_close(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map(|_| ())
}

fn migrate_from_1(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    let meta = StateMeta {
        incremental_cursor: meta_get(conn, "incremental_cursor")?,
        full_in_progress: meta_get(conn, "full_in_progress")?,
        last_full: meta_get(conn, "last_full")?,
        last_incremental: meta_get(conn, "last_incremental")?,
        recent_deletions: meta_get(conn, "recent_deletions")?.unwrap_or_default(),
        full_crawls: 0,
        last_change_at: None,
        users_hash: None,
        datasource_hash: None,
        users_listed_at: None,
    };
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch("ALTER TABLE documents ADD COLUMN fingerprint TEXT;")?;
    meta_put(&tx, "state", &meta)?;
    meta_put(&tx, "version", &2u32)?;
    tx.commit()?;
    Ok(())
}

/// Version 3 keeps why each document was last fetched.
fn migrate_from_2(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let has: bool = tx
        .prepare("SELECT 1 FROM pragma_table_info('documents') WHERE name = 'fetched_because'")?
        .exists([])?;
    if !has {
        tx.execute_batch("ALTER TABLE documents ADD COLUMN fetched_because TEXT;")?;
    }
    meta_put(&tx, "version", &STATE_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn meta_get<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    key: &str,
) -> anyhow::Result<Option<T>> {
    let raw: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    Ok(match raw {
        Some(text) => Some(serde_json::from_str(&text).with_context(|| format!("meta `{key}`"))?),
        None => None,
    })
}

fn meta_put(
    conn: &rusqlite::Connection,
    key: &str,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, serde_json::to_string(value)?),
    )?;
    Ok(())
}

fn doc_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, DocRecord)> {
    Ok((
        r.get(0)?,
        DocRecord {
            object_type: r.get(1)?,
            hash: r.get(2)?,
            indexed_at: r.get(3)?,
            fingerprint: r.get(4)?,
            fetched_because: r.get(5)?,
        },
    ))
}

impl StateStore for SqliteStore {
    fn meta(&self) -> &StateMeta {
        &self.meta
    }

    fn document(&self, id: &str) -> anyhow::Result<Option<DocRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, object_type, hash, indexed_at, fingerprint, fetched_because FROM documents WHERE id = ?1",
        )?;
        Ok(stmt.query_row([id], doc_row).optional()?.map(|(_, r)| r))
    }

    fn document_count(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn listed_count(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM listed", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn unlisted_documents(&self) -> anyhow::Result<Vec<(String, DocRecord)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, object_type, hash, indexed_at, fingerprint, fetched_because FROM documents
             WHERE id NOT IN (SELECT id FROM listed) ORDER BY id",
        )?;
        let rows = stmt.query_map([], doc_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn held_deletions(&self) -> anyhow::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM held_deletions ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn failures(&self, limit: usize) -> anyhow::Result<(u64, Vec<(String, FailureRecord)>)> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM failures", [], |r| r.get(0))?;
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, kind, message, at FROM failures ORDER BY id LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                FailureRecord {
                    kind: r.get(1)?,
                    message: r.get(2)?,
                    at: r.get(3)?,
                },
            ))
        })?;
        Ok((n as u64, rows.collect::<Result<_, _>>()?))
    }

    fn commit(&mut self, cp: Checkpoint) -> anyhow::Result<()> {
        {
            let mut conn = self.conn();
            let tx = conn
                .transaction()
                .with_context(|| format!("writing {}", self.path.display()))?;
            write_checkpoint(&tx, &cp)
                .and_then(|()| Ok(tx.commit()?))
                .with_context(|| format!("writing {}", self.path.display()))?;
        }
        self.meta = cp.meta;
        Ok(())
    }
}

/// One checkpoint's rows: what changed and nothing else.
fn write_checkpoint(tx: &rusqlite::Transaction<'_>, cp: &Checkpoint) -> anyhow::Result<()> {
    meta_put(tx, "version", &STATE_VERSION)?;
    meta_put(tx, "state", &cp.meta)?;
    {
        let mut up = tx.prepare_cached(
            "INSERT INTO documents (id, object_type, hash, indexed_at, fingerprint, fetched_because)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET object_type = excluded.object_type, hash = excluded.hash,
                 indexed_at = excluded.indexed_at, fingerprint = excluded.fingerprint,
                 fetched_because = excluded.fetched_because",
        )?;
        for (id, rec) in &cp.upserts {
            up.execute((
                id,
                &rec.object_type,
                &rec.hash,
                rec.indexed_at,
                &rec.fingerprint,
                &rec.fetched_because,
            ))?;
        }
        let mut del = tx.prepare_cached("DELETE FROM documents WHERE id = ?1")?;
        for id in &cp.deletes {
            del.execute([id])?;
        }
    }
    if cp.reset_listed {
        tx.execute("DELETE FROM listed", [])?;
    }
    {
        let mut ins = tx.prepare_cached("INSERT OR IGNORE INTO listed (id) VALUES (?1)")?;
        for id in &cp.listed {
            ins.execute([id])?;
        }
    }
    {
        let mut up = tx.prepare_cached(
            "INSERT INTO failures (id, kind, message, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, message = excluded.message, at = excluded.at",
        )?;
        for (id, f) in &cp.failures {
            up.execute((id, &f.kind, &f.message, f.at))?;
        }
        let mut del = tx.prepare_cached("DELETE FROM failures WHERE id = ?1")?;
        for id in &cp.cleared_failures {
            del.execute([id])?;
        }
    }
    if let Some(held) = &cp.held {
        tx.execute("DELETE FROM held_deletions", [])?;
        let mut ins = tx.prepare_cached("INSERT OR IGNORE INTO held_deletions (id) VALUES (?1)")?;
        for id in held {
            ins.execute([id])?;
        }
    }
    Ok(())
}

/// Persists the weekly budget request by request, on the store's connection
/// ([`BudgetWriter::sharing`], what a crawl uses) or on one of its own ([`BudgetWriter::open`]).
/// `synchronous = NORMAL`: a killed process loses nothing; only a power cut can lose the last
/// few counts.
#[derive(Debug)]
pub struct BudgetWriter {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl BudgetWriter {
    /// A writer on a connection of its own to `store`'s database.
    pub fn open(store: &SqliteStore) -> anyhow::Result<Self> {
        let path = store.path();
        let conn = rusqlite::Connection::open(path).map_err(|e| corrupt(path, e))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| corrupt(path, e))?;
        no_checkpoint_on_close(&conn).map_err(|e| corrupt(path, e))?;
        Ok(BudgetWriter {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// A writer on `store`'s own connection: a count waits for a checkpoint being written (a
    /// few milliseconds) instead of opening a second connection at every crawl.
    pub fn sharing(store: &SqliteStore) -> Self {
        BudgetWriter {
            conn: store.conn.clone(),
        }
    }

    pub fn write(&self, usage: &BudgetUsage) -> anyhow::Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        meta_put(&conn, "budget", usage)
    }
}

impl budget_period::BudgetLedger for BudgetWriter {
    fn record(&self, usage: &BudgetUsage) -> Result<(), String> {
        self.write(usage).map_err(|e| format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::{CrawlOutcome, FullPosition};

    fn doc(h: &str) -> DocRecord {
        DocRecord {
            object_type: "call".into(),
            hash: h.into(),
            indexed_at: 1,
            fingerprint: Some("fp".into()),
            fetched_because: Some("it was new to the index".into()),
        }
    }

    #[test]
    fn checkpoints_round_trip_and_write_only_changes() {
        let dir = std::env::temp_dir().join(format!("store-test-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let mut s = SqliteStore::open(&dir, "x").unwrap();
        let meta = StateMeta {
            incremental_cursor: Some("c".into()),
            full_in_progress: Some(FullPosition {
                cursor: Some("page-2".into()),
                started_at: 5,
            }),
            last_full: Some(CrawlOutcome {
                mode: "full".into(),
                started_at: 1,
                finished_at: 2,
                completed: true,
                indexed: 3,
                deleted: 0,
                failed: 0,
                error: None,
                requests: 0,
            }),
            last_incremental: None,
            recent_deletions: vec![(10, 2)],
            full_crawls: 3,
            last_change_at: None,
            users_hash: None,
            datasource_hash: None,
            users_listed_at: None,
        };
        s.commit(Checkpoint {
            upserts: vec![("a".into(), doc("h1")), ("b".into(), doc("h2"))],
            listed: vec!["a".into(), "z".into()],
            failures: vec![(
                "f".into(),
                FailureRecord {
                    kind: "system".into(),
                    message: "bad".into(),
                    at: 3,
                },
            )],
            held: Some(vec!["gone".into()]),
            meta: meta.clone(),
            ..Checkpoint::default()
        })
        .unwrap();
        drop(s);
        let mut s = SqliteStore::open(&dir, "x").unwrap();
        assert_eq!(s.meta(), &meta);
        assert_eq!(s.document("a").unwrap(), Some(doc("h1")));
        assert_eq!(s.document_count().unwrap(), 2);
        assert_eq!(s.listed_count().unwrap(), 2);
        assert_eq!(
            s.unlisted_documents().unwrap(),
            vec![("b".into(), doc("h2"))]
        );
        assert_eq!(s.held_deletions().unwrap(), ["gone"]);
        assert_eq!(s.failures(10).unwrap().0, 1);

        s.commit(Checkpoint {
            deletes: vec!["a".into()],
            reset_listed: true,
            cleared_failures: vec!["f".into()],
            held: Some(vec![]),
            meta: StateMeta::default(),
            ..Checkpoint::default()
        })
        .unwrap();
        drop(s);
        let s = SqliteStore::open(&dir, "x").unwrap();
        assert_eq!(s.document("a").unwrap(), None);
        assert_eq!(s.listed_count().unwrap(), 0);
        assert!(s.held_deletions().unwrap().is_empty());
        assert_eq!(s.failures(10).unwrap().0, 0);
        assert_eq!(s.meta(), &StateMeta::default());
        let path = s.path().to_path_buf();
        drop(s);

        for suffix in ["-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
        std::fs::write(
            &path,
            b"this is not a database, it is a text file of some length",
        )
        .unwrap();
        let e = SqliteStore::open(&dir, "x").unwrap_err();
        assert!(format!("{e:#}").contains("unreadable"), "{e:#}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_version_1_database_is_migrated_without_loss() {
        let dir = std::env::temp_dir().join(format!("store-v1-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.state.sqlite");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            // Version 1's tables: documents had no fingerprint.
            c.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE listed (id TEXT PRIMARY KEY);
                 CREATE TABLE documents (id TEXT PRIMARY KEY, object_type TEXT NOT NULL,
                     hash TEXT NOT NULL, indexed_at INTEGER NOT NULL);
                 CREATE TABLE held_deletions (id TEXT PRIMARY KEY);
                 CREATE TABLE failures (id TEXT PRIMARY KEY, kind TEXT NOT NULL,
                     message TEXT NOT NULL, at INTEGER NOT NULL);",
            )
            .unwrap();
            for (k, v) in [
                ("version", "1"),
                ("incremental_cursor", "\"cur\""),
                ("full_in_progress", r#"{"cursor":"p3","started_at":9}"#),
                ("budget", r#"{"week_start":1795305600,"requests":7}"#),
            ] {
                c.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", (k, v))
                    .unwrap();
            }
            c.execute("INSERT INTO documents VALUES ('a', 'call', 'h', 1)", [])
                .unwrap();
        }
        let s = SqliteStore::open(&dir, "old").unwrap();
        assert_eq!(s.meta().incremental_cursor.as_deref(), Some("cur"));
        assert_eq!(
            s.meta()
                .full_in_progress
                .as_ref()
                .unwrap()
                .cursor
                .as_deref(),
            Some("p3")
        );
        assert_eq!(s.budget.requests, 7);
        assert_eq!(s.document_count().unwrap(), 1);
        assert_eq!(s.document("a").unwrap().unwrap().fetched_because, None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_version_2_database_gains_the_fetch_reason_without_loss() {
        let dir = std::env::temp_dir().join(format!("store-v2-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.state.sqlite");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            // Version 2's documents had a fingerprint and no reason.
            c.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE documents (id TEXT PRIMARY KEY, object_type TEXT NOT NULL,
                     hash TEXT NOT NULL, indexed_at INTEGER NOT NULL, fingerprint TEXT);
                 INSERT INTO meta VALUES ('version', '2');
                 INSERT INTO documents VALUES ('a', 'call', 'h', 1, 'fp');",
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&dir, "old").unwrap();
        let a = s.document("a").unwrap().unwrap();
        assert_eq!(
            (a.fingerprint.as_deref(), a.fetched_because),
            (Some("fp"), None)
        );
        let mut cp = Checkpoint::default();
        cp.upserts.push(("b".into(), doc("h2")));
        s.commit(cp).unwrap();
        drop(s);
        let s = SqliteStore::open(&dir, "old").unwrap();
        assert_eq!(
            s.document("b").unwrap().unwrap().fetched_because.as_deref(),
            Some("it was new to the index")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_budget_is_written_request_by_request_and_read_back() {
        let dir = std::env::temp_dir().join(format!("store-budget-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let store = SqliteStore::open(&dir, "b").unwrap();
        let w = BudgetWriter::open(&store).unwrap();
        let u = BudgetUsage {
            week_start: 1_795_305_600,
            requests: 42,
            last_sent_ms: 1_795_611_600_123,
        };
        w.write(&u).unwrap();
        assert_eq!(store.current_budget().unwrap(), u);
        drop(store);
        assert_eq!(SqliteStore::open(&dir, "b").unwrap().budget, u);
        std::fs::remove_dir_all(&dir).ok();
    }
}
