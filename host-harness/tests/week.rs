//! A small simulated week (Sunday to Tuesday) on virtual time, with the default configuration:
//! the budget planner keeps freshness within two minutes, Clari never answers 429, and every
//! title edit, CRM relink and deletion of Monday reaches the index with Tuesday's reconciling
//! full crawl. `harness bench-week` runs the full-size week (BENCHMARKS.md).

use host_harness::week::{WeekOptions, run};

#[test]
fn a_small_week_stays_fresh_within_budget_and_reconciles_edits() {
    let r = run(&WeekOptions {
        calls: 600,
        per_day: 60,
        days: 3,
        seed: 11,
    })
    .unwrap();
    assert_eq!(r.throttled, 0, "{r:?}");
    assert!(r.finished > 0);
    assert_eq!(r.freshness.len(), r.finished, "calls never indexed: {r:?}");
    assert!(
        r.freshness_at(0.95) <= 120,
        "freshness p95 {} s: {r:?}",
        r.freshness_at(0.95)
    );
    assert!(r.full_crawls >= 2, "{r:?}");
    // Everything changed before the last full crawl is in the index after it.
    for (what, (done, due, _)) in [
        ("title edits", r.titles),
        ("CRM relinks", r.deals),
        ("deletions", r.deletions),
    ] {
        assert!(due > 0, "no {what} before the last full crawl: {r:?}");
        assert_eq!(done, due, "{what} not reconciled: {r:?}");
    }
    // Polling follows the workspace: far fewer polls than one a minute all along.
    assert!(r.polls < 3 * 24 * 60 / 2, "{} polls", r.polls);
}
