//! Crawl safety end to end: deletions only on proof (a failed listing deletes nothing; a mass
//! deletion is held by the brake until the operator allows it), and a crawl under Clari's
//! 10 requests/s limit never trips it.

use std::net::SocketAddr;

use chrono::Utc;
use host_harness::config::{Config, parse_file};
use host_harness::crawl::{CrawlReport, Crawler};
use host_harness::demo::demo_config_toml;
use host_harness::runtime::{GuestClock, types::CrawlMode};
use host_harness::setup::{self, Prepared};
use mock_clari::{Faults, MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

const DATASOURCE: &str = "claricopilot";

struct World {
    clari: MockClari,
    glean: MockGlean,
    prepared: Prepared,
    dir: std::path::PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn world(name: &str, calls: usize, rate: f64) -> World {
    world_with(name, calls, rate, "")
}

fn world_with(name: &str, calls: usize, rate: f64, crawl_settings: &str) -> World {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: 21,
            calls,
            anchor: Utc::now(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("e2e-safety-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let text = demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.display().to_string(),
        rate,
    )
    .replace(
        "[crawl]",
        &format!("[crawl]\nmax_retries = 1\n{crawl_settings}"),
    );
    let env = |k: &str| match k {
        "CLARI_API_KEY" => Some(MockClariConfig::default().api_key),
        "CLARI_API_PASSWORD" => Some(MockClariConfig::default().api_password),
        _ => Some(MockGleanConfig::default().token),
    };
    let config =
        Config::from_file(parse_file(&text).unwrap(), std::path::Path::new("."), &env).unwrap();
    let runtime = host_harness::cached_runtime().unwrap();
    let prepared = setup::prepare(&runtime, &config, GuestClock::System).unwrap();
    World {
        clari,
        glean,
        prepared,
        dir,
    }
}

fn crawl(w: &mut World, allow_mass_delete: bool) -> CrawlReport {
    let p = &mut w.prepared;
    let mut options = p.options.clone();
    options.allow_mass_delete = allow_mass_delete;
    Crawler::new(&p.connector, &*p.index, &mut p.store, options)
        .run(CrawlMode::Full)
        .unwrap()
}

fn indexed(w: &World) -> usize {
    w.glean.documents(DATASOURCE).len()
}

fn delete_indexed(w: &World, n: usize) {
    for d in w.glean.documents(DATASOURCE).iter().take(n) {
        w.clari
            .control()
            .delete_call(d.id.as_deref().unwrap())
            .unwrap();
    }
}

#[test]
fn a_failed_listing_deletes_nothing() {
    let mut w = world("failed", 40, 1000.0);
    assert!(crawl(&mut w, false).completed);
    let before = indexed(&w);
    delete_indexed(&w, 3);
    w.clari.control().set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let report = crawl(&mut w, false);
    assert!(!report.completed, "{report}");
    assert_eq!(report.deleted, 0);
    assert_eq!(indexed(&w), before, "nothing was deleted");
    // Once the source answers again, the deletions are proven and made.
    w.clari.control().set_faults(Faults::default());
    let report = crawl(&mut w, false);
    assert!(report.completed, "{report}");
    assert_eq!(report.deleted, 3, "{report}");
    assert_eq!(indexed(&w), before - 3);
}

#[test]
fn mass_deletions_are_held_until_allowed() {
    let mut w = world("brake", 40, 1000.0);
    assert!(crawl(&mut w, false).completed);
    let before = indexed(&w);
    let gone = before / 2;
    delete_indexed(&w, gone);
    let report = crawl(&mut w, false);
    assert!(report.completed, "{report}");
    assert_eq!(report.deleted, 0);
    assert_eq!(report.deletions_held as usize, gone, "{report}");
    assert_eq!(indexed(&w), before, "held deletions leave the index alone");
    assert_eq!(w.prepared.store.state.held_deletions.len(), gone);
    let report = crawl(&mut w, true);
    assert_eq!(report.deleted as usize, gone, "{report}");
    assert_eq!(indexed(&w), before - gone);
    assert!(w.prepared.store.state.held_deletions.is_empty());
}

#[test]
fn an_emptied_source_is_held_not_wiped() {
    let mut w = world("empty", 30, 1000.0);
    assert!(crawl(&mut w, false).completed);
    let before = indexed(&w);
    for c in w.clari.control().calls() {
        w.clari.control().delete_call(&c.id).unwrap();
    }
    let report = crawl(&mut w, false);
    assert_eq!(report.deleted, 0, "{report}");
    assert_eq!(indexed(&w), before);
}

#[test]
fn a_crawl_at_clari_rate_never_trips_the_limit() {
    let mut w = world("rate", 25, 10.0);
    w.clari.control().set_faults(Faults {
        rate_limit_per_sec: Some(10),
        ..Faults::default()
    });
    let report = crawl(&mut w, false);
    assert!(report.completed, "{report}");
    assert_eq!(
        w.clari.control().throttled_count(),
        0,
        "no 429 was served: {report}"
    );
    assert!(report.indexed > 0);
}

#[test]
fn a_spent_weekly_budget_stops_the_crawl_at_a_checkpoint() {
    let mut w = world_with("budget", 60, 1000.0, "weekly_request_budget = 12");
    let started = std::time::Instant::now();
    let report = crawl(&mut w, false);
    assert!(!report.completed, "{report}");
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("budget")),
        "{report}"
    );
    assert!(report.requests <= 12, "{report}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "it stopped rather than waited"
    );
    assert_eq!(w.prepared.store.state.budget.requests, report.requests);
    // What was fetched before the budget ran out is indexed and checkpointed.
    assert_eq!(w.prepared.store.state.documents.len(), indexed(&w));
}
