//! Durable crawl state behind the [`StateStore`] trait. A checkpoint is one [`Checkpoint`]:
//! the documents the index acknowledged, the deletions made, the ids the full listing returned,
//! failures set and cleared, and the small [`StateMeta`] (cursors, outcomes), written all or
//! nothing. Its cost follows what changed, not the size of the index: nothing needs the whole
//! index in memory. [`MemoryStore`] is the in-memory implementation (tests, replays).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What the index holds for one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRecord {
    /// The index object type (needed to delete it).
    pub object_type: String,
    /// SHA-256 of the document as last sent.
    pub hash: String,
    /// Epoch seconds.
    pub indexed_at: i64,
    /// The listing fingerprint the item had when it was last fetched.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Why the crawl that uploaded this version fetched it, in words.
    #[serde(default)]
    pub fetched_because: Option<String>,
}

/// An item that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub kind: String,
    pub message: String,
    /// Epoch seconds.
    pub at: i64,
}

/// How one crawl ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlOutcome {
    pub mode: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub completed: bool,
    pub indexed: u64,
    pub deleted: u64,
    pub failed: u64,
    pub error: Option<String>,
    /// Requests the crawl sent.
    #[serde(default)]
    pub requests: u64,
}

/// Where an unfinished full crawl stands (its listed ids are kept by the store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullPosition {
    /// The listing cursor to resume from (`None`: from the start).
    pub cursor: Option<String>,
    pub started_at: i64,
}

/// The small part of the state, read and written whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMeta {
    /// Where the next incremental crawl starts; set when a listing completes.
    pub incremental_cursor: Option<String>,
    /// A full crawl that has not finished: the next full crawl resumes it.
    pub full_in_progress: Option<FullPosition>,
    pub last_full: Option<CrawlOutcome>,
    pub last_incremental: Option<CrawlOutcome>,
    /// Deletions applied recently, as (epoch seconds, count), for the rolling brake.
    pub recent_deletions: Vec<(i64, u64)>,
    /// Full crawls completed: picks each crawl's share of the deep refresh.
    #[serde(default)]
    pub full_crawls: u64,
    /// When a crawl last found something changed at the source (epoch seconds): the
    /// planner polls more often while the source is busy.
    #[serde(default)]
    pub last_change_at: Option<i64>,
    /// SHA-256 of the users last uploaded to the index (and acknowledged): the identity store
    /// is uploaded again only when the set changed.
    #[serde(default)]
    pub users_hash: Option<String>,
    /// SHA-256 of the datasource configuration last registered with the index: an incremental
    /// crawl registers it again only when it changed (a full crawl always does).
    #[serde(default)]
    pub datasource_hash: Option<String>,
    /// When the users were last listed (epoch seconds): a poll that finds nothing to fetch
    /// lists them again only an hour later.
    #[serde(default)]
    pub users_listed_at: Option<i64>,
}

impl StateMeta {
    /// Deletions applied since `since` (epoch seconds).
    pub fn deletions_since(&self, since: i64) -> u64 {
        self.recent_deletions
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, n)| n)
            .sum()
    }

    /// Counts `n` deletions at `at`, forgetting those before `horizon`.
    pub fn record_deletions(&mut self, at: i64, n: u64, horizon: i64) {
        self.recent_deletions.retain(|(t, _)| *t >= horizon);
        match self.recent_deletions.last_mut() {
            Some((last, count)) if *last == at => *count += n,
            _ => self.recent_deletions.push((at, n)),
        }
    }
}

/// One all-or-nothing write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Documents the index acknowledged.
    pub upserts: Vec<(String, DocRecord)>,
    /// Documents deleted from the index.
    pub deletes: Vec<String>,
    /// Forget the ids listed so far (a new full listing starts).
    pub reset_listed: bool,
    /// Ids the full listing returned (kept until the listing completes).
    pub listed: Vec<String>,
    pub failures: Vec<(String, FailureRecord)>,
    pub cleared_failures: Vec<String>,
    /// Replaces the held deletions when set.
    pub held: Option<Vec<String>>,
    /// The meta after this checkpoint.
    pub meta: StateMeta,
}

/// Durable state of one connector instance.
pub trait StateStore {
    /// The meta as of the last checkpoint.
    fn meta(&self) -> &StateMeta;
    fn document(&self, id: &str) -> anyhow::Result<Option<DocRecord>>;
    fn document_count(&self) -> anyhow::Result<u64>;
    /// Ids listed by the full crawl in progress.
    fn listed_count(&self) -> anyhow::Result<u64>;
    /// Indexed documents the full crawl in progress has not listed.
    fn unlisted_documents(&self) -> anyhow::Result<Vec<(String, DocRecord)>>;
    fn held_deletions(&self) -> anyhow::Result<Vec<String>>;
    /// How many items failed, and up to `limit` of them.
    fn failures(&self, limit: usize) -> anyhow::Result<(u64, Vec<(String, FailureRecord)>)>;
    /// Writes `checkpoint` all or nothing.
    fn commit(&mut self, checkpoint: Checkpoint) -> anyhow::Result<()>;
}

/// State in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    pub meta: StateMeta,
    pub documents: BTreeMap<String, DocRecord>,
    pub listed: BTreeSet<String>,
    pub held: BTreeSet<String>,
    pub failures: BTreeMap<String, FailureRecord>,
    /// Checkpoints committed (for tests of checkpoint order).
    pub commits: u64,
}

impl StateStore for MemoryStore {
    fn meta(&self) -> &StateMeta {
        &self.meta
    }
    fn document(&self, id: &str) -> anyhow::Result<Option<DocRecord>> {
        Ok(self.documents.get(id).cloned())
    }
    fn document_count(&self) -> anyhow::Result<u64> {
        Ok(self.documents.len() as u64)
    }
    fn listed_count(&self) -> anyhow::Result<u64> {
        Ok(self.listed.len() as u64)
    }
    fn unlisted_documents(&self) -> anyhow::Result<Vec<(String, DocRecord)>> {
        Ok(self
            .documents
            .iter()
            .filter(|(id, _)| !self.listed.contains(*id))
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect())
    }
    fn held_deletions(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.held.iter().cloned().collect())
    }
    fn failures(&self, limit: usize) -> anyhow::Result<(u64, Vec<(String, FailureRecord)>)> {
        Ok((
            self.failures.len() as u64,
            self.failures
                .iter()
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    }
    fn commit(&mut self, cp: Checkpoint) -> anyhow::Result<()> {
        for (id, rec) in cp.upserts {
            self.documents.insert(id, rec);
        }
        for id in cp.deletes {
            self.documents.remove(&id);
        }
        if cp.reset_listed {
            self.listed.clear();
        }
        self.listed.extend(cp.listed);
        for (id, f) in cp.failures {
            self.failures.insert(id, f);
        }
        for id in cp.cleared_failures {
            self.failures.remove(&id);
        }
        if let Some(held) = cp.held {
            self.held = held.into_iter().collect();
        }
        self.meta = cp.meta;
        self.commits += 1;
        Ok(())
    }
}
