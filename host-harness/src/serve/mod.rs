//! `harness serve`: many connector instances (tenants) in one process. A tenant is one TOML
//! file in a directory, in the `harness crawl` format. One wasmtime engine and compiled-code
//! cache serve all tenants; a bounded pool of workers runs crawls, earliest-due first, at most
//! one per tenant; each crawl prepares its own egress, budget and state from the tenant's file,
//! so an idle tenant holds no instance and no state in memory. A failing tenant backs off with
//! increasing delay and is quarantined after [`QUARANTINE_AFTER`] failures in a row until an
//! operator resumes it. Files added, changed or removed take effect while running; a changed
//! file is checked (component, contract, grants) before the tenant switches to it.

pub mod api;
pub mod metrics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use serde::Serialize;
use wasm_runtime::{GuestClock, Runtime};

use crate::config::{ComponentRef, Config};

/// Failures in a row after which a tenant is quarantined.
pub const QUARANTINE_AFTER: u32 = 5;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub dir: PathBuf,
    /// Crawls running at once, across all tenants.
    pub workers: usize,
    /// The first backoff after a failed crawl; it doubles with each failure in a row.
    pub backoff_base: Duration,
    /// How often the tenants directory is rescanned.
    pub rescan: Duration,
    /// At start-up, first crawls are spread over this long.
    pub start_stagger: Duration,
    /// Each tenant runs one crawl at a time, with at most this many `fetch-item` calls at
    /// once (a tenant file may ask for fewer with `[crawl] concurrency`, not more).
    pub tenant_concurrency: usize,
}

impl ServeOptions {
    /// The service's defaults (as `harness serve` without flags) for tenants in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        ServeOptions {
            dir,
            workers: 64,
            backoff_base: Duration::from_secs(60),
            rescan: Duration::from_secs(2),
            start_stagger: Duration::from_secs(60),
            tenant_concurrency: 4,
        }
    }

    /// Workers that tenants in backoff (their last crawl failed) may hold at once: a quarter
    /// of them, at least one. However many tenants fail, and however long each failing
    /// crawl hangs, the others keep three quarters of the workers.
    pub fn failing_workers(&self) -> usize {
        (self.workers / 4).max(1)
    }
}

/// How the last crawl of a tenant went.
#[derive(Debug, Clone, Serialize)]
pub struct LastCrawl {
    /// When it ended, epoch seconds.
    pub finished_at: i64,
    pub mode: String,
    pub completed: bool,
    pub error: Option<String>,
    pub indexed: u64,
    pub deleted: u64,
    pub deletions_held: u64,
    pub requests: u64,
    /// Requests the source answered 429.
    pub throttled: u64,
    /// Documents in the index after the crawl, by the tenant's state.
    pub documents: Option<u64>,
    pub seconds: f64,
    /// Items that failed (each reported and skipped), and the first few reasons.
    pub item_failures: u64,
    pub failure_samples: Vec<String>,
    /// Why items were skipped, with counts (e.g. still processing).
    pub skipped: std::collections::BTreeMap<String, u64>,
}

/// Crawls kept per tenant for the console's history (about a day at one an hour, or the
/// last few hours at one a minute).
pub const HISTORY_LEN: usize = 288;

/// What the admin API shows of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    pub name: String,
    pub file: String,
    pub state: &'static str,
    pub consecutive_failures: u32,
    pub last_crawl: Option<LastCrawl>,
    pub next_crawl_in_seconds: Option<u64>,
    pub budget_used: u64,
    pub budget_limit: u64,
    /// Why the tenant's file (or its latest edit) was refused.
    pub config_error: Option<String>,
}

struct Tenant {
    file: PathBuf,
    /// SHA-256 of the file's text, to notice edits.
    text_digest: String,
    config: Option<Config>,
    config_error: Option<String>,
    running: bool,
    /// The running crawl, watched for a source that stopped answering.
    watch: Option<CrawlWatch>,
    paused: bool,
    quarantined: bool,
    failures: u32,
    next_due: Instant,
    /// A crawl an operator asked for.
    requested: Option<CrawlMode>,
    allow_mass_delete_once: bool,
    last: Option<LastCrawl>,
    /// The most recent crawls, oldest first (at most [`HISTORY_LEN`]).
    history: std::collections::VecDeque<LastCrawl>,
    budget_used: u64,
    /// The digest of a replaced component that failed its check (not checked again).
    refused_component: Option<String>,
    /// When the tenant's file and component were last checked.
    checked_at: std::time::SystemTime,
}

/// A running crawl as the scheduler watches it.
struct CrawlWatch {
    started: Instant,
    /// The crawl's egress engine, once prepared: when its source last answered.
    egress: Option<Arc<egress::Egress>>,
}

/// A running crawl whose source has not answered for this long no longer counts against
/// the workers: it is waiting out timeouts, not working.
pub const STALLED_AFTER: Duration = Duration::from_secs(15);

impl Tenant {
    /// Whether this tenant's running crawl is stalled on a source that does not answer.
    fn stalled(&self, now: Instant) -> bool {
        let Some(w) = self.watch.as_ref().filter(|_| self.running) else {
            return false;
        };
        if now.saturating_duration_since(w.started) < STALLED_AFTER {
            return false;
        }
        let last_ms = w
            .egress
            .as_ref()
            .map_or(0, |e| e.counters().last_answer_ms.load(Ordering::Relaxed));
        if last_ms == 0 {
            return true;
        }
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        now_ms.saturating_sub(last_ms) >= STALLED_AFTER.as_millis() as u64
    }

    fn push_history(&mut self, last: LastCrawl) {
        if self.history.len() >= HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(last.clone());
        self.last = Some(last);
    }

    fn state(&self) -> &'static str {
        match () {
            _ if self.config.is_none() => "refused",
            _ if self.running => "running",
            _ if self.quarantined => "quarantined",
            _ if self.paused => "paused",
            _ if self.failures > 0 => "backing-off",
            _ => "scheduled",
        }
    }

    fn view(&self, name: &str, now: Instant) -> TenantView {
        TenantView {
            name: name.to_string(),
            file: self.file.display().to_string(),
            state: self.state(),
            consecutive_failures: self.failures,
            last_crawl: self.last.clone(),
            next_crawl_in_seconds: (self.config.is_some() && !self.paused && !self.quarantined)
                .then(|| self.next_due.saturating_duration_since(now).as_secs()),
            budget_used: self.budget_used,
            budget_limit: self
                .config
                .as_ref()
                .map_or(0, |c| c.crawl.weekly_request_budget),
            config_error: self.config_error.clone(),
        }
    }
}

/// The running service.
pub struct Service {
    runtime: Arc<Runtime>,
    options: ServeOptions,
    tenants: Mutex<BTreeMap<String, Tenant>>,
    pub metrics: metrics::Metrics,
    pub stop: Arc<AtomicBool>,
    ready: AtomicBool,
    /// Scheduler lag of each dispatched crawl, with when it was dispatched and the tenant
    /// (for benchmarks; the most recent 100,000).
    pub lags: Mutex<std::collections::VecDeque<Dispatched>>,
}

/// One crawl the scheduler dispatched.
#[derive(Debug, Clone)]
pub struct Dispatched {
    pub at: Instant,
    pub lag: Duration,
    pub tenant: String,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

impl Service {
    pub fn new(runtime: Arc<Runtime>, options: ServeOptions, stop: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Service {
            runtime,
            options,
            tenants: Mutex::new(BTreeMap::new()),
            metrics: metrics::Metrics::default(),
            stop,
            ready: AtomicBool::new(false),
            lags: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Tenant>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Every tenant as the admin API shows it.
    pub fn views(&self) -> Vec<TenantView> {
        let now = Instant::now();
        self.lock().iter().map(|(n, t)| t.view(n, now)).collect()
    }

    pub fn view(&self, name: &str) -> Option<TenantView> {
        self.lock().get(name).map(|t| t.view(name, Instant::now()))
    }

    /// Applies `f` to tenant `name`; `false` when there is none.
    fn with_tenant(&self, name: &str, f: impl FnOnce(&mut Tenant)) -> bool {
        match self.lock().get_mut(name) {
            Some(t) => {
                f(t);
                true
            }
            None => false,
        }
    }

    /// A tenant's recent crawls, oldest first.
    pub fn history(&self, name: &str) -> Option<Vec<LastCrawl>> {
        self.lock()
            .get(name)
            .map(|t| t.history.iter().cloned().collect())
    }

    /// The configuration a tenant runs with (checked), if its file was accepted.
    pub fn tenant_config(&self, name: &str) -> Option<Config> {
        self.lock().get(name).and_then(|t| t.config.clone())
    }

    /// The shared runtime (for the console's fetch-from-source).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Records a crawl that ran outside the scheduler (e.g. the demo's) in a tenant's history.
    pub fn record_external(&self, name: &str, report: &crawl_engine::CrawlReport, throttled: u64) {
        self.with_tenant(name, |t| {
            let last = last_crawl(report, throttled);
            t.push_history(last);
        });
    }

    pub fn request_crawl(&self, name: &str, mode: CrawlMode) -> bool {
        self.with_tenant(name, |t| t.requested = Some(mode))
    }

    pub fn pause(&self, name: &str) -> bool {
        self.with_tenant(name, |t| t.paused = true)
    }

    /// Resumes a paused or quarantined tenant, forgetting its failures.
    pub fn resume(&self, name: &str) -> bool {
        self.with_tenant(name, |t| {
            t.paused = false;
            t.quarantined = false;
            t.failures = 0;
            t.next_due = Instant::now();
        })
    }

    /// Lets the next full crawl apply held deletions, and asks for it.
    pub fn approve_deletions(&self, name: &str) -> bool {
        self.with_tenant(name, |t| {
            t.allow_mass_delete_once = true;
            t.requested = Some(CrawlMode::Full);
        })
    }

    /// Checks a tenant file: it parses, its secrets resolve, its component loads and passes
    /// the contract check, and the grants match what the component declares. A component
    /// named by file is read once here and kept: the tenant runs exactly these bytes until a
    /// new version passes the same check.
    fn check_file(&self, path: &Path) -> anyhow::Result<Config> {
        let mut config = Config::load(path, &env)?;
        if let ComponentRef::File { path: file, .. } = &config.component {
            let bytes = crate::component::load(&config.component)?;
            config.component = ComponentRef::Loaded {
                bytes: Arc::from(bytes.into_owned()),
                origin: file.display().to_string(),
            };
        }
        let info = crate::setup::check(&self.runtime, &config)?;
        // The datasource the engine would default to, made explicit for the console.
        if config.glean.datasource.is_none() {
            config.glean.datasource = Some(info.name);
        }
        Ok(config)
    }

    /// Refuses a tenant that would share another tenant's state or secrets: its instance
    /// name (which names its state file) and the environment variables its upstream secrets
    /// come from must be its own.
    fn check_isolation(&self, name: &str, config: &Config) -> anyhow::Result<()> {
        let tenants = self.lock();
        for (other, t) in tenants.iter().filter(|(n, _)| n.as_str() != name) {
            let Some(c) = &t.config else { continue };
            if c.name == config.name {
                anyhow::bail!(
                    "tenant `{other}` already uses the instance name `{}` (it names the state file); give each tenant its own [connector] name",
                    c.name
                );
            }
            if let Some(e) = config
                .secret_envs
                .iter()
                .find(|e| c.secret_envs.contains(e))
            {
                anyhow::bail!(
                    "the secret in `{e}` is already tenant `{other}`'s; a tenant gets secrets of its own (use another environment variable)"
                );
            }
        }
        Ok(())
    }

    /// At start-up, tenants' first crawls are spread over `start_stagger` (by a hash of the
    /// name), counted from the end of the first scan, instead of all falling due at once;
    /// tenants added later start at once.
    fn start_stagger(&self, name: &str) -> Duration {
        let h = crawl_engine::stages::stable_hash(name);
        let window = u64::try_from(self.options.start_stagger.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(h % window.max(1))
    }

    /// A tenant's component file when it has changed on disk since it was checked.
    /// The file is read only when its length or modification time moved since it was checked,
    /// so a rescan of many tenants costs a `stat` each, not a read of every component.
    fn replaced_component(t: &Tenant) -> Option<PathBuf> {
        let ComponentRef::Loaded { bytes, origin } = &t.config.as_ref()?.component else {
            return None;
        };
        let meta = std::fs::metadata(origin).ok()?;
        let unmoved =
            meta.len() == bytes.len() as u64 && meta.modified().is_ok_and(|m| m <= t.checked_at);
        if unmoved {
            return None;
        }
        let now = std::fs::read(origin).ok()?;
        let changed = now.as_slice() != &bytes[..]
            && t.refused_component.as_deref() != Some(crate::component::digest(&now).as_str());
        changed.then(|| PathBuf::from(origin))
    }

    /// Adds, updates and removes tenants from the directory.
    pub fn rescan(&self) {
        let mut seen = BTreeMap::new();
        let entries = match std::fs::read_dir(&self.options.dir) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(
                    "cannot read the tenants directory {}: {e}",
                    self.options.dir.display()
                );
                return;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                continue;
            };
            seen.insert(name.clone(), ());
            let digest = crate::component::digest(text.as_bytes());
            let (known, replaced) = match self.lock().get(&name) {
                Some(t) => (Some(t.text_digest.clone()), Self::replaced_component(t)),
                None => (None, None),
            };
            if known.as_deref() == Some(digest.as_str()) && replaced.is_none() {
                continue;
            }
            let checked_at = std::time::SystemTime::now();
            let checked = self
                .check_file(&path)
                .and_then(|c| self.check_isolation(&name, &c).map(|()| c));
            let mut tenants = self.lock();
            match (tenants.get_mut(&name), checked) {
                (Some(t), Ok(config)) => {
                    tracing::info!(tenant = %name, "tenant file or component changed and checked: the next crawl uses it");
                    t.config = Some(config);
                    t.config_error = None;
                    t.text_digest = digest;
                    t.checked_at = checked_at;
                    t.refused_component = None;
                }
                (Some(t), Err(e)) => {
                    let msg = format!("{e:#}");
                    tracing::warn!(tenant = %name, "the edited tenant file or replaced component is refused; the tenant keeps the version it had: {msg}");
                    t.config_error = Some(msg);
                    t.text_digest = digest;
                    t.checked_at = checked_at;
                    if let Some(file) = &replaced {
                        t.refused_component = std::fs::read(file)
                            .ok()
                            .map(|b| crate::component::digest(&b));
                    }
                }
                (None, checked) => {
                    let (config, config_error) = match checked {
                        Ok(c) => (Some(c), None),
                        Err(e) => {
                            let msg = format!("{e:#}");
                            tracing::warn!(tenant = %name, "tenant file refused: {msg}");
                            (None, Some(msg))
                        }
                    };
                    // At start-up the first scan sets the first crawl once every file is
                    // checked; a checking pass of many files must not make them all late.
                    let first_due = Instant::now();
                    tenants.insert(
                        name,
                        Tenant {
                            file: path,
                            text_digest: digest,
                            checked_at,
                            config,
                            config_error,
                            running: false,
                            watch: None,
                            paused: false,
                            quarantined: false,
                            failures: 0,
                            next_due: first_due,
                            requested: None,
                            allow_mass_delete_once: false,
                            last: None,
                            history: std::collections::VecDeque::new(),
                            budget_used: 0,
                            refused_component: None,
                        },
                    );
                }
            }
        }
        let mut tenants = self.lock();
        tenants.retain(|name, _| seen.contains_key(name));
        if !self.ready.swap(true, Ordering::SeqCst) {
            let now = Instant::now();
            for (name, t) in tenants.iter_mut() {
                t.next_due = now + self.start_stagger(name);
            }
        }
    }

    /// The tenants due now, most overdue first, marked running (at most `free`). Tenants in
    /// backoff get at most [`ServeOptions::failing_workers`] workers between them.
    fn take_due(&self) -> Vec<(String, Option<CrawlMode>, Duration)> {
        let now = Instant::now();
        let mut tenants = self.lock();
        let workers = self.options.workers.max(1);
        // The failing lane: running crawls of tenants in backoff, and crawls stalled on a
        // source that does not answer. It has its own, smaller cap; the rest share `workers`.
        let (mut lane, mut main) = (0, 0);
        for t in tenants.values().filter(|t| t.running) {
            if t.failures > 0 || t.stalled(now) {
                lane += 1;
            } else {
                main += 1;
            }
        }
        let mut free = workers.saturating_sub(main);
        let mut failing_room = self.options.failing_workers().saturating_sub(lane);
        let mut due: Vec<(&String, &mut Tenant)> = tenants
            .iter_mut()
            .filter(|(_, t)| t.config.is_some() && !t.running)
            .filter(|(_, t)| {
                t.requested.is_some() || (!t.paused && !t.quarantined && t.next_due <= now)
            })
            .collect();
        due.sort_by_key(|(_, t)| {
            if t.requested.is_some() {
                now
            } else {
                t.next_due
            }
        });
        let mut taken = Vec::new();
        for (name, t) in due {
            // A tenant in backoff runs in the failing lane (an operator's request too, but
            // it may borrow a main place when the lane is full).
            let room = if t.failures > 0 && failing_room > 0 {
                &mut failing_room
            } else if t.failures == 0 || t.requested.is_some() {
                &mut free
            } else {
                continue;
            };
            if *room == 0 {
                continue;
            }
            *room -= 1;
            t.running = true;
            t.watch = Some(CrawlWatch {
                started: now,
                egress: None,
            });
            let lag = now.saturating_duration_since(t.next_due);
            taken.push((name.clone(), t.requested.take(), lag));
            if free == 0 && failing_room == 0 {
                break;
            }
        }
        taken
    }

    /// Runs the service until `stop` is set: the scheduler here, crawls on the workers.
    pub fn run(self: &Arc<Self>) {
        self.rescan();
        let (jobs, queue) = mpsc::channel::<(String, Option<CrawlMode>)>();
        let queue = Arc::new(Mutex::new(queue));
        // Threads that wait for a job and are not yet promised to one. Each dispatched crawl
        // takes one or starts one, so a crawl never waits for a thread: the scheduler's caps
        // (below) bound the crawls, and the threads follow them.
        let available = Arc::new(Mutex::new(0usize));
        let mut workers = Vec::new();
        let spawn = |workers: &mut Vec<std::thread::JoinHandle<()>>| {
            let (service, queue, available) = (self.clone(), queue.clone(), available.clone());
            workers.push(std::thread::spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((name, mode)) = job else { break };
                    service.crawl(&name, mode);
                    *available.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                }
            }));
        };
        let mut last_scan = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            if last_scan.elapsed() >= self.options.rescan {
                self.rescan();
                last_scan = Instant::now();
            }
            for (name, mode, lag) in self.take_due() {
                self.metrics
                    .scheduler_lag_seconds
                    .observe(lag.as_secs_f64());
                {
                    let mut lags = self.lags.lock().unwrap_or_else(|e| e.into_inner());
                    if lags.len() >= 100_000 {
                        lags.pop_front();
                    }
                    lags.push_back(Dispatched {
                        at: Instant::now(),
                        lag,
                        tenant: name.clone(),
                    });
                }
                {
                    let mut free = available.lock().unwrap_or_else(|e| e.into_inner());
                    if *free > 0 {
                        *free -= 1;
                    } else {
                        spawn(&mut workers);
                    }
                }
                if jobs.send((name, mode)).is_err() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Drain: running crawls see `stop` and end at their next checkpoint.
        drop(jobs);
        for w in workers {
            let _ = w.join();
        }
    }

    /// One crawl of tenant `name` (`mode`, or what its schedule says), on a worker.
    fn crawl(&self, name: &str, requested: Option<CrawlMode>) {
        let (config, allow_mass_delete) = {
            let mut tenants = self.lock();
            let Some(t) = tenants.get_mut(name) else {
                return;
            };
            let allow = std::mem::take(&mut t.allow_mass_delete_once);
            (t.config.clone(), allow)
        };
        let Some(config) = config else { return };
        let started = Instant::now();
        let outcome = self.crawl_once(name, &config, requested, allow_mass_delete);
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(name) else {
            return;
        };
        t.running = false;
        t.watch = None;
        match outcome {
            Ok(Ok((report, budget_used, next, throttled, documents))) => {
                let outcome = if report.completed {
                    "completed"
                } else {
                    "stopped"
                };
                self.record(name, &report, outcome, started.elapsed());
                t.budget_used = budget_used;
                let mut last = last_crawl(&report, throttled);
                last.documents = documents;
                t.push_history(last);
                if report.completed || self.stop.load(Ordering::SeqCst) {
                    t.failures = 0;
                    t.next_due = Instant::now() + next;
                } else {
                    self.fail(name, t, report.stopped.clone().unwrap_or_default());
                }
            }
            // Nothing was due after all (the plan moved): come back when it says.
            Ok(Err(wait)) => t.next_due = Instant::now() + wait,
            Err(e) => {
                self.metrics
                    .crawls
                    .get_or_create(&metrics::OutcomeLabel {
                        tenant: name.to_string(),
                        outcome: "error".into(),
                    })
                    .inc();
                let msg = format!("{e:#}");
                t.push_history(LastCrawl {
                    finished_at: chrono::Utc::now().timestamp(),
                    mode: requested.map_or("scheduled", |m| m.name()).to_string(),
                    completed: false,
                    error: Some(msg.clone()),
                    indexed: 0,
                    deleted: 0,
                    deletions_held: 0,
                    requests: 0,
                    throttled: 0,
                    documents: None,
                    seconds: started.elapsed().as_secs_f64(),
                    item_failures: 0,
                    failure_samples: Vec::new(),
                    skipped: Default::default(),
                });
                self.fail(name, t, msg);
            }
        }
    }

    fn fail(&self, name: &str, t: &mut Tenant, why: String) {
        t.failures += 1;
        if t.failures >= QUARANTINE_AFTER {
            t.quarantined = true;
            tracing::error!(tenant = %name, "quarantined after {} failed crawls in a row ({why}); resume it with the admin API once fixed", t.failures);
        } else {
            let wait = self.options.backoff_base * 2u32.pow(t.failures - 1);
            t.next_due = Instant::now() + wait;
            tracing::warn!(tenant = %name, "crawl failed ({why}); next try in {wait:?}");
        }
    }

    fn record(
        &self,
        name: &str,
        report: &crawl_engine::CrawlReport,
        outcome: &str,
        took: Duration,
    ) {
        let tenant = metrics::TenantLabel {
            tenant: name.to_string(),
        };
        let m = &self.metrics;
        m.crawls
            .get_or_create(&metrics::OutcomeLabel {
                tenant: name.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        m.indexed.get_or_create(&tenant).inc_by(report.indexed);
        m.deleted.get_or_create(&tenant).inc_by(report.deleted);
        m.requests.get_or_create(&tenant).inc_by(report.requests);
        m.crawl_seconds.observe(took.as_secs_f64());
    }

    /// Prepares and runs one crawl; `Err(wait)` when nothing was due after all.
    #[allow(clippy::type_complexity)]
    fn crawl_once(
        &self,
        tenant_name: &str,
        config: &Config,
        requested: Option<CrawlMode>,
        allow_mass_delete: bool,
    ) -> anyhow::Result<
        Result<(crawl_engine::CrawlReport, u64, Duration, u64, Option<u64>), Duration>,
    > {
        let mut p = crate::setup::prepare(&self.runtime, config, GuestClock::System)?;
        let egress = p.connector.egress().clone();
        self.with_tenant(tenant_name, |t| {
            if let Some(w) = &mut t.watch {
                w.egress = Some(egress);
            }
        });
        let calls = self.metrics.guest_call_seconds.clone();
        p.connector = p.connector.with_observer(Arc::new(move |export, took| {
            calls
                .get_or_create(&metrics::ExportLabel {
                    export: export.to_string(),
                })
                .observe(took.as_secs_f64());
        }));
        let now = chrono::Utc::now().timestamp();
        let mode = match requested {
            Some(m) => m,
            None => match crate::schedule::due(
                &p,
                &config.schedule,
                config.crawl.weekly_request_budget,
                now,
            ) {
                Ok(m) => m,
                Err(wait) => return Ok(Err(Duration::from_secs(wait.max(1) as u64))),
            },
        };
        let mut options = p.options.clone();
        options.stop = Some(self.stop.clone());
        options.allow_mass_delete = allow_mass_delete;
        options.concurrency = options
            .concurrency
            .clamp(1, self.options.tenant_concurrency.max(1));
        let instances_before = p.connector.instances_created();
        let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, options)
            .with_hooks(crawl_engine::Hooks {
                clock: &crawl_engine::SystemClock,
                observer: &crawl_engine::Silent,
                crash: &crate::crash::EnvCrash,
            })
            .run(mode)?;
        self.metrics
            .instances
            .inc_by(p.connector.instances_created() - instances_before);
        let egress = p.connector.egress();
        let tenant = metrics::TenantLabel {
            tenant: config.name.clone(),
        };
        let throttled = egress.counters().throttled.load(Ordering::Relaxed);
        self.metrics
            .throttled
            .get_or_create(&tenant)
            .inc_by(throttled);
        for ((upstream, status), n) in egress
            .counters()
            .by_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            self.metrics
                .responses
                .get_or_create(&metrics::StatusLabel {
                    tenant: config.name.clone(),
                    upstream: upstream.clone(),
                    status: status.to_string(),
                })
                .inc_by(*n);
        }
        let used = egress
            .budget()
            .map_or(0, |b| b.usage().current(now).requests);
        let limit = config.crawl.weekly_request_budget;
        self.metrics
            .budget_used
            .get_or_create(&tenant)
            .set(used as i64);
        self.metrics
            .budget_left
            .get_or_create(&tenant)
            .set(limit.saturating_sub(used) as i64);
        let now = chrono::Utc::now().timestamp();
        let next = match crate::schedule::due(
            &p,
            &config.schedule,
            config.crawl.weekly_request_budget,
            now,
        ) {
            Ok(_) => Duration::ZERO,
            Err(wait) => Duration::from_secs(wait.max(1) as u64),
        };
        let documents = p.store.document_count().ok();
        Ok(Ok((report, used, next, throttled, documents)))
    }
}

fn last_crawl(r: &crawl_engine::CrawlReport, throttled: u64) -> LastCrawl {
    LastCrawl {
        documents: None,
        finished_at: chrono::Utc::now().timestamp(),
        throttled,
        item_failures: r.failures.len() as u64,
        failure_samples: r
            .failures
            .iter()
            .take(5)
            .map(|f| format!("{}: {}", f.id, f.message))
            .collect(),
        skipped: r.skipped.clone(),
        mode: r.mode.clone(),
        completed: r.completed,
        error: r.stopped.clone(),
        indexed: r.indexed,
        deleted: r.deleted,
        deletions_held: r.deletions_held,
        requests: r.requests,
        seconds: r.elapsed.as_secs_f64(),
    }
}
