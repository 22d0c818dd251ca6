//! The report of one crawl: what was listed, fetched, indexed, skipped (by reason), deleted or
//! held, what failed (by kind), who can see what, requests used and time taken.
//!
//! Rendered, every text that may carry a connector's words (a stop reason, a skip reason, a
//! warning, a failure's id and message) is escaped and bounded by [`crate::text`], whoever
//! filled the report in: a guest cannot forge a line of it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::seams::ErrorKind;
use crate::text;
use crate::types::Permissions;

/// One item that could not be indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub id: String,
    pub kind: ErrorKind,
    pub message: String,
}

/// Documents by who can see them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccessCounts {
    /// Every user of the datasource.
    pub public: u64,
    /// Only the listed users.
    pub restricted: u64,
    /// Nobody (failed closed).
    pub no_access: u64,
}

impl AccessCounts {
    /// Counts one document with `p`.
    pub fn count(&mut self, p: &Permissions) {
        match p {
            Permissions::AllUsers => self.public += 1,
            Permissions::Users(u) if !u.is_empty() => self.restricted += 1,
            _ => self.no_access += 1,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CrawlReport {
    pub mode: String,
    /// Whether the listing ran to its end.
    pub completed: bool,
    /// Why it stopped early.
    pub stopped: Option<String>,
    pub users_indexed: u64,
    /// The users were the same as at the last upload: nothing was sent to the index for them.
    pub users_unchanged: bool,
    /// Documents held, not uploaded, because their permissions name users missing from the
    /// identity store (listed among the failures, kind `held-*`).
    pub held: u64,
    /// Documents held by an earlier crawl that went out with this one's identities.
    pub released: u64,
    pub listed: u64,
    pub fetched: u64,
    pub indexed: u64,
    pub unchanged: u64,
    /// Of the unchanged: not even fetched, as their listing fingerprint had not moved.
    pub not_fetched: u64,
    pub skipped: BTreeMap<String, u64>,
    pub deleted: u64,
    pub deletions_held: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub failures: Vec<Failure>,
    pub access: AccessCounts,
    pub requests: u64,
    /// Things the operator should know about a crawl that still completed.
    pub warnings: Vec<String>,
    /// Items that were fine again this crawl (their earlier failures are cleared).
    #[serde(skip)]
    pub recovered: Vec<String>,
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl CrawlReport {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn record_failure(&mut self, id: &str, kind: ErrorKind, message: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.failures.push(Failure {
            id: id.to_string(),
            kind,
            message,
        });
    }
}

/// `t` as a report line shows it: escaped and bounded (text the engine already cleaned is
/// unchanged).
fn shown(t: &str) -> String {
    text::clean(t, text::MAX_REPORT_TEXT_BYTES)
}

impl fmt::Display for CrawlReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.completed {
            "completed".to_string()
        } else {
            format!(
                "STOPPED: {}",
                shown(self.stopped.as_deref().unwrap_or("unknown reason"))
            )
        };
        writeln!(
            f,
            "{} crawl {status} in {:.1}s",
            self.mode,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  items listed {:>6}   fetched {:>6}   indexed {:>6}   unchanged {:>6} ({} not fetched)",
            self.listed, self.fetched, self.indexed, self.unchanged, self.not_fetched
        )?;
        writeln!(
            f,
            "  access       public {:>5}   restricted (members only) {:>5}   no access (failed closed) {:>5}",
            self.access.public, self.access.restricted, self.access.no_access
        )?;
        writeln!(
            f,
            "  skipped {:>6}   deleted {:>5}   deletions held {:>5}   users indexed {:>5}   requests {:>6}",
            self.skipped_total(),
            self.deleted,
            self.deletions_held,
            self.users_indexed,
            self.requests
        )?;
        if self.held + self.released > 0 {
            writeln!(
                f,
                "  held {:>6} (their permissions name users missing from the identity store; listed among the failures)   released {:>5}",
                self.held, self.released
            )?;
        }
        for (reason, n) in &self.skipped {
            writeln!(f, "    skipped {n:>5}: {}", shown(reason))?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {}", shown(w))?;
        }
        if !self.errors.is_empty() {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{n} {}", k.name()))
                .collect();
            writeln!(f, "  errors: {}", kinds.join(", "))?;
            for fl in self.failures.iter().take(10) {
                writeln!(f, "    {}: {}", shown(&fl.id), shown(&fl.message))?;
            }
            if self.failures.len() > 10 {
                writeln!(f, "    ... and {} more", self.failures.len() - 10)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! A hostile connector's words (ids, skip reasons, `fetch-item` errors, a listing error) as
    //! a crawl report shows them: escaped, bounded, never a line of their own.

    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::seams::{Document, ErrorKind, Sink, Source, SourceError, UsersUpload};
    use crate::store::MemoryStore;
    use crate::types::*;
    use crate::{CrawlOptions, Crawler, text};

    /// Guest strings that would forge, clear or flood the host's output if printed raw.
    fn hostile() -> Vec<String> {
        vec![
            "boom\r\nINFO crawl: full crawl completed".into(),
            "boom\u{1b}[2J\u{1b}[31mERROR".into(),
            "boom\0nul".into(),
            "x".repeat(10_000),
            "\n".repeat(10_000),
            "boom\u{202e}desrever".into(),
        ]
    }

    /// Lists one valid item per hostile string (ids with a bidi override among them), an id
    /// with a forged line, and a skip; every fetch fails with a hostile message.
    struct Hostile {
        fail_listing: AtomicBool,
    }

    impl Source for Hostile {
        fn describe(&self) -> Result<ConnectorInfo, SourceError> {
            Ok(ConnectorInfo {
                name: "hostile".into(),
                display_name: "Hostile".into(),
                version: "1".into(),
                url_pattern: ".*".into(),
                upstreams: vec![],
                object_types: vec![],
            })
        }
        fn check(&self) -> Result<(), SourceError> {
            Ok(())
        }
        fn list_changes(&self, _: CrawlMode, _: Option<&str>) -> Result<ChangePage, SourceError> {
            if self.fail_listing.load(Ordering::SeqCst) {
                return Err(SourceError::new(ErrorKind::System, hostile().concat()));
            }
            let change = |id: String, state| Change {
                id,
                modified_at: None,
                state,
                fingerprint: None,
            };
            let mut changes: Vec<Change> = (0..hostile().len())
                .map(|i| {
                    change(
                        format!("item-{i}\u{202e}"),
                        ChangeState::Ready(Visibility::Public),
                    )
                })
                .collect();
            changes.push(change(
                hostile()[0].clone(),
                ChangeState::Ready(Visibility::Public),
            ));
            changes.extend(
                hostile().into_iter().enumerate().map(|(i, reason)| {
                    change(format!("skipped-{i}"), ChangeState::Skipped(reason))
                }),
            );
            let next = ListingNext::Done("c".into());
            Ok(ChangePage { changes, next })
        }
        fn fetch_item(&self, id: &str, _: Visibility) -> Result<Item, SourceError> {
            let i: usize = id
                .trim_start_matches("item-")
                .trim_end_matches('\u{202e}')
                .parse()
                .unwrap_or(0);
            let message = hostile().into_iter().nth(i).unwrap_or_default();
            Err(SourceError::new(ErrorKind::System, message))
        }
        fn map_permissions(&self, _: &AccessFacts) -> Result<Permissions, SourceError> {
            Ok(Permissions::AllUsers)
        }
        fn list_users(&self, _: Option<&str>) -> Result<UserPage, SourceError> {
            Ok(UserPage {
                users: vec![],
                next_cursor: None,
            })
        }
    }

    /// An index that accepts everything.
    struct Accepting;

    impl Sink for Accepting {
        fn ensure_datasource(&self, _: &str, _: &ConnectorInfo) -> anyhow::Result<()> {
            Ok(())
        }
        fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload> {
            let (datasource, upload_id) = (datasource.into(), "u".into());
            Ok(UsersUpload {
                datasource,
                upload_id,
            })
        }
        fn index_users_page(
            &self,
            _: &UsersUpload,
            _: &[User],
            _: bool,
            _: bool,
        ) -> anyhow::Result<()> {
            Ok(())
        }
        fn validate(&self, _: &str, _: &Document) -> Result<(), String> {
            Ok(())
        }
        fn index_documents(&self, _: &str, _: &[Document]) -> anyhow::Result<()> {
            Ok(())
        }
        fn delete_document(&self, _: &str, _: &str, _: &str) -> anyhow::Result<()> {
            Ok(())
        }
    }

    /// Fails, naming `what`, when `shown` holds a character that could forge or hide output,
    /// or a line longer than `max` bytes.
    fn assert_safe(what: &str, shown: &str, max: usize) {
        for bad in ['\r', '\u{1b}', '\0', '\u{202e}'] {
            assert!(
                !shown.contains(bad),
                "{what}: {bad:?} got through: {shown:?}"
            );
        }
        for line in shown.lines() {
            assert!(
                !line.starts_with("INFO crawl"),
                "{what}: a forged line: {line:?}"
            );
            assert!(line.len() <= max, "{what}: a line of {} bytes", line.len());
        }
    }

    #[test]
    fn a_hostile_connectors_words_never_forge_a_report_line() {
        let source = Hostile {
            fail_listing: AtomicBool::new(false),
        };
        let mut store = MemoryStore::default();
        let mut options = CrawlOptions::default();
        options.retry.max_retries = 0;
        let report = Crawler::new(&source, &Accepting, &mut store, options.clone())
            .run(CrawlMode::Full)
            .expect("the crawl runs");
        // Every fetch failed with the connector's words, and the bad id was refused.
        assert_eq!(report.failures.len(), hostile().len() + 1, "{report}");
        assert_eq!(report.skipped.len(), hostile().len(), "{report}");
        // A line holds an id and a message, each at most MAX_REPORT_TEXT_BYTES plus a marker.
        let max_line = 2 * text::MAX_REPORT_TEXT_BYTES + 128;
        for f in &report.failures {
            assert_safe(
                "a failure's message",
                &f.message,
                text::MAX_REPORT_TEXT_BYTES + 64,
            );
            assert!(!f.message.contains('\n'), "{:?}", f.message);
        }
        let shown = report.to_string();
        assert_safe("the report", &shown, max_line);
        let lines = shown.lines().count();
        assert!(lines < 40, "{lines} lines:\n{shown}");

        source.fail_listing.store(true, Ordering::SeqCst);
        let report = Crawler::new(&source, &Accepting, &mut store, options)
            .run(CrawlMode::Full)
            .expect("the crawl runs");
        let stopped = report.stopped.clone().unwrap_or_default();
        assert!(!report.completed && stopped.contains("boom"), "{report}");
        assert!(!stopped.contains('\n'), "{stopped:?}");
        assert_safe("a stop reason", &stopped, text::MAX_REPORT_TEXT_BYTES + 64);
        assert_safe("the stopped report", &report.to_string(), max_line);
    }
}
