//! `harness bench-week --source gong`: a simulated week of one Gong company on virtual time,
//! the second connector's counterpart of [`crate::week`]. The mock Gong enforces Gong's own
//! limits (3 requests a second, 10,000 a UTC day, 429 with `Retry-After`); the harness runs its
//! default configuration with no rate and no budget configured, so both come from the Gong
//! component's declaration. The company holds `calls` calls over 180 days; the index is
//! backfilled in the days before the week (a 20,000-call backfill needs about four days of
//! Gong's quota), then through the working days new calls are recorded (listable once Gong has
//! processed them, 10-60 minutes after the meeting), calls are retitled and deleted.
//!
//! Measured: requests a day (Gong allows 10,000), 429s, freshness (from a call being listable
//! to its being indexed), and how long retitles and deletions take to reach the index.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crawl_engine::types::CrawlMode;
use mock_glean::{MockGlean, MockGleanConfig};
use mock_gong::{Change, MockGong, MockGongConfig, NewCall};
use rate_window::VirtualClock;
use wasm_runtime::GuestClock;

use crate::week::{Harness, Rng, TempDir, at, minutes, pct};
use tenant_instance::config::Config;
use tenant_instance::setup::{self, RunOptions};

/// How the Gong week is simulated.
#[derive(Debug, Clone)]
pub struct GongWeekOptions {
    pub calls: usize,
    /// Calls recorded each working day.
    pub per_day: usize,
    pub days: u32,
    pub seed: u64,
}

impl Default for GongWeekOptions {
    fn default() -> Self {
        GongWeekOptions {
            calls: 20_000,
            per_day: 120,
            days: 7,
            seed: 7,
        }
    }
}

/// The Gong week's figures.
#[derive(Debug, Clone)]
pub struct GongWeekReport {
    pub requests: u64,
    pub throttled: u64,
    /// Requests sent on each UTC day of the week.
    pub per_day: Vec<u64>,
    pub polls: usize,
    pub full_crawls: usize,
    /// Requests per poll: median, p95, total.
    pub poll_requests: (i64, i64, i64),
    /// Requests of each full crawl.
    pub full_requests: Vec<u64>,
    /// Seconds from listable to indexed, one per new call indexed.
    pub freshness: Vec<i64>,
    pub new_calls: usize,
    /// Seconds from each retitle / deletion to the index showing it (`None`: not by the end).
    pub titles: Vec<Option<i64>>,
    pub deletions: Vec<Option<i64>>,
    /// Requests and days the backfill took before the week.
    pub backfill: (u64, f64),
}

/// The week's script at the source.
#[derive(Default)]
struct Script {
    /// Key of each new call and when it becomes listable.
    listable: Vec<(u64, i64)>,
    titles: Vec<(String, String, i64)>,
    deletions: Vec<(String, i64)>,
}

/// Sunday 2026-11-22 00:00 GMT.
const WEEK_START: i64 = 1_795_305_600;
/// Days of virtual time before the week given to the backfill.
const BACKFILL_DAYS: i64 = 6;

/// Runs the simulated Gong week and prints its figures.
pub fn run(o: &GongWeekOptions) -> anyhow::Result<GongWeekReport> {
    let wall = Instant::now();
    let (gong, glean, mut h, _cleanup) = set_up(o, WEEK_START - BACKFILL_DAYS * 86_400)?;
    println!(
        "simulated Gong week: {} calls over 180 days, {} new calls a working day, Gong's limits at the mock (3/s, 10,000 a day), default configuration",
        o.calls, o.per_day
    );
    let backfill = backfill(&gong, &mut h)?;
    println!(
        "  backfill before the week (not counted): {} requests over {:.2} days of virtual time, then polling to Sunday; {} documents, {:.0} s of wall time",
        backfill.0,
        backfill.1,
        glean.documents("gong").len(),
        wall.elapsed().as_secs_f64()
    );
    let mut rng = Rng(o.seed ^ 0x5EED);
    let s = script(&gong, o, &mut rng);
    let at_start = (
        gong.control().request_count(),
        gong.control().throttled_count(),
    );
    let week_end = WEEK_START + i64::from(o.days) * 86_400;
    let (ran, per_day, fresh, titles, deletions) = the_week(&gong, &glean, &mut h, &s, week_end)?;
    let report = GongWeekReport {
        requests: gong.control().request_count() - at_start.0,
        throttled: gong.control().throttled_count() - at_start.1,
        per_day,
        polls: ran.iter().filter(|m| m.0 == CrawlMode::Incremental).count(),
        full_crawls: ran.iter().filter(|m| m.0 == CrawlMode::Full).count(),
        poll_requests: {
            let v: Vec<i64> = ran
                .iter()
                .filter(|m| m.0 == CrawlMode::Incremental)
                .map(|m| m.1 as i64)
                .collect();
            (pct(&v, 0.5), pct(&v, 0.95), v.iter().sum::<i64>())
        },
        full_requests: ran
            .iter()
            .filter(|m| m.0 == CrawlMode::Full)
            .map(|m| m.1)
            .collect(),
        freshness: fresh.values().copied().collect(),
        new_calls: s.listable.iter().filter(|(_, t)| *t < week_end).count(),
        titles: (0..s.titles.len())
            .map(|i| titles.get(&i).copied())
            .collect(),
        deletions: (0..s.deletions.len())
            .map(|i| deletions.get(&i).copied())
            .collect(),
        backfill,
    };
    print!("{}", render(&report, wall.elapsed()));
    Ok(report)
}

fn set_up(
    o: &GongWeekOptions,
    start: i64,
) -> anyhow::Result<(MockGong, MockGlean, Harness, TempDir)> {
    let clock = Arc::new(VirtualClock::new(start));
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let gong = MockGong::spawn(
        loopback,
        MockGongConfig {
            seed: o.seed,
            calls: o.calls,
            users: 60,
            anchor: at(start),
            history_days: 170,
            clock: clock.clone(),
            faults: mock_gong::Faults::gong_limits(),
            ..MockGongConfig::default()
        },
    )?;
    let glean = MockGlean::spawn(
        loopback,
        MockGleanConfig {
            rate_limits: mock_glean::RateLimits::off(),
            ..MockGleanConfig::default()
        },
    )?;
    let state = std::env::temp_dir().join(format!("harness-week-gong-{}", std::process::id()));
    let cleanup = TempDir(state.clone());
    // The demo's file without its rate: Gong's declared 3 a second applies.
    let text = crate::demo_gong::gong_config_toml(
        &gong.base_url(),
        &glean.base_url(),
        &state.display().to_string(),
        1.0,
    )
    .replace("rate_per_second = 1\n", "");
    let d = MockGongConfig::default();
    let token = MockGleanConfig::default().token;
    let env = |k: &str| match k {
        "GONG_ACCESS_KEY" => Some(d.access_key.clone()),
        "GONG_ACCESS_KEY_SECRET" => Some(d.access_key_secret.clone()),
        _ => Some(token.clone()),
    };
    let config = Config::from_file(
        tenant_instance::config::parse_file(&text)?,
        std::path::Path::new("."),
        &env,
    )?;
    let runtime = tenant_instance::cached_runtime()?;
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
    Ok((
        gong,
        glean,
        Harness {
            config,
            prepared,
            clock,
            guest_now,
        },
        cleanup,
    ))
}

/// Crawls as the planner decides until the week starts: the backfill, spread over days by
/// Gong's daily quota. Answers its requests and the days it took.
fn backfill(gong: &MockGong, h: &mut Harness) -> anyhow::Result<(u64, f64)> {
    let started = h.clock.epoch_secs();
    let mut done = None;
    while h.clock.epoch_secs() < WEEK_START {
        if let Some(r) = h.step(None)?
            && r.mode == CrawlMode::Full
            && done.is_none()
            && h.prepared.store.meta().full_in_progress.is_none()
        {
            done = Some((gong.control().request_count(), r.finished));
        }
    }
    let (requests, at) = done.unwrap_or((gong.control().request_count(), WEEK_START));
    Ok((requests, (at - started) as f64 / 86_400.0))
}

/// The working days' new calls, retitles and deletions, scheduled at the mock.
fn script(gong: &MockGong, o: &GongWeekOptions, rng: &mut Rng) -> Script {
    let c = gong.control();
    let mut existing: Vec<String> = c.calls().into_iter().map(|x| x.id).collect();
    let mut s = Script::default();
    let mut key = 0u64;
    for day in 0..i64::from(o.days) {
        if !(1..=5).contains(&(day % 7)) {
            continue;
        }
        let midnight = WEEK_START + day * 86_400;
        for _ in 0..o.per_day {
            let start = midnight + 8 * 3600 + rng.below(15 * 3600) as i64;
            let ends = start + 900 + rng.below(45 * 60) as i64;
            let listable = ends + 600 + rng.below(50 * 60) as i64;
            key += 1;
            let spec = NewCall {
                started: Some(at(start)),
                is_private: Some(rng.below(100) < 15),
                ..NewCall::default()
            };
            c.schedule(at(listable), Change::Add { key, spec });
            s.listable.push((key, listable));
        }
        for n in 0..30 {
            if existing.is_empty() {
                break;
            }
            let id = existing.swap_remove(rng.below(existing.len() as u64) as usize);
            let when = midnight + 8 * 3600 + rng.below(15 * 3600) as i64;
            let title = format!("Renamed call {day}-{n}");
            c.schedule(
                at(when),
                Change::SetTitle {
                    id: id.clone(),
                    title: title.clone(),
                },
            );
            s.titles.push((id, title, when));
        }
        for _ in 0..10 {
            if existing.is_empty() {
                break;
            }
            let id = existing.swap_remove(rng.below(existing.len() as u64) as usize);
            let when = midnight + 8 * 3600 + rng.below(15 * 3600) as i64;
            c.schedule(at(when), Change::Delete { id: id.clone() });
            s.deletions.push((id, when));
        }
    }
    s
}

type Seen = (
    Vec<(CrawlMode, u64)>,
    Vec<u64>,
    BTreeMap<u64, i64>,
    BTreeMap<usize, i64>,
    BTreeMap<usize, i64>,
);

/// The week's loop: crawls as the planner decides, and what each brought to the index.
fn the_week(
    gong: &MockGong,
    glean: &MockGlean,
    h: &mut Harness,
    s: &Script,
    week_end: i64,
) -> anyhow::Result<Seen> {
    let (mut ran, mut per_day) = (Vec::new(), Vec::new());
    let (mut fresh, mut titles, mut deletions) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut day_start = (WEEK_START, gong.control().request_count());
    while h.clock.epoch_secs() < week_end {
        if h.clock.epoch_secs() >= day_start.0 + 86_400 {
            per_day.push(gong.control().request_count() - day_start.1);
            day_start = (day_start.0 + 86_400, gong.control().request_count());
        }
        gong.control().apply_due();
        let Some(r) = h.step(None)? else {
            continue;
        };
        let store = state_store::SqliteStore::open(&h.config.state_dir, &h.config.name)?;
        for (key, listable) in &s.listable {
            if fresh.contains_key(key) || *listable > r.finished {
                continue;
            }
            if let Some(id) = gong.control().keyed_id(*key)
                && let Some(d) = crawl_engine::StateStore::document(&store, &id)?
            {
                fresh.insert(*key, (d.indexed_at - listable).max(0));
            }
        }
        if r.mode == CrawlMode::Full || r.indexed > 0 {
            reconciled(glean, s, r.finished, &mut titles, &mut deletions);
        }
        ran.push((r.mode, r.requests));
    }
    per_day.push(gong.control().request_count() - day_start.1);
    Ok((ran, per_day, fresh, titles, deletions))
}

fn reconciled(
    glean: &MockGlean,
    s: &Script,
    now: i64,
    titles: &mut BTreeMap<usize, i64>,
    deletions: &mut BTreeMap<usize, i64>,
) {
    let pending_titles = s
        .titles
        .iter()
        .enumerate()
        .any(|(i, t)| t.2 <= now && !titles.contains_key(&i));
    let pending_deletions = s
        .deletions
        .iter()
        .enumerate()
        .any(|(i, d)| d.1 <= now && !deletions.contains_key(&i));
    if !pending_titles && !pending_deletions {
        return;
    }
    let docs: BTreeMap<String, Option<String>> = glean
        .documents("gong")
        .into_iter()
        .filter_map(|d| Some((d.id?, d.title)))
        .collect();
    for (i, (id, title, when)) in s.titles.iter().enumerate() {
        if !titles.contains_key(&i)
            && *when <= now
            && docs
                .get(id)
                .is_some_and(|t| t.as_deref() == Some(title.as_str()))
        {
            titles.insert(i, now - when);
        }
    }
    for (i, (id, when)) in s.deletions.iter().enumerate() {
        if !deletions.contains_key(&i) && *when <= now && !docs.contains_key(id) {
            deletions.insert(i, now - when);
        }
    }
}

fn render(r: &GongWeekReport, wall: Duration) -> String {
    let within_day =
        |v: &[Option<i64>]| v.iter().filter(|d| d.is_some_and(|d| d <= 86_400)).count();
    let slowest = |v: &[Option<i64>]| {
        v.iter()
            .map(|d| d.unwrap_or(i64::MAX))
            .max()
            .map_or("n/a".into(), |d| {
                if d == i64::MAX {
                    "never".into()
                } else {
                    minutes(d)
                }
            })
    };
    format!(
        "  the week (virtual, Sunday to Sunday), {:.0} s of wall time:\n\
         \x20   requests {} ({} a day at most; Gong allows 10,000), 429s {}\n\
         \x20   requests by day: {:?}\n\
         \x20   crawls: {} incremental ({} requests each at the median, {} at p95, {} in all), {} full ({:?} requests)\n\
         \x20   freshness (listable to indexed) p50 {} p95 {} max {}, {} of {} new calls indexed\n\
         \x20   retitles reconciled within 24 h: {} of {} (slowest {}); deletions: {} of {} (slowest {})\n",
        wall.as_secs_f64(),
        r.requests,
        r.per_day.iter().max().copied().unwrap_or(0),
        r.throttled,
        r.per_day,
        r.polls,
        r.poll_requests.0,
        r.poll_requests.1,
        r.poll_requests.2,
        r.full_crawls,
        r.full_requests,
        minutes(pct(&r.freshness, 0.5)),
        minutes(pct(&r.freshness, 0.95)),
        minutes(pct(&r.freshness, 1.0)),
        r.freshness.len(),
        r.new_calls,
        within_day(&r.titles),
        r.titles.len(),
        slowest(&r.titles),
        within_day(&r.deletions),
        r.deletions.len(),
        slowest(&r.deletions),
    )
}
