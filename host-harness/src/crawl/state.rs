//! Durable crawl state for one connector instance: the incremental cursor, the position of a
//! full crawl in progress (with the ids it has listed so far), what is in the index (id and
//! content hash), held deletions and the outcome of the last crawls. Saved atomically (write a
//! temporary file, fsync, rename) after every checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

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
    /// Requests sent to upstreams in the current budget week.
    #[serde(default)]
    pub budget: BudgetRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub kind: String,
    pub message: String,
    /// Epoch seconds.
    pub at: i64,
}

/// Requests counted against a weekly budget (Clari's week starts Sunday 00:00 GMT).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRecord {
    /// Epoch seconds of the week's start.
    pub week_start: i64,
    pub requests: u64,
}

impl BudgetRecord {
    /// Adds `n` requests made at `now`, starting a new week when one has begun.
    pub fn add(&mut self, n: u64, now: i64) {
        let week = week_start(now);
        if week != self.week_start {
            self.week_start = week;
            self.requests = 0;
        }
        self.requests += n;
    }
}

/// The start of the week containing `t`: Sunday 00:00 UTC.
pub fn week_start(t: i64) -> i64 {
    const DAY: i64 = 86_400;
    let days = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday: day 0 is 4 days after a Sunday.
    let since_sunday = (days + 4).rem_euclid(7);
    (days - since_sunday) * DAY
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

/// The state file of one instance.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    pub state: CrawlState,
}

impl StateStore {
    /// Opens (or starts) the state of instance `name` under `dir`.
    pub fn open(dir: &Path, name: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the state directory {}", dir.display()))?;
        let path = dir.join(format!("{name}.state.json"));
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let s: CrawlState = serde_json::from_slice(&bytes).with_context(|| {
                    format!(
                        "the state file {} is corrupt; move it away to start over with a full crawl",
                        path.display()
                    )
                })?;
                if s.version != STATE_VERSION {
                    anyhow::bail!(
                        "the state file {} has version {}, this harness reads version {STATE_VERSION}",
                        path.display(),
                        s.version
                    );
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CrawlState {
                version: STATE_VERSION,
                ..CrawlState::default()
            },
            Err(e) => {
                return Err(e).with_context(|| format!("could not read {}", path.display()));
            }
        };
        Ok(StateStore { path, state })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the state atomically.
    pub fn save(&self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&self.state)?;
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("could not write {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("could not replace {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_sunday_midnight_utc() {
        // 2026-11-25 is a Wednesday; the week began Sunday 2026-11-22.
        let wed = chrono::DateTime::parse_from_rfc3339("2026-11-25T13:00:00Z")
            .unwrap()
            .timestamp();
        let sun = chrono::DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(week_start(wed), sun);
        assert_eq!(week_start(sun), sun);
        let mut b = BudgetRecord::default();
        b.add(5, wed);
        b.add(5, wed + 3600);
        assert_eq!(b.requests, 10);
        b.add(1, sun + 7 * 86_400);
        assert_eq!(b.requests, 1);
    }

    #[test]
    fn round_trips_and_refuses_corruption() {
        let dir = std::env::temp_dir().join(format!("state-test-{}", std::process::id()));
        let mut s = StateStore::open(&dir, "x").unwrap();
        s.state.incremental_cursor = Some("c".into());
        s.state.documents.insert(
            "a".into(),
            DocRecord {
                object_type: "call".into(),
                hash: "h".into(),
                indexed_at: 1,
            },
        );
        s.save().unwrap();
        let again = StateStore::open(&dir, "x").unwrap();
        assert_eq!(again.state, s.state);
        std::fs::write(s.path(), b"{").unwrap();
        let e = StateStore::open(&dir, "x").unwrap_err();
        assert!(format!("{e:#}").contains("corrupt"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
