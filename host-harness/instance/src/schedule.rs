//! `harness run`: stays up and crawls on a schedule — incremental crawls every N minutes, full
//! crawls every M hours (and whenever there is no cursor or a full crawl is unfinished) — and
//! stops gracefully on SIGINT or SIGTERM at the next checkpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crawl_engine::types::CrawlMode;
use crawl_engine::{Crawler, StateMeta};

use wasm_runtime::GuestClock;

use crate::config::{Config, ScheduleSection};
use crate::setup::Prepared;

/// A flag set by SIGINT or SIGTERM (with `signal-hook`): the running crawl stops at its next
/// checkpoint.
pub fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping ends the process at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, flag.clone())
            .map_err(|e| anyhow::anyhow!("could not watch for signal {signal}: {e}"))?;
        signal_hook::flag::register(signal, flag.clone())
            .map_err(|e| anyhow::anyhow!("could not watch for signal {signal}: {e}"))?;
    }
    Ok(flag)
}

/// How long after SIGINT or SIGTERM the process waits for crawls to end at a checkpoint
/// before it exits anyway. Crawls save a checkpoint after every page, and every write is a
/// transaction, so what a stop cuts short (a request a silent source never answers, a page
/// half fetched) is done again by the next crawl; Kubernetes' 30-second grace is never needed.
pub const STOP_GRACE: Duration = Duration::from_secs(1);

/// Once `stop` is set, gives running crawls [`STOP_GRACE`] to end at a checkpoint, then ends
/// the process with exit code 0 (a stop, not a failure), saying so.
pub fn exit_after_grace(stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(STOP_GRACE);
        eprintln!(
            "stopped: crawls still under way were cut at their last checkpoint (their in-flight requests abandoned); the next crawl resumes there"
        );
        std::process::exit(0);
    });
}

/// Which crawl is due at `now`, if any; otherwise how long until the next one.
pub fn next_crawl(
    state: &StateMeta,
    schedule: &ScheduleSection,
    now: i64,
) -> Result<CrawlMode, i64> {
    let full_every = i64::try_from(schedule.full_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let incr_every =
        i64::try_from(schedule.incremental_minutes.saturating_mul(60)).unwrap_or(i64::MAX);
    if state.incremental_cursor.is_none() || state.full_in_progress.is_some() {
        return Ok(CrawlMode::Full);
    }
    let last_full = state
        .last_full
        .as_ref()
        .filter(|o| o.completed)
        .map(|o| o.started_at)
        .unwrap_or(i64::MIN / 2);
    let full_due = last_full.saturating_add(full_every);
    if now >= full_due {
        return Ok(CrawlMode::Full);
    }
    let last_any = [state.last_full.as_ref(), state.last_incremental.as_ref()]
        .into_iter()
        .flatten()
        .map(|o| o.finished_at)
        .max()
        .unwrap_or(i64::MIN / 2);
    let poll_due = last_any.saturating_add(incr_every);
    if now >= poll_due {
        return Ok(CrawlMode::Incremental);
    }
    Err(poll_due.min(full_due).saturating_sub(now))
}

/// Which crawl is due at `now` for an instance: the budget planner's decision when the
/// schedule is adaptive (the default), the fixed schedule's otherwise.
pub fn due(p: &Prepared, schedule: &ScheduleSection, now: i64) -> Result<CrawlMode, i64> {
    if !schedule.adaptive {
        return next_crawl(p.store.meta(), schedule, now);
    }
    let (limit, period) = p
        .connector
        .egress()
        .budget()
        .map_or((0, crate::planner::BudgetPeriod::Week), |b| {
            (b.limit(), b.period())
        });
    let plan = crate::planner::plan_in(
        crate::planner::Inputs {
            meta: p.store.meta(),
            schedule,
            weekly_budget: limit,
            used: used_this_period(p, now),
            now,
        },
        period,
    );
    match plan.next {
        crate::planner::Next::Crawl(mode) => Ok(mode),
        crate::planner::Next::Wait(secs) => Err(secs),
    }
}

/// Requests sent in the budget's current period (0 without a budget).
pub fn used_this_period(p: &Prepared, now: i64) -> u64 {
    p.connector
        .egress()
        .budget()
        .map_or(0, |b| b.usage_at(now).requests)
}

/// How long to wait after `failures` failed crawls in a row: `retry_seconds`, doubling, at
/// most the full-crawl interval.
pub fn failure_backoff(schedule: &ScheduleSection, failures: u32) -> Duration {
    let base = schedule.retry_seconds.max(1);
    let cap = schedule.full_hours.saturating_mul(3600).max(base);
    let factor = 1u64 << failures.saturating_sub(1).min(16);
    Duration::from_secs(base.saturating_mul(factor).min(cap))
}

/// What `harness run` runs: the configuration (its secrets resolved again before every
/// crawl) and what was prepared from it.
pub struct Running<'a> {
    pub runtime: &'a wasm_runtime::Runtime,
    pub config: Config,
    pub prepared: Prepared,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Running<'_> {
    /// Resolves the secrets again; when one changed (a rotated file), prepares anew with it,
    /// so the next crawl authenticates with the new value. The weekly budget and the last
    /// send time are on disk, so the new limiters hold the rate across the switch.
    fn refresh(&mut self) -> anyhow::Result<()> {
        if self.config.refresh_secrets(self.env)? {
            tracing::info!("a secret changed; the next crawl uses the new value");
            self.prepared = crate::setup::prepare(self.runtime, &self.config, GuestClock::System)?;
        }
        Ok(())
    }
}

/// Crawls on the configured schedule until `stop` is set. Returns on a configuration error.
pub fn run(r: &mut Running<'_>, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let mut failures = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let now = chrono::Utc::now().timestamp();
        let schedule = r.config.schedule.clone();
        let wait = match due(&r.prepared, &schedule, now) {
            Ok(mode) => match crawl(r, mode, &stop) {
                Ok(true) => {
                    failures = 0;
                    continue;
                }
                Ok(false) => {
                    // A failed crawl (a limit, a source or Glean that keeps failing) is not
                    // retried at once: the schedule goes on, backing off.
                    failures = failures.saturating_add(1);
                    let wait = failure_backoff(&schedule, failures);
                    eprintln!(
                        "the crawl did not complete ({} in a row); the next try is in {} s",
                        failures,
                        wait.as_secs()
                    );
                    wait
                }
                Err(e) => return Err(e),
            },
            Err(wait) => Duration::from_secs(wait.max(1) as u64),
        };
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    println!("stopped at a checkpoint; the state is saved");
    Ok(())
}

/// One crawl: `Ok(true)` when it completed (or a stop cut it short), `Ok(false)` when it
/// failed in a way a retry may heal, `Err` on a configuration problem.
fn crawl(r: &mut Running<'_>, mode: CrawlMode, stop: &Arc<AtomicBool>) -> anyhow::Result<bool> {
    if let Err(e) = r.refresh() {
        // A secret file being rotated may be missing for a moment: a failed crawl.
        eprintln!("the crawl could not run: {e:#}");
        return Ok(false);
    }
    let p = &mut r.prepared;
    let mut options = p.options.clone();
    options.stop = Some(stop.clone());
    p.connector.egress().stop_on(stop.clone());
    let result = Crawler::new(&p.connector, &*p.index, &mut *p.store, options)
        .with_hooks(crate::progress::hooks())
        .run(mode);
    match result {
        Ok(report) => {
            print!("{report}");
            Ok(report.completed || stop.load(Ordering::SeqCst))
        }
        // The operator's to fix: no retry heals it.
        Err(e) if crawl_engine::is_config_error(&e) => Err(e),
        // Glean or the state unreachable before the crawl began (an outage, a restart): a
        // failed crawl like any other.
        Err(e) => {
            eprintln!(
                "the crawl could not run: {}",
                p.redactor.redact(&format!("{e:#}"))
            );
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::CrawlOutcome;

    fn outcome(started: i64, finished: i64, completed: bool) -> Option<CrawlOutcome> {
        Some(CrawlOutcome {
            mode: String::new(),
            started_at: started,
            finished_at: finished,
            completed,
            indexed: 0,
            deleted: 0,
            failed: 0,
            error: None,
            requests: 0,
        })
    }

    #[test]
    fn failed_crawls_back_off_up_to_the_full_interval() {
        let sched = ScheduleSection {
            retry_seconds: 900,
            full_hours: 2,
            adaptive: false,
            ..ScheduleSection::default()
        };
        let secs: Vec<u64> = (1..=5)
            .map(|n| failure_backoff(&sched, n).as_secs())
            .collect();
        assert_eq!(secs, [900, 1800, 3600, 7200, 7200]);
    }

    #[test]
    fn schedules_full_then_incremental() {
        let sched = ScheduleSection {
            incremental_minutes: 15,
            full_hours: 24,
            adaptive: false,
            ..ScheduleSection::default()
        };
        let mut s = StateMeta::default();
        assert_eq!(next_crawl(&s, &sched, 0), Ok(CrawlMode::Full));
        s.incremental_cursor = Some("c".into());
        s.last_full = outcome(0, 100, true);
        assert_eq!(next_crawl(&s, &sched, 200), Err(100 + 900 - 200));
        assert_eq!(next_crawl(&s, &sched, 1000), Ok(CrawlMode::Incremental));
        s.last_incremental = outcome(1000, 1010, true);
        assert_eq!(next_crawl(&s, &sched, 1020), Err(1010 + 900 - 1020));
        assert_eq!(next_crawl(&s, &sched, 86_400), Ok(CrawlMode::Full));
        s.full_in_progress = Some(Default::default());
        assert_eq!(next_crawl(&s, &sched, 1020), Ok(CrawlMode::Full));
    }
}
