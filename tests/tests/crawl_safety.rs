//! Crawl safety end to end: deletions only on proof (a failed listing deletes nothing; a mass
//! deletion is held by the brake until the operator allows it), and a crawl under Clari's
//! 10 requests/s limit never trips it.

use crate::common;

use common::{DATASOURCE, World, WorldBuilder};
use mock_clari::{Faults, ScriptedFailure};
use tenant_instance::crawl::CrawlReport;
use tenant_instance::crawl::types::CrawlMode;

fn world(name: &str, calls: usize, rate: f64) -> World {
    WorldBuilder::new(name, calls)
        .rate(Some(rate))
        .crawl(|c| c.max_retries = 1)
        .build()
}

fn crawl(w: &mut World, allow_mass_delete: bool) -> CrawlReport {
    w.crawl(CrawlMode::Full, allow_mass_delete)
}

fn indexed(w: &World) -> usize {
    w.indexed()
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
    assert_eq!(w.prepared.store.held_deletions().unwrap().len(), gone);
    let report = crawl(&mut w, true);
    assert_eq!(report.deleted as usize, gone, "{report}");
    assert_eq!(indexed(&w), before - gone);
    assert!(w.prepared.store.held_deletions().unwrap().is_empty());
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
    let mut w = WorldBuilder::new("budget", 60)
        .crawl(|c| {
            c.max_retries = 1;
            c.request_budget = Some(12);
        })
        .build();
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
    let budget =
        tenant_instance::crawl::state::SqliteStore::open(&w.config.state_dir, &w.config.name)
            .unwrap()
            .budget;
    assert_eq!(budget.requests, report.requests);
    // What was fetched before the budget ran out is indexed and checkpointed.
    assert_eq!(
        w.prepared.store.document_count().unwrap() as usize,
        indexed(&w)
    );
}

#[test]
fn the_brake_counts_deletions_over_a_rolling_day_not_per_crawl() {
    let mut w = world("rolling", 60, 1000.0);
    assert!(crawl(&mut w, false).completed);
    let before = indexed(&w);
    let step = before * 15 / 100;
    delete_indexed(&w, step);
    let first = crawl(&mut w, false);
    assert_eq!(first.deleted as usize, step, "{first}");
    // Another 15% the same day: together over 20%, so held.
    let remaining: Vec<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .map(|d| d.id.clone().unwrap())
        .collect();
    for id in remaining.iter().take(step) {
        w.clari.control().delete_call(id).unwrap();
    }
    let second = crawl(&mut w, false);
    assert_eq!(second.deleted, 0, "{second}");
    assert_eq!(second.deletions_held as usize, step, "{second}");
}

#[test]
fn status_shows_only_the_deletions_held_now() {
    let mut w = world("held-now", 40, 1000.0);
    assert!(crawl(&mut w, false).completed);
    delete_indexed(&w, indexed(&w) / 2);
    let held = crawl(&mut w, false);
    assert!(held.deletions_held > 0, "{held}");
    assert!(!w.prepared.store.held_deletions().unwrap().is_empty());
    // A later complete listing that can no longer prove them gone holds nothing.
    w.clari.control().fail_next(ScriptedFailure {
        path: "/call-details".into(),
        query_contains: String::new(),
        status: 502,
        retry_after_secs: None,
        times: 10_000,
    });
    let later = crawl(&mut w, false);
    assert!(later.completed, "{later}");
    assert_eq!(later.deletions_held, 0, "{later}");
    assert!(w.prepared.store.held_deletions().unwrap().is_empty());
    let status = tenant_instance::status::render(
        "x",
        "x",
        &*w.prepared.store,
        Default::default(),
        (100_000, tenant_instance::planner::BudgetPeriod::Week),
        &Default::default(),
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    assert!(status.contains("deletions held:         none"), "{status}");
}
