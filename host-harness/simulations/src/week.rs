//! `harness bench-week`: a simulated week of one Clari Copilot workspace, on virtual time.
//!
//! The mock Clari Copilot server, the egress rate limiter and weekly budget, the crawl engine
//! and the connector's clock all read one [`VirtualClock`], which moves only when something
//! waits: a week runs in minutes of wall time and nobody sleeps. The workspace holds
//! `calls` calls spread over a year; through the working days, calls are recorded in two time
//! zones (EMEA and the Americas), appear while processing and finish processing 10-40 minutes
//! later; titles are edited and CRM links change (neither moves Clari's last-modified time),
//! and calls are deleted. The harness runs its default configuration: the budget planner
//! decides when to poll and when to reconcile.
//!
//! Measured: requests the mock saw during the week (Clari allows 100,000), 429s, freshness
//! (from "finished processing" to "indexed", per call), and how long edits and deletions take
//! to reach the index.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crawl_engine::types::CrawlMode;
use crawl_engine::{Crawler, StateStore};
use mock_clari::{Change, MockClari, MockClariConfig, NewCall};
use mock_glean::{MockGlean, MockGleanConfig};
use rate_window::VirtualClock;
use wasm_runtime::GuestClock;

use tenant_instance::config::Config;
use tenant_instance::setup::{self, RunOptions};

/// How the week is simulated.
#[derive(Debug, Clone)]
pub struct WeekOptions {
    /// Calls in the workspace at the start (spread over the 12-month window).
    pub calls: usize,
    /// Calls recorded on each working day.
    pub per_day: usize,
    pub days: u32,
    pub seed: u64,
    /// Percent of Clari's answers that take [`SLOW_BY`] longer (a bad day at the source).
    pub slow_percent: u32,
    /// Percent of Clari's answers that are 500, 502 or 504.
    pub error_percent: u32,
}

/// How much longer a slow answer takes.
pub const SLOW_BY: Duration = Duration::from_secs(3);

impl Default for WeekOptions {
    fn default() -> Self {
        WeekOptions {
            calls: 50_000,
            per_day: 400,
            days: 7,
            seed: 7,
            slow_percent: 0,
            error_percent: 0,
        }
    }
}

/// The engine's clock on virtual time.
pub(crate) struct EngineClock(pub(crate) Arc<VirtualClock>);

impl crawl_engine::Clock for EngineClock {
    fn now(&self) -> i64 {
        self.0.epoch_secs()
    }
    fn instant(&self) -> Instant {
        rate_window::Clock::now(&*self.0)
    }
    fn sleep(&self, d: Duration) {
        rate_window::Clock::sleep(&*self.0, d)
    }
}

/// A small deterministic generator (splitmix64).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// What the week's script did, to check against the index.
#[derive(Default)]
struct Script {
    /// Key of each new call, with when it finished processing.
    finishes: Vec<(u64, i64)>,
    /// Title edits: id, new title, when.
    titles: Vec<(String, String, i64)>,
    /// CRM relinks: id, new deal name, when.
    deals: Vec<(String, String, i64)>,
    /// Deletions: id, when.
    deletions: Vec<(String, i64)>,
}

/// Schedules the week's life at the source.
fn script(clari: &MockClari, o: &WeekOptions, week_start: i64, rng: &mut Rng) -> Script {
    let control = clari.control();
    // Calls that stay inside the 12-month window all week: an edit to a call that expires
    // meanwhile could never be seen in the index.
    let stays = at(week_start + i64::from(o.days) * 86_400 - 335 * 86_400);
    let mut existing: Vec<String> = control
        .calls()
        .into_iter()
        .filter(|c| c.status == "POST_PROCESSING_DONE" && !c.private && c.time > stays)
        .map(|c| c.id)
        .collect();
    // Each edit or deletion touches a call of its own (drawn without replacement), so that
    // each can be checked on its own.
    let mut draw = |rng: &mut Rng| -> Option<String> {
        if existing.is_empty() {
            return None;
        }
        let i = rng.below(existing.len() as u64) as usize;
        Some(existing.swap_remove(i))
    };
    let mut s = Script::default();
    let mut key = 0u64;
    for day in 0..i64::from(o.days) {
        let midnight = week_start + day * 86_400;
        // The week starts on Sunday: Monday to Friday are working days.
        let weekday = (1..=5).contains(&(day % 7));
        if !weekday {
            continue;
        }
        new_calls(&control, o.per_day, midnight, rng, &mut key, &mut s);
        let working = |rng: &mut Rng| midnight + 8 * 3600 + rng.below(15 * 3600) as i64;
        for n in 0..30 {
            let Some(id) = draw(rng) else { break };
            let when = working(rng);
            let title = format!("Renamed call {day}-{n}");
            control.schedule(
                at(when),
                Change::SetTitle {
                    id: id.clone(),
                    title: title.clone(),
                },
            );
            s.titles.push((id, title, when));
        }
        for n in 0..20 {
            let Some(id) = draw(rng) else { break };
            let when = working(rng);
            let deal = format!("Relinked deal {day}-{n}");
            control.schedule(
                at(when),
                Change::SetDeal {
                    id: id.clone(),
                    deal: Some(deal.clone()),
                },
            );
            s.deals.push((id, deal, when));
        }
        for _ in 0..10 {
            let Some(id) = draw(rng) else { break };
            let when = working(rng);
            control.schedule(at(when), Change::Delete { id: id.clone() });
            s.deletions.push((id, when));
        }
    }
    s
}

/// One working day's new calls, in two time zones: each appears while processing when its
/// meeting ends and finishes processing 10-40 minutes later.
fn new_calls(
    control: &mock_clari::Control,
    per_day: usize,
    midnight: i64,
    rng: &mut Rng,
    key: &mut u64,
    s: &mut Script,
) {
    for zone in 0..2 {
        // EMEA works 08:00-17:00 GMT, the Americas 14:00-23:00 GMT.
        let opens = midnight + if zone == 0 { 8 * 3600 } else { 14 * 3600 };
        for _ in 0..per_day / 2 {
            let start = opens + rng.below(9 * 3600) as i64;
            let ends = start + 900 + rng.below(45 * 60) as i64;
            let finishes = ends + 600 + rng.below(30 * 60) as i64;
            *key += 1;
            control.schedule(
                at(ends),
                Change::Add {
                    key: *key,
                    spec: NewCall {
                        status: "PROCESSING".into(),
                        private: rng.below(100) < 15,
                        title: None,
                        time: Some(at(start)),
                    },
                },
            );
            control.schedule(
                at(finishes),
                Change::SetStatus {
                    key: *key,
                    status: "POST_PROCESSING_DONE".into(),
                },
            );
            s.finishes.push((*key, finishes));
        }
    }
}

fn config_text(clari: &str, glean: &str, state: &str) -> String {
    format!(
        r#"[connector]
name = "week"
state_dir = "{state}"

[connector.settings]
history_months = 12

[upstreams.clari]
base_url = "{clari}"
rate_per_second = 10
allow_private_network = true

[upstreams.clari.credentials]
X-Api-Key = {{ env = "CLARI_API_KEY" }}
X-Api-Password = {{ env = "CLARI_API_PASSWORD" }}

[glean]
base_url = "{glean}"
token_env = "GLEAN_INDEXING_TOKEN"
datasource = "week"
"#
    )
}

pub(crate) fn pct(v: &[i64], p: f64) -> i64 {
    if v.is_empty() {
        return -1;
    }
    let mut v = v.to_vec();
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

pub(crate) fn minutes(secs: i64) -> String {
    if secs < 0 {
        "n/a".into()
    } else if secs < 120 {
        format!("{secs} s")
    } else if secs < 7200 {
        format!("{:.1} min", secs as f64 / 60.0)
    } else {
        format!("{:.1} h", secs as f64 / 3600.0)
    }
}

/// One crawl as the week saw it.
pub(crate) struct Ran {
    pub(crate) mode: CrawlMode,
    pub(crate) started: i64,
    pub(crate) finished: i64,
    pub(crate) requests: u64,
    pub(crate) indexed: u64,
}

/// The week's figures.
#[derive(Debug, Clone)]
pub struct WeekReport {
    /// Requests the mock Clari answered during the week.
    pub requests: u64,
    pub throttled: u64,
    pub polls: usize,
    pub full_crawls: usize,
    /// Seconds from finishing processing to indexed, one per call indexed.
    pub freshness: Vec<i64>,
    /// Calls that finished processing during the week.
    pub finished: usize,
    /// (reconciled, made before the last full crawl started, made in all) for title edits,
    /// CRM relinks and deletions.
    pub titles: (usize, usize, usize),
    pub deals: (usize, usize, usize),
    pub deletions: (usize, usize, usize),
    /// Edits, relinks and deletions made at least a day before the week's end that did not
    /// reach the index within 24 hours.
    pub late: usize,
    /// The longest time an edit, relink or deletion took to reach the index, seconds.
    pub slowest_reconciliation: i64,
    /// Requests used in the week by each midnight GMT (day 1 is Monday 00:00).
    pub used_by_midnight: Vec<(i64, u64)>,
}

impl WeekReport {
    /// The freshness percentile `p` (0..=1), seconds; -1 with no call indexed.
    pub fn freshness_at(&self, p: f64) -> i64 {
        pct(&self.freshness, p)
    }
}

/// The harness as the week runs it: one prepared instance, its clocks, and a crawl step.
pub(crate) struct Harness {
    pub(crate) config: Config,
    pub(crate) prepared: setup::Prepared,
    pub(crate) clock: Arc<VirtualClock>,
    pub(crate) guest_now: &'static std::sync::atomic::AtomicI64,
}

impl Harness {
    /// One step: the crawl the planner wants now (or `mode`), or the wait until it.
    pub(crate) fn step(&mut self, mode: Option<CrawlMode>) -> anyhow::Result<Option<Ran>> {
        let now = self.clock.epoch_secs();
        self.guest_now
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let mode = match mode {
            Some(m) => m,
            None => {
                match tenant_instance::schedule::due(&self.prepared, &self.config.schedule, now) {
                    Ok(m) => m,
                    Err(wait) => {
                        self.clock.advance(Duration::from_secs(wait.max(1) as u64));
                        return Ok(None);
                    }
                }
            }
        };
        let p = &mut self.prepared;
        let before = p.connector.egress().request_count();
        let engine_clock = EngineClock(self.clock.clone());
        let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
            .with_hooks(crawl_engine::Hooks {
                clock: &engine_clock,
                observer: &crawl_engine::Silent,
                crash: &crawl_engine::NoCrash,
            })
            .run(mode)?;
        Ok(Some(Ran {
            mode,
            started: now,
            finished: self.clock.epoch_secs(),
            requests: p.connector.egress().request_count() - before,
            indexed: report.indexed,
        }))
    }
}

/// The mocks and the harness, on one virtual clock starting at `start`.
fn set_up(o: &WeekOptions, start: i64) -> anyhow::Result<(MockClari, MockGlean, Harness, TempDir)> {
    let clock = Arc::new(VirtualClock::new(start));
    let defaults = MockClariConfig::default();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: o.seed,
            calls: o.calls,
            users: 60,
            anchor: at(start),
            history_days: 365,
            clock: clock.clone(),
            faults: mock_clari::Faults {
                rate_limit_per_sec: Some(10),
                ..mock_clari::Faults::default()
            },
            ..MockClariConfig::default()
        },
    )?;
    let glean = MockGlean::spawn(
        loopback,
        MockGleanConfig {
            rate_limits: mock_glean::RateLimits::off(),
            ..MockGleanConfig::default()
        },
    )?;
    let state = std::env::temp_dir().join(format!("harness-week-{}", std::process::id()));
    let cleanup = TempDir(state.clone());
    let text = config_text(
        &clari.base_url(),
        &glean.base_url(),
        &state.display().to_string(),
    );
    let glean_token = MockGleanConfig::default().token;
    let env = |k: &str| match k {
        "CLARI_API_KEY" => Some(defaults.api_key.clone()),
        "CLARI_API_PASSWORD" => Some(defaults.api_password.clone()),
        "GLEAN_INDEXING_TOKEN" => Some(glean_token.clone()),
        _ => None,
    };
    let file = tenant_instance::config::parse_file(&text)?;
    let config = Config::from_file(file, std::path::Path::new("."), &env)?;
    let runtime = tenant_instance::cached_runtime()?;
    // One instance of the harness for the whole run, as `harness run` keeps; the connector's
    // clock is a cell moved to virtual now before each crawl.
    let guest_now: &'static std::sync::atomic::AtomicI64 = Box::leak(Box::new(
        std::sync::atomic::AtomicI64::new(clock.epoch_secs()),
    ));
    let prepared = setup::prepare_with(
        &runtime,
        &config,
        RunOptions::new()
            .with_clock(GuestClock::Shared(wasm_runtime::ClockCell(guest_now)))
            .with_time(clock.clone()),
    )?;
    let harness = Harness {
        config,
        prepared,
        clock,
        guest_now,
    };
    Ok((clari, glean, harness, cleanup))
}

/// What the week's loop saw.
#[derive(Default)]
struct Seen {
    ran: Vec<Ran>,
    /// Call key to seconds from finishing processing to indexed.
    fresh: BTreeMap<u64, i64>,
    /// Index in the script's list to seconds from the change to the index showing it.
    titles: BTreeMap<usize, i64>,
    deals: BTreeMap<usize, i64>,
    deletions: BTreeMap<usize, i64>,
    /// Requests used in the week at each midnight GMT, by day (1 = Monday 00:00).
    used_by_midnight: Vec<(i64, u64)>,
}

/// Runs the simulated week and prints its figures.
pub fn run(o: &WeekOptions) -> anyhow::Result<WeekReport> {
    let wall = Instant::now();
    // Sunday 2026-11-22 00:00 GMT; the index is filled the day before.
    let week_start = 1_795_305_600;
    let (clari, glean, mut h, _cleanup) = set_up(o, week_start - 86_400)?;
    println!(
        "simulated week: {} calls over 12 months, {} new calls a working day in two time zones, default configuration{}",
        o.calls,
        o.per_day,
        faults_text(o)
    );
    let before = clari.control().request_count();
    let backfill = h
        .step(Some(CrawlMode::Full))?
        .ok_or_else(|| anyhow::anyhow!("the backfill did not run"))?;
    println!(
        "  backfill the day before (not counted in the week): {} requests, {} indexed, {} of virtual time, {:.0} s of wall time",
        clari.control().request_count() - before,
        backfill.indexed,
        minutes(backfill.finished - backfill.started),
        wall.elapsed().as_secs_f64()
    );
    let mut rng = Rng(o.seed ^ 0x5EED);
    let s = script(&clari, o, week_start, &mut rng);
    h.clock.advance_to(week_start);
    clari.control().apply_due();
    clari.control().set_faults(mock_clari::Faults {
        rate_limit_per_sec: Some(10),
        error_rate: f64::from(o.error_percent.min(100)) / 100.0,
        slow_share: f64::from(o.slow_percent.min(100)) / 100.0,
        slow_by: SLOW_BY,
        ..mock_clari::Faults::default()
    });
    let requests_at_start = clari.control().request_count();
    let throttled_at_start = clari.control().throttled_count();
    let week_end = week_start + i64::from(o.days) * 86_400;
    let seen = the_week(
        &clari,
        &glean,
        &mut h,
        &s,
        week_start,
        week_end,
        requests_at_start,
    )?;
    let report = summarize(
        &clari,
        &s,
        &seen,
        week_end,
        requests_at_start,
        throttled_at_start,
    );
    println!(
        "  the week (virtual, Sunday 00:00 GMT to Sunday 00:00 GMT), {:.0} s of wall time:",
        wall.elapsed().as_secs_f64()
    );
    print_report(&report, &seen, &s, week_start);
    Ok(report)
}

/// The week's figures from what the loop saw.
fn summarize(
    clari: &MockClari,
    s: &Script,
    seen: &Seen,
    week_end: i64,
    requests_at_start: u64,
    throttled_at_start: u64,
) -> WeekReport {
    WeekReport {
        requests: clari.control().request_count() - requests_at_start,
        throttled: clari.control().throttled_count() - throttled_at_start,
        polls: seen
            .ran
            .iter()
            .filter(|r| r.mode == CrawlMode::Incremental)
            .count(),
        full_crawls: seen
            .ran
            .iter()
            .filter(|r| r.mode == CrawlMode::Full)
            .count(),
        freshness: seen.fresh.values().copied().collect(),
        finished: s.finishes.iter().filter(|(_, f)| *f < week_end).count(),
        titles: counts(
            &seen.titles,
            &s.titles.iter().map(|t| t.2).collect::<Vec<_>>(),
            &seen.ran,
        ),
        deals: counts(
            &seen.deals,
            &s.deals.iter().map(|t| t.2).collect::<Vec<_>>(),
            &seen.ran,
        ),
        deletions: counts(
            &seen.deletions,
            &s.deletions.iter().map(|t| t.1).collect::<Vec<_>>(),
            &seen.ran,
        ),
        late: late(seen, s, week_end),
        slowest_reconciliation: [&seen.titles, &seen.deals, &seen.deletions]
            .iter()
            .flat_map(|m| m.values().copied())
            .max()
            .unwrap_or(-1),
        used_by_midnight: seen.used_by_midnight.clone(),
    }
}

fn faults_text(o: &WeekOptions) -> String {
    let mut parts = Vec::new();
    if o.slow_percent > 0 {
        parts.push(format!(
            "{}% of answers {} s slower",
            o.slow_percent,
            SLOW_BY.as_secs()
        ));
    }
    if o.error_percent > 0 {
        parts.push(format!("{}% of answers 5xx", o.error_percent));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; Clari's bad day: {}", parts.join(", "))
    }
}

/// The week's loop: crawls as the planner decides, and what each brought to the index.
fn the_week(
    clari: &MockClari,
    glean: &MockGlean,
    h: &mut Harness,
    s: &Script,
    week_start: i64,
    week_end: i64,
    requests_at_start: u64,
) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    let mut next_midnight = week_start + 86_400;
    while h.clock.epoch_secs() < week_end {
        while h.clock.epoch_secs() >= next_midnight && next_midnight < week_end {
            let day = (next_midnight - week_start) / 86_400;
            let used = clari.control().request_count() - requests_at_start;
            seen.used_by_midnight.push((day, used));
            next_midnight += 86_400;
        }
        clari.control().apply_due();
        let Some(r) = h.step(None)? else {
            continue;
        };
        note_freshness(clari, h, s, &r, &mut seen.fresh)?;
        if r.mode == CrawlMode::Full {
            reconciled(
                glean,
                s,
                r.finished,
                &mut seen.titles,
                &mut seen.deals,
                &mut seen.deletions,
            );
        }
        seen.ran.push(r);
    }
    Ok(seen)
}

/// Freshness: each call that finished processing, from then to its being indexed.
fn note_freshness(
    clari: &MockClari,
    h: &Harness,
    s: &Script,
    r: &Ran,
    fresh: &mut BTreeMap<u64, i64>,
) -> anyhow::Result<()> {
    let store = state_store::SqliteStore::open(&h.config.state_dir, &h.config.name)?;
    for (key, finished) in &s.finishes {
        if fresh.contains_key(key) || *finished > r.finished {
            continue;
        }
        if let Some(id) = clari.control().keyed_id(*key)
            && let Some(d) = store.document(&id)?
            && d.indexed_at >= *finished
        {
            fresh.insert(*key, d.indexed_at - finished);
        }
    }
    Ok(())
}

/// (reconciled, made before the last full crawl started, made in all).
fn counts(seen: &BTreeMap<usize, i64>, made: &[i64], ran: &[Ran]) -> (usize, usize, usize) {
    let last_full = ran
        .iter()
        .filter(|r| r.mode == CrawlMode::Full)
        .map(|r| r.started)
        .max()
        .unwrap_or(i64::MIN);
    (
        seen.len(),
        made.iter().filter(|t| **t < last_full).count(),
        made.len(),
    )
}

/// Changes made at least a day before `week_end` that did not reach the index within 24 h.
fn late(seen: &Seen, s: &Script, week_end: i64) -> usize {
    let due = |when: i64| when + 86_400 <= week_end;
    let over = |m: &BTreeMap<usize, i64>, i: usize| m.get(&i).is_none_or(|d| *d > 86_400);
    let titles = s.titles.iter().enumerate();
    let deals = s.deals.iter().enumerate();
    let deletions = s.deletions.iter().enumerate();
    titles
        .filter(|(i, t)| due(t.2) && over(&seen.titles, *i))
        .count()
        + deals
            .filter(|(i, t)| due(t.2) && over(&seen.deals, *i))
            .count()
        + deletions
            .filter(|(i, t)| due(t.1) && over(&seen.deletions, *i))
            .count()
}

/// The day of the week (0 = Sunday) of `t` in a week starting at `week_start`.
fn weekday(t: i64, week_start: i64) -> usize {
    ((t - week_start).div_euclid(86_400)).rem_euclid(7) as usize
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn print_report(r: &WeekReport, seen: &Seen, s: &Script, week_start: i64) {
    let fulls: Vec<&Ran> = seen
        .ran
        .iter()
        .filter(|x| x.mode == CrawlMode::Full)
        .collect();
    let polling: u64 = seen
        .ran
        .iter()
        .filter(|x| x.mode == CrawlMode::Incremental)
        .map(|x| x.requests)
        .sum();
    println!(
        "    requests to Clari           {} (budget 100,000; polling {polling}, full crawls {})",
        r.requests,
        fulls.iter().map(|x| x.requests).sum::<u64>()
    );
    println!("    429 answers                 {}", r.throttled);
    println!(
        "    crawls                      {} incremental polls, {} reconciling full crawls (at {})",
        r.polls,
        fulls.len(),
        fulls
            .iter()
            .map(|x| at(x.started).format("%a %H:%M").to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "    freshness, finished processing to indexed: p50 {}, p95 {}, max {} ({} of {} calls; goal p95 <= 60 s, max <= 3 min)",
        minutes(r.freshness_at(0.5)),
        minutes(r.freshness_at(0.95)),
        minutes(r.freshness_at(1.0)),
        r.freshness.len(),
        r.finished
    );
    print_freshness_by_day(seen, s, week_start);
    print_waits(seen);
    print_reconciliation(r, seen, s, week_start);
    println!(
        "    budget used / left at each midnight GMT: {}",
        r.used_by_midnight
            .iter()
            .map(|(day, used)| format!(
                "{} {} / {}",
                DAYS[(*day as usize) % 7],
                used,
                100_000u64.saturating_sub(*used)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn print_freshness_by_day(seen: &Seen, s: &Script, week_start: i64) {
    let finished_at: BTreeMap<u64, i64> = s.finishes.iter().copied().collect();
    let mut by_day: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (key, delay) in &seen.fresh {
        if let Some(f) = finished_at.get(key) {
            by_day
                .entry(weekday(*f, week_start))
                .or_default()
                .push(*delay);
        }
    }
    println!(
        "    freshness by weekday finished (calls: p50/p95/max): {}",
        by_day
            .iter()
            .map(|(d, v)| format!(
                "{} {}: {}/{}/{}",
                DAYS[*d],
                v.len(),
                minutes(pct(v, 0.5)),
                minutes(pct(v, 0.95)),
                minutes(pct(v, 1.0))
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The waits between one crawl's end and the next poll's start, by GMT hour, and the polls'
/// own length: what freshness is made of.
fn print_waits(seen: &Seen) {
    let mut gaps: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut lengths: Vec<i64> = Vec::new();
    for pair in seen.ran.windows(2) {
        if pair[1].mode == CrawlMode::Incremental {
            gaps.entry(pair[1].started.rem_euclid(86_400) / 3600)
                .or_default()
                .push(pair[1].started - pair[0].finished);
            lengths.push(pair[1].finished - pair[1].started);
        }
    }
    println!(
        "    wait between crawls before a poll, by GMT hour (p50/max s): {}",
        gaps.iter_mut()
            .map(|(h, g)| {
                g.sort_unstable();
                format!("{h:02}h {}/{}", g[g.len() / 2], g[g.len() - 1])
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    lengths.sort_unstable();
    if !lengths.is_empty() {
        println!(
            "    a poll's own length: p50 {} s, p95 {} s, max {} s",
            lengths[lengths.len() / 2],
            lengths[lengths.len() * 95 / 100],
            lengths[lengths.len() - 1]
        );
    }
}

fn print_reconciliation(r: &WeekReport, seen: &Seen, s: &Script, week_start: i64) {
    let kinds: [(&str, &BTreeMap<usize, i64>, Vec<i64>, (usize, usize, usize)); 3] = [
        (
            "title edits",
            &seen.titles,
            s.titles.iter().map(|t| t.2).collect(),
            r.titles,
        ),
        (
            "CRM relinks",
            &seen.deals,
            s.deals.iter().map(|t| t.2).collect(),
            r.deals,
        ),
        (
            "deletions",
            &seen.deletions,
            s.deletions.iter().map(|t| t.1).collect(),
            r.deletions,
        ),
    ];
    for (what, done, made, (n, due, total)) in &kinds {
        let delays: Vec<i64> = done.values().copied().collect();
        println!(
            "    {what:<27} reconciled {n} of the {due} made before the last full crawl ({total} in all): p50 {}, max {}",
            minutes(pct(&delays, 0.5)),
            minutes(pct(&delays, 1.0)),
        );
        let mut by_day: BTreeMap<usize, (usize, usize, i64)> = BTreeMap::new();
        for (i, when) in made.iter().enumerate() {
            let e = by_day.entry(weekday(*when, week_start)).or_default();
            e.0 += 1;
            if let Some(d) = done.get(&i) {
                e.1 += 1;
                e.2 = e.2.max(*d);
            }
        }
        println!(
            "      by weekday made (reconciled/made, slowest): {}",
            by_day
                .iter()
                .map(|(d, (m, n, max))| format!("{} {n}/{m} {}", DAYS[*d], minutes(*max)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "    made a day or more before the end and not reconciled within 24 h: {} (slowest reconciliation {})",
        r.late,
        minutes(r.slowest_reconciliation)
    );
}

/// After a full crawl that ended at `now`, notes which edits and deletions reached the index.
fn reconciled(
    glean: &MockGlean,
    s: &Script,
    now: i64,
    titles: &mut BTreeMap<usize, i64>,
    deals: &mut BTreeMap<usize, i64>,
    deletions: &mut BTreeMap<usize, i64>,
) {
    let docs: BTreeMap<String, glean_api::DocumentDefinition> = glean
        .documents("week")
        .into_iter()
        .filter_map(|d| Some((d.id.clone()?, d)))
        .collect();
    for (i, (id, title, when)) in s.titles.iter().enumerate() {
        if !titles.contains_key(&i)
            && *when <= now
            && docs
                .get(id)
                .is_some_and(|d| d.title.as_deref() == Some(title.as_str()))
        {
            titles.insert(i, now - when);
        }
    }
    for (i, (id, deal, when)) in s.deals.iter().enumerate() {
        let linked = docs.get(id).is_some_and(|d| {
            serde_json::to_string(&d.custom_properties).is_ok_and(|p| p.contains(deal.as_str()))
        });
        if !deals.contains_key(&i) && *when <= now && linked {
            deals.insert(i, now - when);
        }
    }
    for (i, (id, when)) in s.deletions.iter().enumerate() {
        if !deletions.contains_key(&i) && *when <= now && !docs.contains_key(id) {
            deletions.insert(i, now - when);
        }
    }
}

/// A directory removed however the run ends.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
