//! The engine's seams: the [`Source`] it crawls (a sandboxed connector in production), the
//! [`Sink`] it writes to (an index), the [`Clock`] it reads, the [`Observer`] that hears its
//! progress and the [`CrashHook`] tests use to stop it at any point.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::report::CrawlReport;
use crate::types::{
    AccessFacts, ChangePage, ConnectorInfo, CrawlMode, Item, Permissions, User, UserPage,
    Visibility,
};

/// The error categories the engine acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Bad credentials or settings: the operator must act; stops the crawl.
    Config,
    /// Worth retrying with backoff.
    Transient,
    /// A bug, a contract violation, a guest fault: reported, not retried.
    System,
    /// The item does not exist at the source.
    NotFound,
    /// Held, not uploaded: its permissions name a user missing from the identity store the
    /// harness uploaded (the index would silently give them no access). Fetched again, with
    /// this visibility, once the identities change.
    Held(Visibility),
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Transient => "transient",
            ErrorKind::System => "system",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Held(Visibility::Public) => "held-public",
            ErrorKind::Held(Visibility::Restricted) => "held-restricted",
            ErrorKind::Held(Visibility::Unknown) => "held-unknown",
        }
    }

    /// The visibility of a held item, from a stored failure's kind.
    pub fn held_visibility(kind: &str) -> Option<Visibility> {
        match kind {
            "held-public" => Some(Visibility::Public),
            "held-restricted" => Some(Visibility::Restricted),
            "held-unknown" => Some(Visibility::Unknown),
            _ => None,
        }
    }
}

/// Why a source call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub kind: ErrorKind,
    /// Safe to print: redacted, bounded, control characters escaped.
    pub message: String,
    /// The source's advice on when to retry.
    pub retry_after: Option<Duration>,
    /// The connector itself misbehaved (ran past its deadline): worth one more try only.
    pub guest_fault: bool,
}

impl SourceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
            retry_after: None,
            guest_fault: false,
        }
    }
}

/// A connector, as the engine sees it: the contract's exports.
pub trait Source: Sync {
    fn describe(&self) -> Result<ConnectorInfo, SourceError>;
    fn check(&self) -> Result<(), SourceError>;
    fn list_changes(
        &self,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, SourceError>;
    fn fetch_item(&self, id: &str, visibility: Visibility) -> Result<Item, SourceError>;
    fn map_permissions(&self, facts: &AccessFacts) -> Result<Permissions, SourceError>;
    /// An item with its permissions. The default asks twice; a source that can answer both
    /// in one call (contract 0.2.0) overrides it.
    fn fetch_document(&self, id: &str, visibility: Visibility) -> Result<Document, SourceError> {
        let item = self.fetch_item(id, visibility)?;
        let permissions = self.map_permissions(&item.access)?;
        Ok(Document { item, permissions })
    }
    fn list_users(&self, cursor: Option<&str>) -> Result<UserPage, SourceError>;
    /// Requests sent to upstreams so far.
    fn requests_sent(&self) -> u64 {
        0
    }
    /// Whether `bytes` carry one of the source's configured secrets, in any known encoding.
    fn carries_secret(&self, _bytes: &[u8]) -> bool {
        false
    }
    /// `text` with the source's secrets removed.
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
}

/// An item with its permissions: what the engine hands an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    pub item: Item,
    pub permissions: Permissions,
}

/// A users upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersUpload {
    pub datasource: String,
    pub upload_id: String,
}

/// An index the engine writes to. Every method returns only when the index acknowledged.
pub trait Sink: Sync {
    /// Registers (or updates) the datasource for `info`.
    fn ensure_datasource(&self, datasource: &str, info: &ConnectorInfo) -> anyhow::Result<()>;
    /// Starts replacing the datasource's users; pages follow.
    fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload>;
    /// One page of a users upload; the upload takes effect with the page marked `last`.
    fn index_users_page(
        &self,
        upload: &UsersUpload,
        users: &[User],
        first: bool,
        last: bool,
    ) -> anyhow::Result<()>;
    /// Whether the index would accept `doc`; the error says why not.
    fn validate(&self, datasource: &str, doc: &Document) -> Result<(), String>;
    /// Adds or replaces documents.
    fn index_documents(&self, datasource: &str, docs: &[Document]) -> anyhow::Result<()>;
    /// Deletes one document (succeeds when absent).
    fn delete_document(&self, datasource: &str, object_type: &str, id: &str) -> anyhow::Result<()>;
}

/// Time, injectable so the engine can run in virtual time.
pub trait Clock: Sync {
    /// Epoch seconds.
    fn now(&self) -> i64;
    /// A monotonic instant, for elapsed times.
    fn instant(&self) -> Instant;
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// What the engine tells whoever watches a crawl.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A page was checkpointed; the report so far.
    Checkpointed(&'a CrawlReport),
    /// The crawl ended (completed or not).
    Finished(&'a CrawlReport),
}

/// Hears the engine's progress (a CLI renders it; a service counts it).
pub trait Observer: Sync {
    fn on(&self, event: Event<'_>);
}

/// Hears nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn on(&self, _: Event<'_>) {}
}

/// Called right after every effect a crash could split from its bookkeeping (each upload, each
/// deletion, each checkpoint); crash tests abort the process there.
pub trait CrashHook: Sync {
    fn point(&self, what: &str);
}

/// No crash points.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCrash;

impl CrashHook for NoCrash {
    fn point(&self, _: &str) {}
}
