//! The report of one crawl: what was listed, fetched, indexed, skipped (by reason), deleted or
//! held, what failed (by kind), who can see what, requests used and time taken.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::seams::ErrorKind;
use crate::types::Permissions;

/// One item that could not be indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub id: String,
    pub kind: ErrorKind,
    pub message: String,
}

/// How a crawl that did not complete ended: what `harness crawl`'s exit code and the
/// service's outcome label tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A crawl limit (`[crawl.limits]`) was reached: stopped at a checkpoint by design.
    Limit,
    /// Asked to stop (a signal, a lost lease): stopped at a checkpoint.
    Interrupted,
    /// The source or the index ended it (after retries): the next crawl resumes.
    Failed,
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
    /// How it ended when it did not complete.
    pub ending: Option<Ending>,
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

impl fmt::Display for CrawlReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.completed {
            "completed".to_string()
        } else {
            format!(
                "STOPPED: {}",
                self.stopped.as_deref().unwrap_or("unknown reason")
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
            writeln!(f, "    skipped {n:>5}: {reason}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        if !self.errors.is_empty() {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{n} {}", k.name()))
                .collect();
            writeln!(f, "  errors: {}", kinds.join(", "))?;
            for fl in self.failures.iter().take(10) {
                writeln!(f, "    {}: {}", fl.id, fl.message)?;
            }
            if self.failures.len() > 10 {
                writeln!(f, "    ... and {} more", self.failures.len() - 10)?;
            }
        }
        Ok(())
    }
}
