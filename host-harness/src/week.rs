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

use crate::config::Config;
use crate::setup::{self, RunOptions};

/// How the week is simulated.
#[derive(Debug, Clone)]
pub struct WeekOptions {
    /// Calls in the workspace at the start (spread over the 12-month window).
    pub calls: usize,
    /// Calls recorded on each working day.
    pub per_day: usize,
    pub days: u32,
    pub seed: u64,
}

impl Default for WeekOptions {
    fn default() -> Self {
        WeekOptions {
            calls: 50_000,
            per_day: 400,
            days: 7,
            seed: 7,
        }
    }
}

/// The engine's clock on virtual time.
struct EngineClock(Arc<VirtualClock>);

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
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn at(secs: i64) -> DateTime<Utc> {
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
        for zone in 0..2 {
            // EMEA works 08:00-17:00 GMT, the Americas 14:00-23:00 GMT.
            let opens = midnight + if zone == 0 { 8 * 3600 } else { 14 * 3600 };
            for _ in 0..o.per_day / 2 {
                let start = opens + rng.below(9 * 3600) as i64;
                let ends = start + 900 + rng.below(45 * 60) as i64;
                let finishes = ends + 600 + rng.below(30 * 60) as i64;
                key += 1;
                control.schedule(
                    at(ends),
                    Change::Add {
                        key,
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
                        key,
                        status: "POST_PROCESSING_DONE".into(),
                    },
                );
                s.finishes.push((key, finishes));
            }
        }
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

fn pct(v: &[i64], p: f64) -> i64 {
    if v.is_empty() {
        return -1;
    }
    let mut v = v.to_vec();
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn minutes(secs: i64) -> String {
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
struct Ran {
    mode: CrawlMode,
    started: i64,
    finished: i64,
    requests: u64,
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
}

impl WeekReport {
    /// The freshness percentile `p` (0..=1), seconds; -1 with no call indexed.
    pub fn freshness_at(&self, p: f64) -> i64 {
        pct(&self.freshness, p)
    }
}

/// Runs the simulated week and prints its figures.
// Longer than 80 lines on purpose: the week reads top to bottom as set-up, backfill, the
// week's loop and its report.
pub fn run(o: &WeekOptions) -> anyhow::Result<WeekReport> {
    let wall = Instant::now();
    // Sunday 2026-11-22 00:00 GMT; the index is filled the day before.
    let week_start = 1_795_305_600;
    let backfill_at = week_start - 86_400;
    let clock = Arc::new(VirtualClock::new(backfill_at));
    let defaults = MockClariConfig::default();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: o.seed,
            calls: o.calls,
            users: 60,
            anchor: at(backfill_at),
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
    let _cleanup = TempDir(state.clone());
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
    let file = crate::config::parse_file(&text)?;
    let config = Config::from_file(file, std::path::Path::new("."), &env)?;
    let runtime = crate::cached_runtime()?;
    let engine_clock = EngineClock(clock.clone());
    // One instance of the harness for the whole run, as `harness run` keeps; the connector's
    // clock is a cell moved to virtual now before each crawl.
    let guest_now: &'static std::sync::atomic::AtomicI64 = Box::leak(Box::new(
        std::sync::atomic::AtomicI64::new(clock.epoch_secs()),
    ));
    let mut p = setup::prepare_with(
        &runtime,
        &config,
        RunOptions {
            clock: GuestClock::Shared(wasm_runtime::ClockCell(guest_now)),
            time: Some(clock.clone()),
            ..RunOptions::default()
        },
    )?;
    let mut crawl =
        |mode: Option<CrawlMode>| -> anyhow::Result<Option<(Ran, crawl_engine::CrawlReport)>> {
            let now = clock.epoch_secs();
            guest_now.store(now, std::sync::atomic::Ordering::Relaxed);
            let mode = match mode {
                Some(m) => m,
                None => match crate::schedule::due(
                    &p,
                    &config.schedule,
                    config.crawl.weekly_request_budget,
                    now,
                ) {
                    Ok(m) => m,
                    Err(wait) => {
                        clock.advance(Duration::from_secs(wait.max(1) as u64));
                        return Ok(None);
                    }
                },
            };
            let before = p.connector.egress().request_count();
            let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
                .with_hooks(crawl_engine::Hooks {
                    clock: &engine_clock,
                    observer: &crawl_engine::Silent,
                    crash: &crawl_engine::NoCrash,
                })
                .run(mode)?;
            let ran = Ran {
                mode,
                started: now,
                finished: clock.epoch_secs(),
                requests: p.connector.egress().request_count() - before,
            };
            Ok(Some((ran, report)))
        };

    println!(
        "simulated week: {} calls over 12 months, {} new calls a working day in two time zones, default configuration",
        o.calls, o.per_day
    );
    let before = clari.control().request_count();
    let (backfill, report) = crawl(Some(CrawlMode::Full))?.expect("a forced crawl runs");
    println!(
        "  backfill the day before (not counted in the week): {} requests, {} indexed, {} of virtual time, {:.0} s of wall time",
        clari.control().request_count() - before,
        report.indexed,
        minutes(backfill.finished - backfill.started),
        wall.elapsed().as_secs_f64()
    );

    let mut rng = Rng(o.seed ^ 0x5EED);
    let s = script(&clari, o, week_start, &mut rng);
    clock.advance_to(week_start);
    clari.control().apply_due();
    let requests_at_start = clari.control().request_count();
    let throttled_at_start = clari.control().throttled_count();
    let week_end = week_start + i64::from(o.days) * 86_400;
    let mut ran: Vec<Ran> = Vec::new();
    let mut fresh: BTreeMap<u64, i64> = BTreeMap::new();
    let mut edits_seen: BTreeMap<usize, i64> = BTreeMap::new();
    let mut deals_seen: BTreeMap<usize, i64> = BTreeMap::new();
    let mut deletions_seen: BTreeMap<usize, i64> = BTreeMap::new();
    while clock.epoch_secs() < week_end {
        clari.control().apply_due();
        let Some((r, _)) = crawl(None)? else {
            continue;
        };
        // Freshness: each call that finished processing, from then to its being indexed.
        let store = state_store::SqliteStore::open(&config.state_dir, &config.name)?;
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
        drop(store);
        if r.mode == CrawlMode::Full {
            reconciled(
                &glean,
                &s,
                r.finished,
                &mut edits_seen,
                &mut deals_seen,
                &mut deletions_seen,
            );
        }
        ran.push(r);
    }
    let week_requests = clari.control().request_count() - requests_at_start;
    let throttled = clari.control().throttled_count() - throttled_at_start;
    let polls = ran
        .iter()
        .filter(|r| r.mode == CrawlMode::Incremental)
        .count();
    let fulls: Vec<&Ran> = ran.iter().filter(|r| r.mode == CrawlMode::Full).collect();
    let freshness: Vec<i64> = fresh.values().copied().collect();
    println!(
        "  the week (virtual, Sunday 00:00 GMT to Sunday 00:00 GMT), {:.0} s of wall time:",
        wall.elapsed().as_secs_f64()
    );
    println!(
        "    requests to Clari           {week_requests} (budget 100,000; polling {}, full crawls {})",
        ran.iter()
            .filter(|r| r.mode == CrawlMode::Incremental)
            .map(|r| r.requests)
            .sum::<u64>(),
        fulls.iter().map(|r| r.requests).sum::<u64>()
    );
    println!("    429 answers                 {throttled}");
    println!(
        "    crawls                      {polls} incremental polls, {} reconciling full crawls (at {})",
        fulls.len(),
        fulls
            .iter()
            .map(|r| at(r.started).format("%a %H:%M").to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "    freshness, finished processing to indexed: p50 {}, p95 {}, max {} ({} of {} calls; goal p95 <= 2 min)",
        minutes(pct(&freshness, 0.5)),
        minutes(pct(&freshness, 0.95)),
        minutes(pct(&freshness, 1.0)),
        freshness.len(),
        s.finishes.iter().filter(|(_, f)| *f < week_end).count()
    );
    // Where the slow ones are: calls indexed more than 2 minutes after finishing, by the GMT
    // hour they finished in.
    let finished_at: BTreeMap<u64, i64> = s.finishes.iter().copied().collect();
    let mut slow_by_hour: BTreeMap<i64, usize> = BTreeMap::new();
    for (key, delay) in &fresh {
        if *delay > 120
            && let Some(f) = finished_at.get(key)
        {
            *slow_by_hour.entry(f.rem_euclid(86_400) / 3600).or_default() += 1;
        }
    }
    if !slow_by_hour.is_empty() {
        println!(
            "    calls indexed over 2 min after finishing, by GMT hour finished: {}",
            slow_by_hour
                .iter()
                .map(|(h, n)| format!("{h:02}h {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // The waits between one poll's end and the next poll's start, by GMT hour, and the polls'
    // own length: what freshness is made of.
    let mut gaps: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut lengths: Vec<i64> = Vec::new();
    for pair in ran.windows(2) {
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
    let last_full = fulls.last().map_or(i64::MIN, |r| r.started);
    let before_last = |times: Vec<i64>| times.iter().filter(|t| **t < last_full).count();
    let titles_due = before_last(s.titles.iter().map(|t| t.2).collect());
    let deals_due = before_last(s.deals.iter().map(|t| t.2).collect());
    let deletions_due = before_last(s.deletions.iter().map(|t| t.1).collect());
    for (what, seen, due, total) in [
        ("title edits", &edits_seen, titles_due, s.titles.len()),
        ("CRM relinks", &deals_seen, deals_due, s.deals.len()),
        (
            "deletions",
            &deletions_seen,
            deletions_due,
            s.deletions.len(),
        ),
    ] {
        let delays: Vec<i64> = seen.values().copied().collect();
        println!(
            "    {what:<27} reconciled {} of the {due} made before the last full crawl ({total} in all): p50 {}, max {}",
            delays.len(),
            minutes(pct(&delays, 0.5)),
            minutes(pct(&delays, 1.0)),
        );
    }
    Ok(WeekReport {
        requests: week_requests,
        throttled,
        polls,
        full_crawls: fulls.len(),
        finished: s.finishes.iter().filter(|(_, f)| *f < week_end).count(),
        freshness,
        titles: (edits_seen.len(), titles_due, s.titles.len()),
        deals: (deals_seen.len(), deals_due, s.deals.len()),
        deletions: (deletions_seen.len(), deletions_due, s.deletions.len()),
    })
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
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
