//! A small simulated week (Sunday to Tuesday) on virtual time, with the default configuration:
//! the budget planner keeps freshness within a minute (p95) and three minutes (max), Clari
//! never answers 429, and every title edit, CRM relink and deletion of Monday reaches the
//! index within 24 hours, with the nightly reconciling full crawl. `harness bench-week` runs
//! the full-size week (BENCHMARKS.md).

use harness_sims::week::{WeekOptions, run};

#[test]
fn a_small_week_stays_fresh_within_budget_and_reconciles_edits() {
    let r = run(&WeekOptions {
        calls: 600,
        per_day: 60,
        days: 3,
        seed: 11,
        ..WeekOptions::default()
    })
    .unwrap();
    assert_eq!(r.throttled, 0, "{r:?}");
    assert!(r.finished > 0);
    assert_eq!(r.freshness.len(), r.finished, "calls never indexed: {r:?}");
    assert!(
        r.freshness_at(0.95) <= 60,
        "freshness p95 {} s: {r:?}",
        r.freshness_at(0.95)
    );
    assert!(
        r.freshness_at(1.0) <= 180,
        "freshness max {} s: {r:?}",
        r.freshness_at(1.0)
    );
    // Everything changed before the last full crawl is in the index after it.
    for (what, (done, due, _)) in [
        ("title edits", r.titles),
        ("CRM relinks", r.deals),
        ("deletions", r.deletions),
    ] {
        assert!(due > 0, "no {what} before the last full crawl: {r:?}");
        assert_eq!(done, due, "{what} not reconciled: {r:?}");
    }
    // Within a day of being made, whatever the hour.
    assert_eq!(r.late, 0, "{r:?}");
    assert!(r.slowest_reconciliation <= 86_400, "{r:?}");
    // A reconciling full crawl every night.
    assert!(r.full_crawls >= 3, "{r:?}");
    // Polling follows the workspace: every 30 s only while calls are on their way, so fewer
    // polls than one a minute all along.
    assert!(r.polls < 3 * 24 * 60, "{} polls", r.polls);
}
