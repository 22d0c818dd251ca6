//! What a connector is to the host, in plain Rust and without any runtime behind it: the
//! contract's types ([`types`]), the [`Source`] trait that the crawl engine crawls and the wasm
//! runtime implements, the errors a source call gives, and the rules for text that came from a
//! guest ([`text`]). Both the engine and the runtime depend on this crate; neither depends on
//! the other.

pub mod text;
pub mod types;

use std::time::Duration;

use serde::Serialize;

use crate::types::{
    AccessFacts, ChangePage, ConnectorInfo, CrawlMode, Item, Permissions, UserPage, Visibility,
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
