//! The engine's seams: the [`Source`] it crawls (a sandboxed connector in production; the
//! trait lives in `source-seam`, shared with the wasm runtime), the [`Sink`] it writes to (an index), the [`Clock`] it reads, the [`Observer`] that hears its
//! progress and the [`CrashHook`] tests use to stop it at any point.

use std::time::{Duration, Instant};

pub use source_seam::{Document, ErrorKind, Source, SourceError};

use crate::report::CrawlReport;
use crate::types::{ConnectorInfo, User};

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
