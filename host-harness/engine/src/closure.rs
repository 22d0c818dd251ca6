//! Permission closure: a document is uploaded only when every user its permissions name is in
//! the identity store the harness uploaded for the datasource. Glean accepts a document whose
//! ACL names an unknown user without an error, and that user silently gets no access, so such
//! a document is held instead (recorded as a failure of kind `held-*`, naming the users), and
//! fetched again once the identities change, when it goes out if they now all exist.

use std::collections::HashSet;

use crate::ErrorKind;
use crate::crawler::Crawler;
use crate::report::CrawlReport;
use crate::stages::Listed;
use crate::text;
use crate::types::{CrawlMode, Permissions, User};

/// Held items fetched again per crawl at most (the rest wait for the next change).
pub const MAX_RELEASED_PER_CRAWL: usize = 10_000;

/// The principals a document may name: the users' emails, compared without case.
pub fn principals(users: &[User]) -> HashSet<String> {
    users.iter().map(|u| u.email.to_lowercase()).collect()
}

/// The users `permissions` names that are not in `known`.
pub fn unknown(known: &HashSet<String>, permissions: &Permissions) -> Vec<String> {
    match permissions {
        Permissions::Users(users) => users
            .iter()
            .filter(|u| !known.contains(&u.to_lowercase()))
            .cloned()
            .collect(),
        Permissions::AllUsers | Permissions::Nobody => Vec::new(),
    }
}

/// Why a document is held, naming up to three of the unknown users, escaped.
pub fn held_message(unknown: &[String]) -> String {
    let named: Vec<String> = unknown
        .iter()
        .take(3)
        .map(|u| text::clean(u, 200))
        .collect();
    let more = unknown.len().saturating_sub(3);
    format!(
        "held, not uploaded: its permissions name {} user(s) missing from the index's identity store ({}{}); it goes out once they are listed by the source's users",
        unknown.len(),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

impl Crawler<'_> {
    /// Fetches the held items again (the identities changed) and uploads those whose users
    /// now all exist; the others stay held.
    pub(crate) fn release_held(
        &mut self,
        datasource: &str,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        let (_, failures) = self.store.failures(MAX_RELEASED_PER_CRAWL)?;
        let listed: Vec<Listed> = failures
            .into_iter()
            .filter_map(|(id, f)| {
                ErrorKind::held_visibility(&f.kind).map(|visibility| Listed {
                    id,
                    visibility,
                    fingerprint: None,
                    because: "it was held until the people its permissions name were in the identity store, and they now are".into(),
                })
            })
            .collect();
        if listed.is_empty() {
            return Ok(());
        }
        let acknowledged = self.process_page(datasource, listed, report)?;
        report.released += acknowledged.len() as u64;
        self.checkpoint_page(
            CrawlMode::Incremental,
            acknowledged,
            Vec::new(),
            &None,
            report,
        )
    }
}
