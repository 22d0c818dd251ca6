//! Permission closure end to end: the real Clari Copilot component on the mock API, into the
//! mock Glean. A user that `/users` leaves out (deactivated, not yet synced) is a member of
//! private calls: those calls are held, never uploaded naming a user the index does not know,
//! and go out at the next crawl once `/users` lists the user again.

use crate::common;

use std::collections::BTreeSet;

use common::{DATASOURCE, WorldBuilder};
use tenant_instance::crawl::types::CrawlMode;

#[test]
fn a_call_naming_a_user_missing_from_users_is_held_then_released() {
    let mut w = WorldBuilder::new("closure", 120).seed(7).build();
    let facts = w.clari.control().calls();
    let private: Vec<_> = facts
        .iter()
        .filter(|c| c.private && c.status == "POST_PROCESSING_DONE" && c.time <= w.anchor)
        .collect();
    let ghost = private
        .iter()
        .find_map(|c| c.user_emails.first().cloned())
        .expect("the workspace has private processed calls with members");
    let naming: BTreeSet<String> = private
        .iter()
        .filter(|c| c.user_emails.iter().any(|e| e.eq_ignore_ascii_case(&ghost)))
        .map(|c| c.id.clone())
        .collect();
    w.clari.control().set_user_listed(&ghost, false);

    let first = w.crawl(CrawlMode::Full, false);
    assert!(first.completed, "{first}");
    assert_eq!(first.held as usize, naming.len(), "{first}");
    let known: BTreeSet<String> = w
        .glean
        .users(DATASOURCE)
        .iter()
        .map(|u| u.email.to_lowercase())
        .collect();
    assert!(!known.contains(&ghost.to_lowercase()));
    let indexed: BTreeSet<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    assert!(indexed.is_disjoint(&naming), "a held call was uploaded");
    let failures = first
        .failures
        .iter()
        .filter(|f| f.kind.name().starts_with("held"));
    assert!(
        failures
            .clone()
            .all(|f| f.message.contains(&ghost.to_lowercase()))
    );

    // The user is listed again: the next (incremental) crawl uploads the users, then the
    // held calls.
    w.clari.control().set_user_listed(&ghost, true);
    let next = w.crawl(CrawlMode::Incremental, false);
    assert_eq!(next.released as usize, naming.len(), "{next}");
    let indexed: BTreeSet<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    assert!(naming.is_subset(&indexed), "held calls did not go out");
    // An unchanged crawl sends Glean nothing: no users, and the datasource registered by an
    // earlier crawl with the same configuration is not registered again.
    let before = w.glean.calls();
    let quiet = w.crawl(CrawlMode::Incremental, false);
    assert!(quiet.users_indexed == 0, "{quiet}");
    let mut during = w.glean.calls();
    for (endpoint, n) in &before {
        if let Some(now) = during.get_mut(endpoint) {
            *now -= n;
        }
    }
    during.retain(|_, n| *n > 0);
    assert!(
        during.is_empty(),
        "a no-change crawl calls Glean: {during:?}"
    );
}
