//! End to end: the real Clari Copilot component in the real host, crawling the mock Clari
//! Copilot API into the mock Glean indexing API.

use crate::common;

use std::collections::BTreeSet;

use common::{DATASOURCE, World, WorldBuilder};
use mock_clari::{MockClariConfig, NewCall};
use mock_glean::MockGleanConfig;
use tenant_instance::crawl::CrawlReport;
use tenant_instance::crawl::types::CrawlMode;

/// The workspace's "now" is the real now: the mock stamps changes with its clock (the anchor
/// plus elapsed time) and the connector lists up to the guest's clock, so both must advance
/// together for an incremental crawl to see a change.
fn world(name: &str, calls: usize) -> World {
    WorldBuilder::new(name, calls).seed(7).build()
}

fn crawl(w: &mut World, mode: CrawlMode) -> CrawlReport {
    w.crawl(mode, false)
}

#[test]
fn full_crawl_indexes_eligible_calls_with_the_right_permissions() {
    let mut w = world("full", 120);
    let report = crawl(&mut w, CrawlMode::Full);
    assert!(report.completed, "{report}");
    let facts = w.clari.control().calls();
    let eligible: BTreeSet<String> = facts
        .iter()
        .filter(|c| c.status == "POST_PROCESSING_DONE" && c.time <= w.anchor)
        .map(|c| c.id.clone())
        .collect();
    let docs = w.glean.documents(DATASOURCE);
    let indexed: BTreeSet<String> = docs.iter().filter_map(|d| d.id.clone()).collect();
    assert_eq!(
        indexed, eligible,
        "indexed documents are exactly the processed calls"
    );
    assert_eq!(report.indexed as usize, eligible.len());
    assert!(
        report.skipped_total() > 0,
        "some calls are still processing: {report}"
    );

    // A call still processing is not indexed.
    let processing = facts
        .iter()
        .find(|c| c.status != "POST_PROCESSING_DONE")
        .expect("the workspace has unprocessed calls");
    assert!(!indexed.contains(&processing.id));

    // Users were indexed first.
    assert!(!w.glean.users(DATASOURCE).is_empty());
    let internal: Vec<String> = w
        .glean
        .users(DATASOURCE)
        .iter()
        .map(|u| u.email.clone())
        .collect();

    // A public call is visible to every user of the datasource.
    let public = facts
        .iter()
        .find(|c| !c.private && eligible.contains(&c.id))
        .expect("a public processed call");
    for email in &internal {
        assert!(
            w.glean.check_access(DATASOURCE, "call", &public.id, email),
            "{email}"
        );
    }

    // A private call is visible to its users only.
    let private = facts
        .iter()
        .find(|c| c.private && eligible.contains(&c.id) && !c.user_emails.is_empty())
        .expect("a private processed call with users");
    let members: BTreeSet<String> = private
        .user_emails
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    for email in &internal {
        let expected = members.contains(&email.to_lowercase());
        assert_eq!(
            w.glean.check_access(DATASOURCE, "call", &private.id, email),
            expected,
            "{email} on private call {}",
            private.id
        );
    }
    assert_eq!(
        report.access.public + report.access.restricted + report.access.no_access,
        report.fetched
    );
    assert!(
        report.access.restricted > 0 && report.access.public > 0,
        "{report}"
    );
}

#[test]
fn incremental_then_full_picks_up_new_finished_and_deleted_calls() {
    let mut w = world("incr", 80);
    assert!(crawl(&mut w, CrawlMode::Full).completed);
    let before: BTreeSet<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    let control = w.clari.control();
    let new_id = control.add_call(NewCall {
        status: "POST_PROCESSING_DONE".into(),
        private: false,
        ..NewCall::default()
    });
    let finishing = control
        .calls()
        .into_iter()
        .find(|c| c.status == "PROCESSING" || c.status == "PROCESSED")
        .map(|c| c.id);
    if let Some(id) = &finishing {
        control.set_status(id, "POST_PROCESSING_DONE").unwrap();
    }
    let deleted: Vec<String> = before.iter().take(3).cloned().collect();
    for id in &deleted {
        control.delete_call(id).unwrap();
    }

    let incremental = crawl(&mut w, CrawlMode::Incremental);
    assert!(incremental.completed, "{incremental}");
    let after: BTreeSet<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    assert!(after.contains(&new_id), "the new call is indexed");
    if let Some(id) = &finishing {
        assert!(
            after.contains(id),
            "the call that finished processing is indexed"
        );
    }
    assert_eq!(
        incremental.deleted, 0,
        "an incremental crawl deletes nothing"
    );

    let full = crawl(&mut w, CrawlMode::Full);
    assert!(full.completed, "{full}");
    assert_eq!(full.deleted, 3, "{full}");
    let now: BTreeSet<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    for id in &deleted {
        assert!(!now.contains(id));
    }
    assert_eq!(
        full.indexed, 0,
        "nothing changed, nothing re-uploaded: {full}"
    );
}

#[test]
fn secrets_never_reach_state_or_documents() {
    let mut w = world("secrets", 40);
    crawl(&mut w, CrawlMode::Full);
    // Every file of the state directory: the database and its write-ahead log.
    let mut state = String::new();
    for entry in std::fs::read_dir(&w.dir).unwrap() {
        state.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry.unwrap().path()).unwrap(),
        ));
    }
    assert!(
        state.contains("claricopilot") || state.len() > 1000,
        "the state was read"
    );
    let docs = serde_json::to_string(&w.glean.documents(DATASOURCE)).unwrap();
    let defaults = MockClariConfig::default();
    for secret in [
        defaults.api_key.as_str(),
        defaults.api_password.as_str(),
        MockGleanConfig::default().token.as_str(),
    ] {
        assert!(!state.contains(secret), "state file leaks a secret");
        assert!(!docs.contains(secret), "documents leak a secret");
    }
}
