//! The crawl engine. It depends on three seams only — a [`Source`] (the connector's exports),
//! a [`Sink`] (an index) and a [`StateStore`] — plus an injected [`Clock`], [`Observer`] and
//! [`CrashHook`]; no runtime, no HTTP, no index wire types, no terminal. Its rules protect
//! people's data: deletions only on proof, the mass-deletion brake, the repeated-cursor and
//! empty-listing guards, the item-id check, checkpoints only after the index acknowledged,
//! bounded work whatever the connector returns.

mod closure;
mod crawler;
mod deletions;
pub mod limits;
pub mod report;
pub mod retry;
pub mod seams;
pub mod stages;
pub mod store;

/// The contract's types and the guest-text rules, from the seam shared with the runtime.
pub use source_seam::{text, types};

pub use crawler::{ConfigProblem, CrawlOptions, Crawler, Hooks, is_config_error};
pub use deletions::DELETION_WINDOW_SECS;
pub use report::{AccessCounts, CrawlReport, Ending, Failure};
pub use seams::{
    Clock, CrashHook, Document, ErrorKind, Event, NoCrash, Observer, Silent, Sink, Source,
    SourceError, SystemClock, UsersUpload,
};
pub use store::{
    Checkpoint, CrawlOutcome, DocRecord, FailureRecord, FullPosition, MemoryStore, StateMeta,
    StateStore,
};

#[cfg(test)]
mod tests;
