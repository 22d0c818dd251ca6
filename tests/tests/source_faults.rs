//! A bad day at the source: 5xx on each kind of request, 429 with and without `Retry-After`,
//! a privacy pass that keeps failing. Each either heals by retrying (the index ends exactly as
//! a clean crawl leaves it) or stops the crawl at a checkpoint, loudly, with every indexed
//! document keeping its permissions.

use crate::common;

use std::time::Duration;

use common::{DATASOURCE, WorldBuilder};
use mock_clari::{Faults, ScriptedFailure};

fn fail(
    path: &str,
    query: &str,
    status: u16,
    retry_after: Option<u64>,
    times: u32,
) -> ScriptedFailure {
    ScriptedFailure {
        path: path.into(),
        query_contains: query.into(),
        status,
        retry_after_secs: retry_after,
        times,
    }
}

/// Permissions of every indexed document, by id.
fn permissions(w: &common::World) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .map(|d| {
            (
                d.id.clone().unwrap_or_default(),
                serde_json::to_string(&d.permissions).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn one_5xx_on_each_kind_of_request_heals_by_retrying() {
    let mut clean = WorldBuilder::new("faults-clean", 60).build();
    let want = clean.full();
    assert!(want.completed, "{want}");
    let want_perms = permissions(&clean);
    for (path, query, status) in [
        ("/users", "", 502),
        ("/calls", "includePrivate=true", 500),
        ("/calls", "includePrivate=false", 502),
        ("/call-details", "", 504),
    ] {
        let mut w = WorldBuilder::new("faults-one", 60).build();
        w.clari
            .control()
            .fail_next(fail(path, query, status, None, 1));
        let report = w.full();
        assert!(report.completed, "{path}?{query}: {report}");
        assert!(report.failures.is_empty(), "{path}?{query}: {report}");
        assert_eq!(report.access, want.access, "{path}?{query}: {report}");
        assert_eq!(permissions(&w), want_perms, "{path}?{query}");
    }
}

#[test]
fn a_privacy_pass_that_keeps_failing_stops_the_crawl_and_keeps_permissions() {
    let mut w = WorldBuilder::new("faults-privacy", 60)
        .crawl(|c| c.max_retries = 2)
        .build();
    assert!(w.full().completed);
    let before = permissions(&w);
    assert!(before.iter().any(|(_, p)| p.contains("allowedUsers")));
    w.clari
        .control()
        .fail_next(fail("/calls", "includePrivate=false", 502, None, 1000));
    let report = w.full();
    assert!(!report.completed, "{report}");
    let why = report.stopped.clone().unwrap_or_default();
    assert!(why.contains("public"), "{why}");
    assert_eq!(report.access.no_access, 0, "{report}");
    assert_eq!(
        permissions(&w),
        before,
        "indexed documents keep their permissions"
    );
    // `harness status` says so.
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
    assert!(status.contains("public"), "{status}");
}

#[test]
fn a_429_pauses_the_whole_upstream() {
    for (retry_after, pause) in [
        (Some(2), Duration::from_millis(1900)),
        (None, Duration::from_millis(950)),
    ] {
        let mut w = WorldBuilder::new("faults-429", 40)
            .rate(Some(50.0))
            .crawl(|c| c.concurrency = 4)
            .build();
        w.clari
            .control()
            .fail_next(fail("/call-details", "", 429, retry_after, 1));
        let report = w.full();
        assert!(report.completed, "{report}");
        assert!(report.failures.is_empty(), "{report}");
        // After the 429 arrived, the upstream heard nothing for the pause (requests already
        // on their way excepted: at most one per other worker).
        let arrivals = w.clari.control().arrivals();
        let longest = arrivals
            .windows(2)
            .map(|p| p[1].duration_since(p[0]))
            .max()
            .unwrap();
        assert!(longest >= pause, "{retry_after:?}: longest gap {longest:?}");
    }
}

#[test]
fn the_default_configuration_never_puts_more_than_the_rate_in_a_second() {
    // Clari's documented limit, as the README's configuration sets it; nothing else tuned.
    let mut w = WorldBuilder::new("faults-window", 60)
        .rate(Some(10.0))
        .build();
    w.clari.control().set_faults(Faults {
        rate_limit_per_sec: Some(10),
        ..Faults::default()
    });
    let report = w.full();
    assert!(report.completed, "{report}");
    assert_eq!(w.clari.control().throttled_count(), 0);
    assert!(w.clari.control().max_in_window(Duration::from_secs(1)) <= 10);
    // From the very first request: the first second holds at most 10.
    let arrivals = w.clari.control().arrivals();
    let first = arrivals[0];
    assert!(
        arrivals
            .iter()
            .filter(|t| t.duration_since(first) < Duration::from_secs(1))
            .count()
            <= 10
    );
    // And an upstream with no rate configured gets the rate the connector declares for its
    // source (Clari's 10 a second, stamped into the component), not a guess.
    let mut w = WorldBuilder::new("faults-default-rate", 12)
        .rate(None)
        .build();
    w.clari.control().set_faults(Faults {
        rate_limit_per_sec: Some(10),
        ..Faults::default()
    });
    assert!(w.full().completed);
    assert_eq!(w.clari.control().throttled_count(), 0);
    assert!(w.clari.control().max_in_window(Duration::from_secs(1)) <= 10);
}
