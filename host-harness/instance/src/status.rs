//! `harness status`: answers an operator's troubleshooting questions from the durable state —
//! when the last crawls ran and how they ended, how many calls are indexed, which failed and
//! why, whether deletions are held, and how much of the weekly API budget is used.

use std::fmt::Write;

use crawl_engine::{CrawlOutcome, StateStore};
use egress::budget::BudgetPeriod;
use state_store::BudgetUsage;

fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn outcome(o: &Option<CrawlOutcome>) -> String {
    match o {
        None => "never".into(),
        Some(o) => {
            let how = if o.completed {
                "completed".to_string()
            } else {
                format!("STOPPED ({})", o.error.as_deref().unwrap_or("unknown"))
            };
            format!(
                "{}, {how}, took {}s: {} indexed, {} deleted, {} failed",
                when(o.started_at),
                o.finished_at - o.started_at,
                o.indexed,
                o.deleted,
                o.failed
            )
        }
    }
}

/// The status report for the state in `store`, with the weekly budget used and allowed, at
/// `now`.
pub fn render(
    name: &str,
    path: &str,
    store: &dyn StateStore,
    budget: BudgetUsage,
    (limit, period): (u64, BudgetPeriod),
    schedule: &crate::config::ScheduleSection,
    now: i64,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "instance {name}  (state {path})");
    crawls(&mut out, store)?;
    held_and_failed(&mut out, store)?;
    budget_and_plan(
        &mut out,
        store.meta(),
        budget,
        (limit, period),
        schedule,
        now,
    );
    Ok(out)
}

/// The last crawls, the documents, an unfinished full crawl and the cursor.
fn crawls(out: &mut String, store: &dyn StateStore) -> anyhow::Result<()> {
    let state = store.meta();
    let _ = writeln!(out, "last full crawl:        {}", outcome(&state.last_full));
    let _ = writeln!(
        out,
        "last incremental crawl: {}",
        outcome(&state.last_incremental)
    );
    let _ = writeln!(out, "indexed documents:      {}", store.document_count()?);
    match &state.full_in_progress {
        Some(p) => {
            let _ = writeln!(
                out,
                "full crawl in progress: started {}, {} items listed so far; the next full crawl resumes it",
                when(p.started_at),
                store.listed_count()?
            );
        }
        None => {
            let _ = writeln!(out, "full crawl in progress: none");
        }
    }
    let _ = writeln!(
        out,
        "incremental cursor:     {}",
        if state.incremental_cursor.is_some() {
            "set"
        } else {
            "none (run a full crawl first)"
        }
    );
    Ok(())
}

/// Deletions held by the brake and items that failed.
fn held_and_failed(out: &mut String, store: &dyn StateStore) -> anyhow::Result<()> {
    let held = store.held_deletions()?;
    let (failed, failures) = store.failures(20)?;
    if held.is_empty() {
        let _ = writeln!(out, "deletions held:         none");
    } else {
        let _ = writeln!(
            out,
            "deletions held:         {} (above the brake; run `harness crawl --mode full --allow-mass-delete` to apply)",
            held.len()
        );
    }
    let _ = writeln!(out, "failed items:           {failed}");
    for (id, f) in &failures {
        let _ = writeln!(
            out,
            "  {id}: {} error at {}: {}",
            f.kind,
            when(f.at),
            f.message
        );
    }
    if failed > 20 {
        let _ = writeln!(out, "  ... and {} more", failed - 20);
    }
    Ok(())
}

/// The week's budget and the planner's plan.
fn budget_and_plan(
    out: &mut String,
    state: &crawl_engine::StateMeta,
    budget: BudgetUsage,
    (weekly_budget, period): (u64, BudgetPeriod),
    schedule: &crate::config::ScheduleSection,
    now: i64,
) {
    let used = budget.current_in(now, period).requests;
    let share = used as f64 / weekly_budget.max(1) as f64 * 100.0;
    let warn = if weekly_budget > 0 && share >= 90.0 {
        format!("  WARNING: the {}'s budget is nearly spent", period.label())
    } else {
        String::new()
    };
    let heading = match period {
        BudgetPeriod::Day => "API budget today:    ",
        BudgetPeriod::Week => "API budget this week:",
    };
    if weekly_budget == 0 {
        let _ = writeln!(
            out,
            "{heading}  {used} requests since {} (no budget: the connector declares none and [crawl] sets none)",
            when(period.start(now))
        );
    } else {
        let _ = writeln!(
            out,
            "{heading}  {used} of {weekly_budget} requests ({share:.1}%) since {}{warn}",
            when(period.start(now))
        );
    }
    let plan = crate::planner::plan_in(
        crate::planner::Inputs {
            meta: state,
            schedule,
            weekly_budget,
            used,
            now,
        },
        period,
    );
    let next = match plan.next {
        crate::planner::Next::Crawl(m) => format!("a {} crawl now", m.name()),
        crate::planner::Next::Wait(s) => format!("nothing for {s} s"),
    };
    let _ = writeln!(
        out,
        "plan:                   {next} ({}){}",
        plan.why,
        if schedule.adaptive {
            ""
        } else {
            "  [adaptive = false: fixed schedule]"
        }
    );
    let _ = writeln!(
        out,
        "polling interval now:   {} s (from {} s while the source is busy to {} min when quiet)",
        plan.poll_interval, schedule.min_poll_seconds, schedule.incremental_minutes
    );
    let _ = writeln!(
        out,
        "forecast to {}: {} of {} requests ({} more reconciling full crawls affordable)",
        when(plan.week_end),
        plan.forecast,
        weekly_budget,
        plan.fulls_affordable
    );
    let _ = writeln!(
        out,
        "expected freshness:     about {} s from an item being ready at the source to its being indexed",
        plan.expected_freshness
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::{FailureRecord, FullPosition, MemoryStore};
    use state_store::week_start;

    #[test]
    fn answers_the_troubleshooting_questions() {
        let now = 1_764_000_000;
        let mut s = MemoryStore::default();
        s.meta.last_full = Some(CrawlOutcome {
            mode: "full".into(),
            started_at: now - 100,
            finished_at: now - 40,
            completed: true,
            indexed: 12,
            deleted: 1,
            failed: 1,
            error: None,
            requests: 0,
        });
        s.meta.full_in_progress = Some(FullPosition::default());
        s.held.insert("gone".into());
        s.failures.insert(
            "c1".into(),
            FailureRecord {
                kind: "system".into(),
                message: "bad field `time`".into(),
                at: now,
            },
        );
        let budget = BudgetUsage {
            week_start: week_start(now),
            requests: 95_000,
            last_sent_ms: 0,
        };
        let text = render(
            "x",
            "x.json",
            &s,
            budget,
            (100_000, BudgetPeriod::Week),
            &crate::config::ScheduleSection::default(),
            now,
        )
        .unwrap();
        for needle in [
            "plan:                   a full crawl now (a full crawl is unfinished: it resumes)",
            "polling interval now:",
            "forecast to ",
            "expected freshness:",
            "completed, took 60s: 12 indexed, 1 deleted, 1 failed",
            "last incremental crawl: never",
            "deletions held:         1",
            "c1: system error",
            "95000 of 100000 requests (95.0%)",
            "WARNING",
            "resumes it",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in\n{text}");
        }
    }
}
