//! Spending Clari's budget only on what changed: a reconciling full crawl of an unchanged
//! workspace fetches only its rolling deep-refresh share, and edits the listing shows (a
//! title, a CRM relink) still reach the index within one full crawl.

use crate::common;

use common::{DATASOURCE, WorldBuilder};
use tenant_instance::crawl::types::CrawlMode;

#[test]
fn an_unchanged_workspace_is_reconciled_within_the_request_target() {
    let mut w = WorldBuilder::new("reconcile-cost", 200).build();
    let first = w.full();
    assert!(first.completed, "{first}");
    let n = first.listed;
    let second = w.full();
    assert!(second.completed, "{second}");
    // Listing and privacy pass per page of 25, the deep-refresh share, and /users.
    let target = 2 * n.div_ceil(25) + n.div_ceil(14) + 1;
    eprintln!(
        "reconciling {n} listed calls ({} indexed): {} requests (target {target}; the first crawl sent {})",
        first.fetched, second.requests, first.requests
    );
    assert!(
        second.requests <= target,
        "{} requests for {n} unchanged calls, target {target}: {second}",
        second.requests
    );
    assert_eq!(second.indexed, 0, "{second}");
    assert!(second.not_fetched > 0, "{second}");
    // Fourteen crawls (two weeks of nightly full crawls) re-fetch every indexed call at
    // least once (the deep refresh).
    let mut fetched = second.fetched;
    for _ in 0..13 {
        fetched += w.full().fetched;
    }
    assert!(
        fetched >= first.fetched,
        "{fetched} fetched over 14 crawls, {} indexed",
        first.fetched
    );
}

#[test]
fn a_title_edit_and_a_crm_relink_reach_the_index_within_one_full_crawl() {
    let mut w = WorldBuilder::new("reconcile-edits", 60).build();
    assert!(w.full().completed);
    let docs = w.glean.documents(DATASOURCE);
    let titled = docs[0].id.clone().unwrap();
    let relinked = docs
        .iter()
        .filter_map(|d| d.id.clone())
        .find(|id| *id != titled)
        .unwrap();
    let control = w.clari.control();
    control
        .set_title(&titled, "Renamed: pricing review with Initech")
        .unwrap();
    control
        .set_deal(&relinked, Some("Initech – renewal 2027"))
        .unwrap();
    // Neither edit moves last_modified_time, so an incremental crawl does not see them...
    let incremental = w.crawl(CrawlMode::Incremental, false);
    assert!(incremental.completed);
    // ...and one full crawl does, although most calls are not fetched.
    let full = w.full();
    assert!(full.completed, "{full}");
    assert!(full.not_fetched > 0, "{full}");
    let docs = w.glean.documents(DATASOURCE);
    let doc = |id: &str| docs.iter().find(|d| d.id.as_deref() == Some(id)).unwrap();
    assert_eq!(
        doc(&titled).title.as_deref(),
        Some("Renamed: pricing review with Initech")
    );
    let relinked_json = serde_json::to_string(doc(&relinked)).unwrap();
    assert!(
        relinked_json.contains("Initech – renewal 2027"),
        "{relinked_json}"
    );
}
