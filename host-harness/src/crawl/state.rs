//! Durable crawl state for one connector instance: the incremental cursor, the position of a
//! full crawl in progress (with the ids it has listed so far), what is in the index (id and
//! content hash), held deletions, failures, the API budget and the outcome of the last crawls,
//! in an embedded SQLite database; each checkpoint is one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use crate::egress::budget::{BudgetUsage, week_start};

/// How long the mass-deletion brake remembers deletions.
pub const DELETION_WINDOW_SECS: i64 = 86_400;

const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrawlState {
    pub version: u32,
    /// Where the next incremental crawl starts; set when a listing completes.
    pub incremental_cursor: Option<String>,
    /// A full crawl that has not finished: resumed by the next full crawl.
    pub full_in_progress: Option<FullProgress>,
    /// What the index holds, by item id.
    pub documents: BTreeMap<String, DocRecord>,
    /// Deletions proven but held by the mass-deletion brake.
    pub held_deletions: BTreeSet<String>,
    pub last_full: Option<CrawlOutcome>,
    pub last_incremental: Option<CrawlOutcome>,
    /// Items that could not be indexed, and why; cleared when an item is indexed.
    #[serde(default)]
    pub failures: BTreeMap<String, FailureRecord>,
    /// Requests sent to upstreams in the current budget week, as of opening. Written request
    /// by request by a [`BudgetWriter`] (the egress engine's ledger), never by [`StateStore::save`].
    #[serde(default)]
    pub budget: BudgetUsage,
    /// Deletions applied recently, as (epoch seconds, count): the mass-deletion brake limits
    /// their sum over a rolling window. Entries older than the window are dropped on save.
    #[serde(default)]
    pub recent_deletions: Vec<(i64, u64)>,
}

impl CrawlState {
    /// Deletions applied since `since` (epoch seconds).
    pub fn deletions_since(&self, since: i64) -> u64 {
        self.recent_deletions
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, n)| n)
            .sum()
    }

    /// Counts `n` deletions applied at `at`.
    pub fn record_deletions(&mut self, at: i64, n: u64) {
        match self.recent_deletions.last_mut() {
            Some((last, count)) if *last == at => *count += n,
            _ => self.recent_deletions.push((at, n)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub kind: String,
    pub message: String,
    /// Epoch seconds.
    pub at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FullProgress {
    /// The listing cursor to resume from (`None`: from the start).
    pub cursor: Option<String>,
    /// Every id the listing has returned so far, eligible or not.
    pub listed: BTreeSet<String>,
    pub started_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRecord {
    /// The index object type (needed to delete it).
    pub object_type: String,
    /// SHA-256 of the document as sent.
    pub hash: String,
    /// Epoch seconds.
    pub indexed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlOutcome {
    pub mode: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub completed: bool,
    pub indexed: u64,
    pub deleted: u64,
    pub failed: u64,
    pub error: Option<String>,
}

/// The state of one instance, in an SQLite database (`<name>.state.sqlite`). The crawl engine
/// works on [`StateStore::state`] in memory; [`StateStore::save`] writes what changed since the
/// last save in one transaction, so a checkpoint is all or nothing.
pub struct StateStore {
    path: PathBuf,
    conn: rusqlite::Connection,
    pub state: CrawlState,
    saved: CrawlState,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS listed (id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS documents (
        id TEXT PRIMARY KEY, object_type TEXT NOT NULL, hash TEXT NOT NULL, indexed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS held_deletions (id TEXT PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS failures (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL);
";

/// The part of [`FullProgress`] kept in `meta` (its listed ids have their own table).
#[derive(Serialize, Deserialize)]
struct FullPosition {
    cursor: Option<String>,
    started_at: i64,
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "the state database {} is unreadable ({e}); move it away to start over with a full crawl",
        path.display()
    )
}

impl StateStore {
    /// Opens (or creates) the state of instance `name` under `dir`.
    pub fn open(dir: &Path, name: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the state directory {}", dir.display()))?;
        let path = dir.join(format!("{name}.state.sqlite"));
        let conn = rusqlite::Connection::open(&path).map_err(|e| corrupt(&path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .and_then(|()| conn.execute_batch(SCHEMA))
        .map_err(|e| corrupt(&path, e))?;
        let state = load(&conn).map_err(|e| corrupt(&path, e))?;
        if state.version != STATE_VERSION {
            anyhow::bail!(
                "the state database {} has version {}, this harness reads version {STATE_VERSION}",
                path.display(),
                state.version
            );
        }
        Ok(StateStore {
            path,
            conn,
            saved: state.clone(),
            state,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes what changed since the last save, in one transaction.
    pub fn save(&mut self) -> anyhow::Result<()> {
        let horizon = chrono::Utc::now().timestamp() - DELETION_WINDOW_SECS;
        self.state.recent_deletions.retain(|(at, _)| *at >= horizon);
        let tx = self
            .conn
            .transaction()
            .with_context(|| format!("writing {}", self.path.display()))?;
        write_changes(&tx, &self.saved, &self.state)
            .and_then(|()| tx.commit())
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.saved = self.state.clone();
        Ok(())
    }
}

/// Persists the weekly budget request by request, on its own connection to the state
/// database (WAL: it does not wait for a checkpoint transaction). `synchronous = NORMAL`: a
/// killed process loses nothing; only a power cut can lose the last few counts.
#[derive(Debug)]
pub struct BudgetWriter {
    conn: std::sync::Mutex<rusqlite::Connection>,
}

impl BudgetWriter {
    pub fn open(store: &StateStore) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open(&store.path).map_err(|e| corrupt(&store.path, e))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")
            .map_err(|e| corrupt(&store.path, e))?;
        Ok(BudgetWriter {
            conn: std::sync::Mutex::new(conn),
        })
    }

    pub fn write(&self, usage: &BudgetUsage) -> anyhow::Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('budget', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [serde_json::to_string(usage)?],
        )?;
        Ok(())
    }
}

impl crate::egress::budget::BudgetLedger for BudgetWriter {
    fn record(&self, usage: &BudgetUsage) -> Result<(), String> {
        self.write(usage).map_err(|e| format!("{e:#}"))
    }
}

fn meta_get<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    key: &str,
) -> anyhow::Result<Option<T>> {
    use rusqlite::OptionalExtension;
    let raw: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    Ok(match raw {
        Some(text) => Some(serde_json::from_str(&text).with_context(|| format!("meta `{key}`"))?),
        None => None,
    })
}

fn ids(conn: &rusqlite::Connection, table: &str) -> anyhow::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(&format!("SELECT id FROM {table}"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load(conn: &rusqlite::Connection) -> anyhow::Result<CrawlState> {
    let version = meta_get::<u32>(conn, "version")?.unwrap_or(STATE_VERSION);
    let full_in_progress = match meta_get::<FullPosition>(conn, "full_in_progress")? {
        Some(p) => Some(FullProgress {
            cursor: p.cursor,
            started_at: p.started_at,
            listed: ids(conn, "listed")?,
        }),
        None => None,
    };
    let mut documents = BTreeMap::new();
    {
        let mut stmt = conn.prepare("SELECT id, object_type, hash, indexed_at FROM documents")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                DocRecord {
                    object_type: r.get(1)?,
                    hash: r.get(2)?,
                    indexed_at: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (id, rec) = row?;
            documents.insert(id, rec);
        }
    }
    let mut failures = BTreeMap::new();
    {
        let mut stmt = conn.prepare("SELECT id, kind, message, at FROM failures")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                FailureRecord {
                    kind: r.get(1)?,
                    message: r.get(2)?,
                    at: r.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (id, rec) = row?;
            failures.insert(id, rec);
        }
    }
    Ok(CrawlState {
        version,
        incremental_cursor: meta_get(conn, "incremental_cursor")?,
        full_in_progress,
        documents,
        held_deletions: ids(conn, "held_deletions")?,
        last_full: meta_get(conn, "last_full")?,
        last_incremental: meta_get(conn, "last_incremental")?,
        failures,
        budget: meta_get(conn, "budget")?.unwrap_or_default(),
        recent_deletions: meta_get(conn, "recent_deletions")?.unwrap_or_default(),
    })
}

fn meta_put<T: Serialize + PartialEq>(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    old: &Option<T>,
    new: &Option<T>,
) -> anyhow::Result<()> {
    if old == new {
        return Ok(());
    }
    match new {
        Some(v) => tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, serde_json::to_string(v)?),
        )?,
        None => tx.execute("DELETE FROM meta WHERE key = ?1", [key])?,
    };
    Ok(())
}

fn sync_ids(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut del = tx.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?;
    for id in old.difference(new) {
        del.execute([id])?;
    }
    let mut ins = tx.prepare_cached(&format!("INSERT OR IGNORE INTO {table} (id) VALUES (?1)"))?;
    for id in new.difference(old) {
        ins.execute([id])?;
    }
    Ok(())
}

fn write_changes(
    tx: &rusqlite::Transaction<'_>,
    old: &CrawlState,
    new: &CrawlState,
) -> rusqlite::Result<()> {
    write_changes_inner(tx, old, new).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn write_changes_inner(
    tx: &rusqlite::Transaction<'_>,
    old: &CrawlState,
    new: &CrawlState,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('version', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [new.version.to_string()],
    )?;
    meta_put(
        tx,
        "incremental_cursor",
        &old.incremental_cursor,
        &new.incremental_cursor,
    )?;
    let position = |p: &Option<FullProgress>| p.as_ref().map(|p| (p.cursor.clone(), p.started_at));
    if position(&old.full_in_progress) != position(&new.full_in_progress) {
        let v = new.full_in_progress.as_ref().map(|p| FullPosition {
            cursor: p.cursor.clone(),
            started_at: p.started_at,
        });
        match v {
            Some(v) => tx.execute(
                "INSERT INTO meta (key, value) VALUES ('full_in_progress', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [serde_json::to_string(&v)?],
            )?,
            None => tx.execute("DELETE FROM meta WHERE key = 'full_in_progress'", [])?,
        };
    }
    let empty = BTreeSet::new();
    let listed = |p: &Option<FullProgress>| p.as_ref().map(|p| &p.listed).unwrap_or(&empty).clone();
    sync_ids(
        tx,
        "listed",
        &listed(&old.full_in_progress),
        &listed(&new.full_in_progress),
    )?;
    meta_put(tx, "last_full", &old.last_full, &new.last_full)?;
    meta_put(
        tx,
        "last_incremental",
        &old.last_incremental,
        &new.last_incremental,
    )?;
    meta_put(
        tx,
        "recent_deletions",
        &Some(old.recent_deletions.clone()),
        &Some(new.recent_deletions.clone()),
    )?;
    {
        let mut del = tx.prepare_cached("DELETE FROM documents WHERE id = ?1")?;
        for id in old
            .documents
            .keys()
            .filter(|id| !new.documents.contains_key(*id))
        {
            del.execute([id])?;
        }
        let mut up = tx.prepare_cached(
            "INSERT INTO documents (id, object_type, hash, indexed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET object_type = excluded.object_type, hash = excluded.hash, indexed_at = excluded.indexed_at",
        )?;
        for (id, rec) in &new.documents {
            if old.documents.get(id) != Some(rec) {
                up.execute((id, &rec.object_type, &rec.hash, rec.indexed_at))?;
            }
        }
    }
    sync_ids(
        tx,
        "held_deletions",
        &old.held_deletions,
        &new.held_deletions,
    )?;
    {
        let mut del = tx.prepare_cached("DELETE FROM failures WHERE id = ?1")?;
        for id in old
            .failures
            .keys()
            .filter(|id| !new.failures.contains_key(*id))
        {
            del.execute([id])?;
        }
        let mut up = tx.prepare_cached(
            "INSERT INTO failures (id, kind, message, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, message = excluded.message, at = excluded.at",
        )?;
        for (id, rec) in &new.failures {
            if old.failures.get(id) != Some(rec) {
                up.execute((id, &rec.kind, &rec.message, rec.at))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_written_request_by_request_and_read_back() {
        let dir = std::env::temp_dir().join(format!("state-budget-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let store = StateStore::open(&dir, "b").unwrap();
        let w = BudgetWriter::open(&store).unwrap();
        let u = BudgetUsage {
            week_start: 1_795_305_600,
            requests: 42,
            last_sent_ms: 1_795_611_600_123,
        };
        w.write(&u).unwrap();
        drop(store);
        assert_eq!(StateStore::open(&dir, "b").unwrap().state.budget, u);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn round_trips_every_part_and_refuses_corruption() {
        let dir = std::env::temp_dir().join(format!("state-test-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let mut s = StateStore::open(&dir, "x").unwrap();
        let doc = |h: &str| DocRecord {
            object_type: "call".into(),
            hash: h.into(),
            indexed_at: 1,
        };
        s.state.incremental_cursor = Some("c".into());
        s.state.documents.insert("a".into(), doc("h1"));
        s.state.documents.insert("b".into(), doc("h2"));
        s.state.full_in_progress = Some(FullProgress {
            cursor: Some("page-2".into()),
            listed: ["a".to_string(), "z".to_string()].into(),
            started_at: 5,
        });
        s.state.held_deletions.insert("gone".into());
        s.state.failures.insert(
            "f".into(),
            FailureRecord {
                kind: "system".into(),
                message: "bad".into(),
                at: 3,
            },
        );
        s.state.record_deletions(chrono::Utc::now().timestamp(), 3);
        s.save().unwrap();
        assert_eq!(StateStore::open(&dir, "x").unwrap().state, s.state);

        // Changes, removals included, are written incrementally.
        s.state.documents.remove("a");
        s.state.documents.insert("b".into(), doc("h3"));
        s.state.full_in_progress = None;
        s.state.held_deletions.clear();
        s.state.failures.clear();
        s.state.incremental_cursor = None;
        s.save().unwrap();
        let again = StateStore::open(&dir, "x").unwrap();
        assert_eq!(again.state, s.state);
        let path = s.path().to_path_buf();
        drop(again);
        drop(s);

        for suffix in ["-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
        std::fs::write(
            &path,
            b"this is not a database, it is a text file of some length",
        )
        .unwrap();
        let e = StateStore::open(&dir, "x").unwrap_err();
        assert!(format!("{e:#}").contains("unreadable"), "{e:#}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
