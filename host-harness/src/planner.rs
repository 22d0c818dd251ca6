//! The budget planner: when to poll and when to reconcile, so that Clari's weekly request
//! budget (weeks from Sunday 00:00 GMT) never runs out and calls are indexed as soon after
//! they finish processing as the budget allows.
//!
//! - **Polling adapts to the workspace.** While the source is busy (a crawl found changes
//!   recently) incremental crawls run every `min_poll_seconds`; the longer it stays quiet
//!   (nights, weekends) the longer the wait, up to `incremental_minutes`.
//! - **Reconciliation goes where it is cheap and affordable.** A full crawl is due every
//!   `full_hours`; it waits for a quiet hour (up to half a day) and runs only if, after it,
//!   the rest of the week's polling still fits the budget. Otherwise it is deferred.
//! - **Backfill first.** With no cursor, or a full crawl unfinished, the full crawl runs
//!   (the egress budget still refuses what would overspend).
//! - **The week never runs out.** Polling is stretched when the forecast to Sunday would
//!   pass the budget, and stops (until the week turns) when a poll would overspend.
//!
//! The planner is a pure function of the state, the schedule, the budget used and the clock,
//! so `harness status` shows the same plan the scheduler follows.

use crawl_engine::StateMeta;
use crawl_engine::types::CrawlMode;
use serde::Serialize;

use crate::config::ScheduleSection;

/// Seconds in a week.
const WEEK: i64 = 7 * 86_400;

/// A full crawl waits this long at most for a quiet hour.
const QUIET_WAIT: i64 = 12 * 3600;

/// The source counts as quiet after this long without a change.
const QUIET_AFTER: i64 = 3600;

/// Share of the weekly budget the plan spends at most; the rest absorbs retries and surprises.
const SPEND_SHARE: f64 = 0.95;

/// Requests an incremental poll costs when none has run yet: the listing and its privacy pass.
const DEFAULT_POLL_COST: f64 = 2.0;

/// The most a poll is assumed to cost when planning (a poll's listing, its privacy pass, and
/// the details of the calls that finished since the last one).
const MAX_POLL_COST: f64 = 12.0;

/// Share of the rest of the week planned as busy (polled every `min_poll_seconds`).
const BUSY_SHARE: f64 = 0.5;

/// What the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub meta: &'a StateMeta,
    pub schedule: &'a ScheduleSection,
    /// Requests allowed a week (0: no budget).
    pub weekly_budget: u64,
    /// Requests sent this week so far.
    pub used: u64,
    /// Epoch seconds.
    pub now: i64,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    Crawl(#[serde(serialize_with = "mode_name")] CrawlMode),
    /// Nothing is due for this many seconds.
    Wait(i64),
}

fn mode_name<S: serde::Serializer>(m: &CrawlMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

/// The plan, as the scheduler follows it and `harness status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub next: Next,
    /// Why, in words.
    pub why: String,
    /// The wait between incremental polls now, seconds.
    pub poll_interval: i64,
    /// Sunday 00:00 GMT ending this week, epoch seconds.
    pub week_end: i64,
    pub used: u64,
    /// Requests expected by the week's end (used, polling, the full crawls that fit).
    pub forecast: u64,
    pub budget: u64,
    /// Full crawls the rest of the week can afford, beside polling.
    pub fulls_affordable: u64,
    /// Expected delay from a call finishing processing to its being indexed, seconds.
    pub expected_freshness: i64,
}

/// Sunday 00:00 GMT at or before `now`: the week of the budget's own count (one definition).
pub use egress::budget::week_start;

/// The wait between polls for a source last seen changing at `last_change`, judged by how
/// quiet it had been when it was last looked at (`looked_at`, the end of the last crawl): the
/// shortest while it is busy, growing by a quarter of the quiet time, up to the longest.
///
/// Judging at the last look, not at the moment of asking, matters: asked later, the wait
/// itself would count as quiet time, and a source that changes at every poll would be polled
/// every `min / (1 - 1/4)` (80 s for 60), not every `min`.
pub fn poll_interval(schedule: &ScheduleSection, last_change: Option<i64>, looked_at: i64) -> i64 {
    let (min, max) = (min_poll(schedule), max_poll(schedule));
    match last_change {
        Some(t) => min
            .saturating_add(looked_at.saturating_sub(t).max(0) / 4)
            .clamp(min, max.max(min)),
        None => max.max(min),
    }
}

/// Seconds as the planner counts them: `n` units of `unit` seconds, at least one unit, capped
/// at [`SPAN_CAP`] so that no schedule value, however large, overflows the arithmetic.
fn seconds(n: u64, unit: u64) -> i64 {
    i64::try_from(n.max(1).saturating_mul(unit))
        .unwrap_or(SPAN_CAP)
        .min(SPAN_CAP)
}

/// The longest span the planner reasons about: ten years.
const SPAN_CAP: i64 = 10 * 366 * 86_400;

fn min_poll(s: &ScheduleSection) -> i64 {
    seconds(s.min_poll_seconds, 1)
}

fn max_poll(s: &ScheduleSection) -> i64 {
    seconds(s.incremental_minutes, 60)
}

/// When the last crawl of any kind ended (epoch seconds), if one ran.
fn last_crawl_end(m: &StateMeta) -> Option<i64> {
    [m.last_full.as_ref(), m.last_incremental.as_ref()]
        .into_iter()
        .flatten()
        .map(|o| o.finished_at)
        .max()
}

/// Decides what runs next.
pub fn plan(i: Inputs<'_>) -> Plan {
    let m = i.meta;
    let week_end = week_start(i.now) + WEEK;
    let remaining = (week_end - i.now).max(0);
    let budget = i.weekly_budget;
    let ceiling = (budget as f64 * SPEND_SHARE) as u64;
    let full_cost = m
        .last_full
        .as_ref()
        .filter(|f| f.completed)
        .map(|f| f.requests);
    // What a poll costs: the last one's requests, within bounds (one poll that fetched a
    // burst of new calls must not swing the plan).
    let poll_cost = m
        .last_incremental
        .as_ref()
        .map_or(DEFAULT_POLL_COST, |o| o.requests as f64)
        .clamp(DEFAULT_POLL_COST, MAX_POLL_COST);
    let looked_at = last_crawl_end(m).unwrap_or(i.now).min(i.now);
    let mut interval = poll_interval(i.schedule, m.last_change_at, looked_at);
    // The polling the rest of the week needs, as if busy half the time (polls every
    // `min_poll_seconds`) and quiet the other half: an estimate that does not swing with the
    // hour it is made at, so a full crawl run at night does not eat the next day's polling.
    let min = min_poll(i.schedule) as f64;
    let max = max_poll(i.schedule) as f64;
    let polls_left = remaining as f64 * (BUSY_SHARE / min + (1.0 - BUSY_SHARE) / max.max(min));
    let mut polling = (polls_left * poll_cost) as u64;
    if budget > 0 {
        let room = ceiling.saturating_sub(i.used);
        if polling > room {
            // Stretch polling until the rest of the week fits.
            let stretch = polling as f64 / room.max(1) as f64;
            interval = interval.max((min * stretch).ceil() as i64);
            polling = room;
        }
        // What is left is all polling can have.
        polling = polling.min(budget.saturating_sub(i.used));
    }
    let full_every = seconds(i.schedule.full_hours, 3600);
    let fulls_affordable = match (budget, full_cost) {
        (0, _) => u64::MAX,
        (_, None) => 0,
        (_, Some(c)) => ceiling.saturating_sub(i.used.saturating_add(polling)) / c.max(1),
    };
    let fulls_wanted = (remaining / full_every).max(0) as u64 + 1;
    let fulls_planned = fulls_affordable.min(fulls_wanted);
    let forecast = i
        .used
        .saturating_add(polling)
        .saturating_add(fulls_planned.saturating_mul(full_cost.unwrap_or(0)));
    let last_duration = m
        .last_incremental
        .as_ref()
        .map_or(0, |o| (o.finished_at - o.started_at).max(0));
    let expected_freshness = (interval / 2).saturating_add(last_duration);
    let (next, why) = decide(
        &i,
        interval,
        full_every,
        full_cost,
        poll_cost,
        fulls_affordable,
    );
    Plan {
        next,
        why,
        poll_interval: interval,
        week_end,
        used: i.used,
        forecast,
        budget,
        fulls_affordable: if budget == 0 { 0 } else { fulls_affordable },
        expected_freshness,
    }
}

fn decide(
    i: &Inputs<'_>,
    interval: i64,
    full_every: i64,
    full_cost: Option<u64>,
    poll_cost: f64,
    fulls_affordable: u64,
) -> (Next, String) {
    let m = i.meta;
    let now = i.now;
    if m.incremental_cursor.is_none() || m.full_in_progress.is_some() {
        return (
            Next::Crawl(CrawlMode::Full),
            if m.full_in_progress.is_some() {
                "a full crawl is unfinished: it resumes".into()
            } else {
                "no complete listing yet: the first full crawl (backfill)".into()
            },
        );
    }
    let week_end = week_start(now) + WEEK;
    if i.weekly_budget > 0 && i.used as f64 + poll_cost > i.weekly_budget as f64 {
        return (
            Next::Wait((week_end - now).max(1)),
            "this week's budget is spent: crawls resume when the week turns (Sunday 00:00 GMT)"
                .into(),
        );
    }
    let last_full = m
        .last_full
        .as_ref()
        .filter(|o| o.completed)
        .map_or(i64::MIN / 2, |o| o.started_at);
    let full_due = last_full.saturating_add(full_every);
    let quiet = m.last_change_at.is_none_or(|t| now - t >= QUIET_AFTER);
    let affordable = i.weekly_budget == 0 || full_cost.is_none() || fulls_affordable >= 1;
    if now >= full_due && affordable && (quiet || now >= full_due.saturating_add(QUIET_WAIT)) {
        return (
            Next::Crawl(CrawlMode::Full),
            if quiet {
                "a reconciling full crawl is due and the source is quiet".into()
            } else {
                "a reconciling full crawl is overdue by half a day".into()
            },
        );
    }
    let last_any = last_crawl_end(m).unwrap_or(i64::MIN / 2);
    let poll_due = last_any.saturating_add(interval);
    if now >= poll_due {
        return (
            Next::Crawl(CrawlMode::Incremental),
            format!("a poll is due (every {interval} s now)"),
        );
    }
    let full_next = if now >= full_due {
        // Due but waiting for quiet or for budget: check again at the next poll.
        poll_due
    } else {
        full_due
    };
    let why = if now >= full_due && !affordable {
        "the reconciling full crawl is deferred: the rest of the week's polling would not fit the budget".to_string()
    } else if now >= full_due {
        "the reconciling full crawl waits for a quiet hour".to_string()
    } else {
        format!("the next poll in {} s", poll_due - now)
    };
    (Next::Wait((poll_due.min(full_next) - now).max(1)), why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::CrawlOutcome;

    /// Wednesday 2026-11-25 12:00 GMT.
    const NOW: i64 = 1_795_608_000;

    fn outcome(mode: &str, started: i64, finished: i64, requests: u64) -> CrawlOutcome {
        CrawlOutcome {
            mode: mode.into(),
            started_at: started,
            finished_at: finished,
            completed: true,
            indexed: 0,
            deleted: 0,
            failed: 0,
            error: None,
            requests,
        }
    }

    fn meta() -> StateMeta {
        StateMeta {
            incremental_cursor: Some("c".into()),
            last_full: Some(outcome("full", NOW - 3600, NOW - 3000, 11_000)),
            last_incremental: Some(outcome("incremental", NOW - 105, NOW - 100, 2)),
            ..StateMeta::default()
        }
    }

    fn schedule() -> ScheduleSection {
        ScheduleSection::default()
    }

    /// The plan on the default schedule and Clari's weekly budget of 100,000.
    fn plan_at(meta: &StateMeta, used: u64, now: i64) -> Plan {
        plan(Inputs {
            meta,
            schedule: &schedule(),
            weekly_budget: 100_000,
            used,
            now,
        })
    }

    #[test]
    fn no_schedule_value_overflows_the_plan() {
        // 2^60 hours wrapped `full_hours * 3600` to 0 and then divided by it.
        for big in [1u64 << 60, u64::MAX, u64::MAX / 60, u64::MAX / 3600] {
            let s = ScheduleSection {
                full_hours: big,
                incremental_minutes: big,
                min_poll_seconds: big,
                ..ScheduleSection::default()
            };
            for used in [0, 99_999, u64::MAX] {
                let p = plan(Inputs {
                    meta: &meta(),
                    schedule: &s,
                    weekly_budget: 100_000,
                    used,
                    now: NOW,
                });
                assert!(p.poll_interval > 0, "{big}: {p:?}");
            }
        }
    }

    #[test]
    fn weeks_start_on_sunday_at_midnight_gmt() {
        // 2026-11-22 was a Sunday.
        assert_eq!(week_start(NOW), 1_795_305_600);
        assert_eq!(week_start(1_795_305_600), 1_795_305_600);
        assert_eq!(week_start(1_795_305_599), 1_795_305_600 - WEEK);
    }

    #[test]
    fn polling_is_fast_while_busy_and_slow_when_quiet() {
        let s = schedule();
        assert_eq!(poll_interval(&s, Some(NOW - 10), NOW), 32);
        assert_eq!(poll_interval(&s, Some(NOW - 600), NOW), 30 + 150);
        assert_eq!(poll_interval(&s, Some(NOW - 6 * 3600), NOW), 5 * 60);
        assert_eq!(poll_interval(&s, None, NOW), 5 * 60);
        // A source that changed at the last poll is polled again after exactly the shortest
        // wait, however long the planner is asked for in between.
        let mut m = meta();
        m.last_change_at = Some(NOW - 100);
        for now in [NOW - 90, NOW - 71, NOW - 70, NOW - 69, NOW] {
            let p = plan_at(&m, 20_000, now);
            assert_eq!(p.poll_interval, 30, "at {now}: {p:?}");
            let due = now >= NOW - 70;
            assert_eq!(
                p.next == Next::Crawl(CrawlMode::Incremental),
                due,
                "at {}: {p:?}",
                now - NOW
            );
        }
        let mut m = meta();
        m.last_change_at = Some(NOW - 30);
        let p = plan_at(&m, 20_000, NOW);
        assert_eq!(p.next, Next::Crawl(CrawlMode::Incremental), "{p:?}");
        m.last_change_at = Some(NOW - 5 * 3600);
        let p = plan_at(&m, 20_000, NOW);
        assert!(matches!(p.next, Next::Wait(_)), "{p:?}");
        assert!(p.expected_freshness > 100, "{p:?}");
    }

    #[test]
    fn a_full_crawl_waits_for_quiet_and_for_budget() {
        let mut m = meta();
        m.last_full = Some(outcome("full", NOW - 25 * 3600, NOW - 24 * 3600, 11_000));
        m.last_change_at = Some(NOW - 60);
        let busy = plan_at(&m, 20_000, NOW);
        assert_eq!(busy.next, Next::Crawl(CrawlMode::Incremental), "{busy:?}");
        m.last_change_at = Some(NOW - 2 * 3600);
        let quiet = plan_at(&m, 20_000, NOW);
        assert_eq!(quiet.next, Next::Crawl(CrawlMode::Full), "{quiet:?}");
        // Not when the rest of the week's polling would no longer fit.
        let tight = plan_at(&m, 88_000, NOW);
        assert_ne!(tight.next, Next::Crawl(CrawlMode::Full), "{tight:?}");
        assert_eq!(tight.fulls_affordable, 0);
        assert!(tight.forecast <= 95_000, "{tight:?}");
    }

    #[test]
    fn the_week_never_runs_out() {
        let m = meta();
        for used in [0, 50_000, 90_000, 94_000, 99_000, 99_999, 100_000] {
            let p = plan_at(&m, used, NOW);
            assert!(p.forecast <= 100_000.max(used), "{used}: {p:?}");
        }
        let spent = plan_at(&m, 100_000, NOW);
        assert_eq!(spent.next, Next::Wait(spent.week_end - NOW), "{spent:?}");
    }

    #[test]
    fn backfill_and_unfinished_full_crawls_go_first() {
        let fresh = StateMeta::default();
        let p = plan_at(&fresh, 0, NOW);
        assert_eq!(p.next, Next::Crawl(CrawlMode::Full));
        assert!(p.why.contains("backfill"));
    }
}
