//! One tenant, one set of rate limiters and one request budget in a process (issue 21, "one
//! `Instance` per tenant"): a crawl and a fetch of the same tenant prepared at once, as the
//! service does for a crawl and the console's "fetch from source", share them, so every request
//! is counted once in the tenant's state and none is lost to a last writer.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use crawl_engine::Crawler;
use crawl_engine::types::{CrawlMode, Visibility};
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};
use tenant_instance::config::{Config, parse_file};
use tenant_instance::instance::Instance;
use tenant_instance::setup::{RunOptions, prepare_with};

fn config(clari: &MockClari, glean: &MockGlean, state: &std::path::Path) -> Config {
    let text = harness_sims::demo::demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &state.display().to_string(),
        1000.0,
    );
    let defaults = MockClariConfig::default();
    let env = |k: &str| match k {
        "CLARI_API_KEY" => Some(defaults.api_key.clone()),
        "CLARI_API_PASSWORD" => Some(defaults.api_password.clone()),
        _ => Some(MockGleanConfig::default().token),
    };
    Config::from_file(parse_file(&text).unwrap(), std::path::Path::new("."), &env).unwrap()
}

#[test]
fn a_crawl_and_a_fetch_of_one_tenant_share_its_limiters_and_budget_and_lose_no_count() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            calls: 6,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&clari, &glean, &dir.path().join("state"));
    let runtime = tenant_instance::cached_runtime().unwrap();
    let instance = Instance::new();
    let run = || RunOptions::new().with_instance(instance.clone());
    let mut crawl = prepare_with(&runtime, &config, run()).unwrap();
    let fetch = prepare_with(&runtime, &config, run()).unwrap();
    let (a, b) = (crawl.connector.egress(), fetch.connector.egress());
    assert!(
        Arc::ptr_eq(a.budget().unwrap(), b.budget().unwrap()),
        "one budget object for the tenant"
    );
    let (la, lb) = (a.limiters(), b.limiters());
    assert!(!la.is_empty() && la.len() == lb.len());
    assert!(
        la.iter().zip(&lb).all(|(x, y)| Arc::ptr_eq(x, y)),
        "one rate limiter per upstream for the tenant"
    );

    let report = Crawler::new(
        &crawl.connector,
        &*crawl.index,
        &mut *crawl.store,
        crawl.options.clone(),
    )
    .run(CrawlMode::Full)
    .unwrap();
    assert!(report.completed && report.indexed > 0, "{report:?}");
    let id = clari.control().calls()[0].id.clone();
    fetch
        .connector
        .fetch_with_permissions(&id, Visibility::Unknown)
        .unwrap();
    let sent = clari.control().request_count();
    assert!(sent > report.requests, "the fetch reached the source too");
    assert_eq!(
        instance
            .live_usage(Utc::now().timestamp())
            .map(|u| u.requests),
        Some(sent)
    );
    drop((crawl, fetch));
    assert_eq!(instance.live_usage(Utc::now().timestamp()), None);

    // Every request counted once in the state: with a budget each, the fetch's count (loaded
    // before the crawl spent anything) would have overwritten the crawl's.
    let store = state_store::SqliteStore::open(&config.state_dir, &config.name).unwrap();
    assert_eq!(store.budget.requests, sent);

    // The next user loads the budget again from the state and goes on counting from there.
    let again = prepare_with(&runtime, &config, run()).unwrap();
    assert_eq!(
        again.connector.egress().budget().unwrap().usage().requests,
        sent
    );
}
