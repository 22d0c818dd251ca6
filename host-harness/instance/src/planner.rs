//! The budget planner: when to poll and when to reconcile, so that a source's request budget
//! never runs out and calls are indexed as soon after they finish processing as the budget
//! allows. A budget is counted per [`BudgetPeriod`]: Clari's per week (weeks from Sunday
//! 00:00 GMT, [`plan`]), Gong's per UTC day ([`plan_in`] with [`BudgetPeriod::Day`]). The
//! planner reasons the same way about either, to the end of the current period.
//!
//! - **Polling adapts to the workspace.** While the source is busy (a crawl found changes
//!   recently) incremental crawls run every `min_poll_seconds`; the longer it stays quiet
//!   (nights, weekends) the longer the wait, up to `incremental_minutes`.
//! - **Reconciliation goes where it is cheap and affordable.** A full crawl is due every
//!   `full_hours`; it waits for a quiet hour (up to half a day) and runs only if, after it,
//!   the rest of the period's polling still fits the budget. Otherwise it is deferred, at
//!   the latest to the next period (a full crawl that cannot fit even a whole period's
//!   budget beside its estimated polling is deferred until a period leaves room, and the
//!   plan says so).
//! - **Backfill first.** With no cursor, or a full crawl unfinished, the full crawl runs
//!   (the egress budget still refuses what would overspend).
//! - **The period never runs out.** Polling is stretched when the forecast to the period's
//!   end would pass the budget, and stops (until the period turns) when a poll would
//!   overspend.
//!
//! The planner is a pure function of the state, the schedule, the budget used and the clock,
//! so `harness status` shows the same plan the scheduler follows.

use crawl_engine::StateMeta;
use crawl_engine::types::CrawlMode;
use serde::Serialize;

use crate::config::ScheduleSection;
pub use egress::budget::BudgetPeriod;

/// A full crawl waits this long at most for a quiet hour.
const QUIET_WAIT: i64 = 12 * 3600;

/// The source counts as quiet after this long without a change.
const QUIET_AFTER: i64 = 3600;

/// Share of a period's budget the plan spends at most; the rest absorbs retries and surprises.
const SPEND_SHARE: f64 = 0.95;

/// Requests an incremental poll costs when none has run yet: the listing and its privacy pass.
const DEFAULT_POLL_COST: f64 = 2.0;

/// The most a poll is assumed to cost when planning (a poll's listing, its privacy pass, and
/// the details of the calls that finished since the last one).
const MAX_POLL_COST: f64 = 12.0;

/// Share of the rest of the period planned as busy (polled every `min_poll_seconds`).
const BUSY_SHARE: f64 = 0.5;

/// What the planner looks at. The budget's period is not a field (so that the weekly
/// callers' struct literals stay as they are): [`plan`] plans a week, [`plan_in`] any period.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub meta: &'a StateMeta,
    pub schedule: &'a ScheduleSection,
    /// Requests allowed per budget period (0: no budget): a week's for [`plan`], a day's for
    /// [`plan_in`] with [`BudgetPeriod::Day`]. Named for the weekly budget it was first.
    pub weekly_budget: u64,
    /// Requests sent in the current budget period so far.
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
    /// The end of the current budget period, epoch seconds: Sunday 00:00 GMT ending this
    /// week for a weekly budget, the next 00:00 GMT for a daily one. (Named for the weekly
    /// budget it was first.)
    pub week_end: i64,
    /// The period the budget is counted over.
    pub period: BudgetPeriod,
    pub used: u64,
    /// Requests expected by the period's end (used, polling, the full crawls that fit).
    pub forecast: u64,
    /// Requests allowed per period.
    pub budget: u64,
    /// Full crawls the rest of the period can afford, beside polling.
    pub fulls_affordable: u64,
    /// Whether a full crawl (at its last complete run's cost) fits a whole period's budget
    /// beside that period's polling as estimated (busy half the time). `false`: it is
    /// deferred, period after period, unless a period's actual polling leaves room for it,
    /// until the budget, the schedule or its cost changes.
    pub full_fits_period: bool,
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

/// Decides what runs next, against a weekly budget: [`plan_in`] with [`BudgetPeriod::Week`].
pub fn plan(i: Inputs<'_>) -> Plan {
    plan_in(i, BudgetPeriod::Week)
}

/// The polling expected in `span` seconds, in requests: busy (polled every `min` seconds)
/// half the time and quiet (every `max`) the other half, at `poll_cost` requests a poll.
fn polling_in(span: i64, min: f64, max: f64, poll_cost: f64) -> u64 {
    let polls = span.max(0) as f64 * (BUSY_SHARE / min + (1.0 - BUSY_SHARE) / max.max(min));
    (polls * poll_cost) as u64
}

/// Decides what runs next, against a budget of `i.weekly_budget` requests per `period`: the
/// rest of the current period's spending (`i.used`, polling, full crawls) is kept within it.
pub fn plan_in(i: Inputs<'_>, period: BudgetPeriod) -> Plan {
    let m = i.meta;
    let period_end = period.end(i.now);
    let remaining = (period_end - i.now).max(0);
    let budget = i.weekly_budget;
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
    let (interval, polling) = polling_plan(&i, remaining, poll_cost);
    let full_every = seconds(i.schedule.full_hours, 3600);
    let (fulls_affordable, full_fits_period) = fulls_fit(&i, period, full_cost, polling, poll_cost);
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
    let costs = Costs {
        full: full_cost,
        poll: poll_cost,
        fulls_affordable,
        full_fits_period,
    };
    let (next, why) = decide(&i, period, costs, interval, full_every);
    Plan {
        next,
        why,
        poll_interval: interval,
        week_end: period_end,
        period,
        used: i.used,
        forecast,
        budget,
        fulls_affordable: if budget == 0 { 0 } else { fulls_affordable },
        full_fits_period,
        expected_freshness,
    }
}

/// The spendable share of `budget` (the rest is a margin for what estimates miss).
fn spend_ceiling(budget: u64) -> u64 {
    (budget as f64 * SPEND_SHARE) as u64
}

/// The poll interval and the requests the rest of the period's polling is planned to take
/// (`remaining` seconds at `poll_cost` a poll): stretched when it would not fit the budget.
fn polling_plan(i: &Inputs<'_>, remaining: i64, poll_cost: f64) -> (i64, u64) {
    let m = i.meta;
    let budget = i.weekly_budget;
    let looked_at = last_crawl_end(m).unwrap_or(i.now).min(i.now);
    let mut interval = poll_interval(i.schedule, m.last_change_at, looked_at);
    // The polling the rest of the period needs, as if busy half the time (polls every
    // `min_poll_seconds`) and quiet the other half: an estimate that does not swing with the
    // hour it is made at, so a full crawl run at night does not eat the next day's polling.
    let min = min_poll(i.schedule) as f64;
    let max = max_poll(i.schedule) as f64;
    let mut polling = polling_in(remaining, min, max, poll_cost);
    if budget > 0 {
        let room = spend_ceiling(budget).saturating_sub(i.used);
        if polling > room {
            // Stretch polling until the rest of the period fits.
            let stretch = polling as f64 / room.max(1) as f64;
            interval = interval.max((min * stretch).ceil() as i64);
            polling = room;
        }
        // What is left is all polling can have.
        polling = polling.min(budget.saturating_sub(i.used));
    }
    (interval, polling)
}

/// How many full crawls (at `full_cost`) the rest of the period affords beside `polling`, and
/// whether one fits even a whole period, started afresh, beside its estimated polling (if
/// not, the plan says so rather than promising it for the next period).
fn fulls_fit(
    i: &Inputs<'_>,
    period: BudgetPeriod,
    full_cost: Option<u64>,
    polling: u64,
    poll_cost: f64,
) -> (u64, bool) {
    let budget = i.weekly_budget;
    let ceiling = spend_ceiling(budget);
    let affordable = match (budget, full_cost) {
        (0, _) => u64::MAX,
        (_, None) => 0,
        (_, Some(c)) => ceiling.saturating_sub(i.used.saturating_add(polling)) / c.max(1),
    };
    let fits_period = match (budget, full_cost) {
        (0, _) | (_, None) => true,
        (_, Some(c)) => {
            let (min, max) = (min_poll(i.schedule) as f64, max_poll(i.schedule) as f64);
            let period_polling = polling_in(period.seconds(), min, max, poll_cost).min(ceiling);
            c.saturating_add(period_polling) <= ceiling
        }
    };
    (affordable, fits_period)
}

/// What crawls cost, as [`plan_in`] judged them.
struct Costs {
    /// A complete full crawl's requests, if one ran.
    full: Option<u64>,
    /// A poll's requests.
    poll: f64,
    /// Full crawls the rest of the period affords.
    fulls_affordable: u64,
    /// Whether a full crawl fits a whole period beside its polling.
    full_fits_period: bool,
}

/// "this week's" / "today's".
fn this_period(p: BudgetPeriod) -> &'static str {
    match p {
        BudgetPeriod::Day => "today's",
        BudgetPeriod::Week => "this week's",
    }
}

/// When `p` turns, in words.
fn period_turn(p: BudgetPeriod) -> &'static str {
    match p {
        BudgetPeriod::Day => "00:00 GMT",
        BudgetPeriod::Week => "Sunday 00:00 GMT",
    }
}

fn decide(
    i: &Inputs<'_>,
    period: BudgetPeriod,
    c: Costs,
    interval: i64,
    full_every: i64,
) -> (Next, String) {
    let m = i.meta;
    let now = i.now;
    if let Some(must) = must_decide(i, period, c.poll) {
        return must;
    }
    let last_full = m
        .last_full
        .as_ref()
        .filter(|o| o.completed)
        .map_or(i64::MIN / 2, |o| o.started_at);
    let full_due = last_full.saturating_add(full_every);
    let quiet = m.last_change_at.is_none_or(|t| now - t >= QUIET_AFTER);
    let affordable = i.weekly_budget == 0 || c.full.is_none() || c.fulls_affordable >= 1;
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
    // A full crawl due but waiting for quiet or for budget is checked again at the next poll.
    let full_next = if now >= full_due { poll_due } else { full_due };
    let why = if now >= full_due {
        deferred_full(period, &c, affordable)
    } else {
        format!("the next poll in {} s", poll_due - now)
    };
    (Next::Wait((poll_due.min(full_next) - now).max(1)), why)
}

/// What runs whatever the schedule says: an unfinished or first full crawl, or nothing at all
/// once the period's budget cannot pay for one more poll.
fn must_decide(i: &Inputs<'_>, period: BudgetPeriod, poll_cost: f64) -> Option<(Next, String)> {
    let m = i.meta;
    if m.incremental_cursor.is_none() || m.full_in_progress.is_some() {
        return Some((
            Next::Crawl(CrawlMode::Full),
            if m.full_in_progress.is_some() {
                "a full crawl is unfinished: it resumes".into()
            } else {
                "no complete listing yet: the first full crawl (backfill)".into()
            },
        ));
    }
    if i.weekly_budget > 0 && i.used as f64 + poll_cost > i.weekly_budget as f64 {
        return Some((
            Next::Wait((period.end(i.now) - i.now).max(1)),
            format!(
                "{} budget is spent: crawls resume when the {} turns ({})",
                this_period(period),
                period.label(),
                period_turn(period)
            ),
        ));
    }
    None
}

/// Why a due full crawl waits: it does not fit a whole period, the rest of this period's
/// polling would not leave room, or the source is busy.
fn deferred_full(period: BudgetPeriod, c: &Costs, affordable: bool) -> String {
    if !affordable && !c.full_fits_period {
        format!(
            "the reconciling full crawl is deferred: at {} requests it does not fit a whole {}'s \
             budget beside the {}'s polling (raise the budget or min_poll_seconds)",
            c.full.unwrap_or(0),
            period.label(),
            period.label()
        )
    } else if !affordable {
        format!(
            "the reconciling full crawl is deferred: the rest of the {}'s polling would not fit \
             the budget (it runs when it fits, at the latest after {})",
            period.label(),
            period_turn(period)
        )
    } else {
        "the reconciling full crawl waits for a quiet hour".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::CrawlOutcome;

    /// Wednesday 2026-11-25 12:00 GMT.
    const NOW: i64 = 1_795_608_000;

    const DAY: i64 = 86_400;
    const WEEK: i64 = 7 * DAY;

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

    /// Gong's budget: 10,000 requests a UTC day.
    const GONG_DAILY: u64 = 10_000;

    /// The plan on the default schedule and a daily budget of 10,000.
    fn plan_daily(meta: &StateMeta, used: u64, now: i64) -> Plan {
        plan_in(
            Inputs {
                meta,
                schedule: &schedule(),
                weekly_budget: GONG_DAILY,
                used,
                now,
            },
            BudgetPeriod::Day,
        )
    }

    /// As of `now`: polls costing `poll_cost` (the last one ended 10 s ago, so the next is
    /// not due yet and the plan is about the full crawl) and a full crawl `full_cost`, the
    /// last one due (started 25 hours ago), and the source quiet for two hours.
    fn meta_costing(poll_cost: u64, full_cost: u64, now: i64) -> StateMeta {
        let mut m = meta();
        m.last_full = Some(outcome("full", now - 25 * 3600, now - 24 * 3600, full_cost));
        m.last_incremental = Some(outcome("incremental", now - 15, now - 10, poll_cost));
        m.last_change_at = Some(now - 2 * 3600);
        m
    }

    #[test]
    fn plan_is_plan_in_a_week() {
        let m = meta_costing(4, 11_000, NOW);
        for used in [0, 50_000, 99_999] {
            let inputs = Inputs {
                meta: &m,
                schedule: &schedule(),
                weekly_budget: 100_000,
                used,
                now: NOW,
            };
            let p = plan(inputs);
            assert_eq!(p, plan_in(inputs, BudgetPeriod::Week));
            assert_eq!(p.period, BudgetPeriod::Week);
            assert_eq!(p.week_end, week_start(NOW) + WEEK);
            assert!(p.full_fits_period);
        }
    }

    #[test]
    fn the_day_never_runs_out() {
        let m = meta_costing(4, 2_500, NOW);
        for used in [0, 5_000, 9_000, 9_499, 9_990, 9_999, 10_000] {
            let p = plan_daily(&m, used, NOW);
            assert_eq!(p.period, BudgetPeriod::Day);
            assert_eq!(p.week_end, NOW + 12 * 3600, "the next UTC midnight");
            assert!(p.forecast <= GONG_DAILY.max(used), "{used}: {p:?}");
            assert!(p.poll_interval >= 30, "{used}: {p:?}");
        }
        // A poll that would overspend the day waits for midnight, not for Sunday.
        let spent = plan_daily(&m, 9_997, NOW);
        assert_eq!(spent.next, Next::Wait(12 * 3600), "{spent:?}");
        assert!(spent.why.contains("today's budget is spent"), "{spent:?}");
        assert!(spent.why.contains("00:00 GMT"), "{spent:?}");
        // At midnight the day's count starts over (the caller's `used` is the new day's).
        let midnight = NOW + 12 * 3600;
        let next_day = plan_daily(&meta_costing(4, 2_500, midnight), 0, midnight);
        assert!(!next_day.why.contains("spent"), "{next_day:?}");
        assert_eq!(next_day.week_end, midnight + DAY);
    }

    #[test]
    fn a_full_crawl_that_does_not_fit_the_rest_of_the_day_waits_for_the_next() {
        // 4 requests a poll: a day of polling is about 6,300 of the 9,500 planned, so a
        // 2,500-request full crawl fits a day, but not late on a day already mostly spent.
        let evening = NOW + 8 * 3600; // 20:00 GMT
        let m = meta_costing(4, 2_500, evening);
        let tight = plan_daily(&m, 8_000, evening);
        // Deferred: checked again at the next poll.
        assert!(matches!(tight.next, Next::Wait(w) if w <= 300), "{tight:?}");
        assert_eq!(tight.fulls_affordable, 0, "{tight:?}");
        assert!(tight.full_fits_period, "{tight:?}");
        assert!(tight.why.contains("deferred"), "{tight:?}");
        assert!(tight.why.contains("day's polling"), "{tight:?}");
        assert!(tight.forecast <= 9_500, "{tight:?}");
        // With less of the day spent, it runs.
        let roomy = plan_daily(&m, 3_000, evening);
        assert_eq!(roomy.next, Next::Crawl(CrawlMode::Full), "{roomy:?}");
        assert!(roomy.forecast <= 9_500, "{roomy:?}");
        // Early the next day, the new day affords it.
        let morning = NOW + 13 * 3600; // 01:00 GMT
        let next_day = plan_daily(&meta_costing(4, 2_500, morning), 40, morning);
        assert_eq!(next_day.next, Next::Crawl(CrawlMode::Full), "{next_day:?}");
        assert!(next_day.fulls_affordable >= 1, "{next_day:?}");
        // On a weekly budget of seven such days, 8,000 spent by Wednesday evening is nothing.
        let weekly = plan(Inputs {
            meta: &m,
            schedule: &schedule(),
            weekly_budget: 7 * GONG_DAILY,
            used: 8_000,
            now: evening,
        });
        assert_eq!(weekly.next, Next::Crawl(CrawlMode::Full), "{weekly:?}");
    }

    #[test]
    fn a_full_crawl_bigger_than_a_day_beside_polling_says_it_never_fits() {
        // 9,000 requests: more than 9,500 less a day's polling, even at midnight.
        let midnight = NOW + 12 * 3600;
        let p = plan_daily(&meta_costing(4, 9_000, midnight), 0, midnight);
        assert!(matches!(p.next, Next::Wait(_)), "{p:?}");
        assert!(!p.full_fits_period, "{p:?}");
        assert_eq!(p.fulls_affordable, 0, "{p:?}");
        assert!(p.why.contains("does not fit a whole day's budget"), "{p:?}");
        assert!(p.forecast <= 9_500, "{p:?}");
        // At 2,500 it fits, and runs.
        let p = plan_daily(&meta_costing(4, 2_500, midnight), 0, midnight);
        assert_eq!(p.next, Next::Crawl(CrawlMode::Full), "{p:?}");
        assert!(p.full_fits_period, "{p:?}");
    }

    /// What a simulated stretch of days spent, following the planner.
    #[derive(Debug, Default)]
    struct Run {
        /// Requests sent per UTC day (by day number).
        per_day: std::collections::BTreeMap<i64, u64>,
        polls: u64,
        fulls: Vec<i64>,
        /// The shortest time from a crawl's end to the next poll's start, seconds.
        shortest_gap: i64,
    }

    /// Follows the daily planner for `days` days from Monday 2026-11-23 00:00 GMT, counting
    /// every request against the egress budget itself (which must never refuse one): a poll
    /// sends `poll_cost` requests in 5 s, a full crawl `full_cost` in 20 minutes, and the
    /// source changes at every poll from 08:00 to 18:00 GMT and never otherwise.
    fn follow_daily_plan(poll_cost: u64, full_cost: u64, days: i64) -> Run {
        use egress::budget::{BudgetUsage, RequestBudget};
        let start = 1_795_392_000; // Monday 2026-11-23 00:00 GMT
        let s = schedule();
        let budget =
            RequestBudget::new(GONG_DAILY, BudgetPeriod::Day, BudgetUsage::default(), None);
        let mut m = StateMeta {
            incremental_cursor: Some("c".into()),
            last_full: Some(outcome(
                "full",
                start - 4 * 3600,
                start - 3 * 3600,
                full_cost,
            )),
            last_incremental: Some(outcome("incremental", start - 60, start - 55, poll_cost)),
            ..StateMeta::default()
        };
        let mut run = Run {
            shortest_gap: i64::MAX,
            ..Run::default()
        };
        let send = |run: &mut Run, t: i64, n: u64, over: i64| {
            for k in 0..n {
                let ms = t * 1000 + (k as i64 * over * 1000) / n as i64;
                budget.spend(ms).unwrap_or_else(|r| {
                    panic!("the budget refused a planned request at {ms}: {r:?}")
                });
                *run.per_day.entry(ms.div_euclid(1000 * DAY)).or_default() += 1;
            }
        };
        let mut t = start;
        let mut last_end = start - 55;
        while t < start + days * DAY {
            let used = budget.usage_at(t).requests;
            let p = plan_in(
                Inputs {
                    meta: &m,
                    schedule: &s,
                    weekly_budget: GONG_DAILY,
                    used,
                    now: t,
                },
                BudgetPeriod::Day,
            );
            assert!(p.poll_interval >= s.min_poll_seconds as i64, "{p:?}");
            assert!(p.forecast <= GONG_DAILY.max(used), "{p:?}");
            assert_eq!(p.week_end, BudgetPeriod::Day.end(t));
            match p.next {
                Next::Crawl(CrawlMode::Incremental) => {
                    run.shortest_gap = run.shortest_gap.min(t - last_end);
                    send(&mut run, t, poll_cost, 5);
                    let end = t + 5;
                    m.last_incremental = Some(outcome("incremental", t, end, poll_cost));
                    let hour = end.rem_euclid(DAY) / 3600;
                    if (8..18).contains(&hour) {
                        m.last_change_at = Some(end);
                    }
                    run.polls += 1;
                    (t, last_end) = (end, end);
                }
                Next::Crawl(CrawlMode::Full) => {
                    send(&mut run, t, full_cost, 1200);
                    let end = t + 1200;
                    m.last_full = Some(outcome("full", t, end, full_cost));
                    run.fulls.push(t);
                    (t, last_end) = (end, end);
                }
                Next::Wait(w) => {
                    assert!(w > 0, "{p:?}");
                    t += w;
                }
            }
        }
        run
    }

    #[test]
    fn a_daily_budget_keeps_every_days_spending_within_it() {
        // Cheap polls: busy hours are polled at the shortest wait, and a full crawl runs
        // every day, in a quiet hour.
        let cheap = follow_daily_plan(4, 2_500, 4);
        assert_eq!(cheap.per_day.len(), 4, "{cheap:?}");
        for (day, spent) in &cheap.per_day {
            assert!(*spent <= 9_500, "day {day} spent {spent}: {cheap:?}");
        }
        assert!(cheap.shortest_gap >= 30, "{cheap:?}");
        assert!(cheap.fulls.len() >= 4, "{cheap:?}");
        for f in &cheap.fulls {
            let hour = f.rem_euclid(DAY) / 3600;
            assert!(
                !(8..19).contains(&hour),
                "a full crawl in busy hours at {f}: {cheap:?}"
            );
        }
        // Dear polls: polling a busy day at the shortest wait would cost more than the
        // budget, so it is stretched, and no day overspends even its planned share. (Polling
        // then takes the whole planned share, so the full crawl is deferred day after day:
        // `full_fits_period` is false.)
        let dear = follow_daily_plan(12, 2_500, 4);
        assert_eq!(dear.per_day.len(), 4, "{dear:?}");
        for (day, spent) in &dear.per_day {
            assert!(*spent <= 9_500, "day {day} spent {spent}: {dear:?}");
        }
        assert!(dear.shortest_gap >= 30, "{dear:?}");
        assert!(
            dear.polls > 0 && dear.polls < cheap.polls,
            "{dear:?} vs {cheap:?}"
        );
    }
}
