//! End to end at scale: a workspace with more than 10,000 eligible calls in one history window,
//! past Clari's `skip` cap of 10,000, is listed by the real component through the real host,
//! every call exactly once.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use chrono::Utc;
use common::WorldBuilder;
use mock_clari::{MockClari, MockClariConfig};
use tenant_instance::config::Config;
use tenant_instance::runtime::GuestClock;
use tenant_instance::runtime::types::{ChangeState, CrawlMode, ListingNext};

#[test]
fn a_window_past_the_skip_cap_is_listed_exactly_once() {
    let calls = 13_000;
    let clari = MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            seed: 11,
            calls,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let facts = clari.control().calls();
    let dir = tempfile::Builder::new()
        .prefix("e2e-scale-")
        .tempdir()
        .unwrap();
    let file = WorldBuilder::new("scale", calls)
        .rate(Some(10_000.0))
        .setting("page_size", toml::Value::Integer(100))
        .config_file(&clari.base_url(), "http://127.0.0.1:9", dir.path());
    let config = Config::from_file(file, std::path::Path::new("."), &common::env).unwrap();
    let runtime = tenant_instance::cached_runtime().unwrap();
    let p = tenant_instance::setup::prepare(&runtime, &config, GuestClock::System).unwrap();

    let started = Utc::now();
    let mut cursor: Option<String> = None;
    let mut listed = Vec::new();
    let mut ready = 0usize;
    let mut pages = 0;
    loop {
        let page = p
            .connector
            .list_changes(CrawlMode::Full, cursor.as_deref())
            .unwrap();
        pages += 1;
        for c in &page.changes {
            listed.push(c.id.clone());
            if matches!(c.state, ChangeState::Ready(_)) {
                ready += 1;
            }
        }
        match page.next {
            ListingNext::More(c) => cursor = Some(c),
            ListingNext::Done(_) => break,
        }
        assert!(pages < 10_000, "the listing does not end");
    }
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "no call is listed twice");
    let expected: BTreeSet<&String> = facts
        .iter()
        .filter(|c| c.time <= started)
        .map(|c| &c.id)
        .collect();
    assert_eq!(unique, expected, "every call in the window is listed");
    assert!(
        ready > 10_000,
        "the window holds more eligible calls ({ready}) than Clari can page"
    );
}
