//! `harness serve`: many connector instances (tenants) in one process. A tenant is one TOML
//! file in a directory, in the `harness crawl` format. One wasmtime engine and compiled-code
//! cache serve all tenants; a bounded pool of workers runs crawls, earliest-due first, at most
//! one per tenant; each crawl prepares its own egress, budget and state from the tenant's file,
//! so an idle tenant holds no instance and no state in memory. A failing tenant backs off with
//! increasing delay and is quarantined after [`QUARANTINE_AFTER`] failures in a row until an
//! operator resumes it. Files added, changed or removed take effect while running; a changed
//! file is checked (component, contract, grants) before the tenant switches to it.

pub mod actions;
pub mod api;
pub mod cluster;
pub mod metrics;
pub mod tenant_file;
pub mod tenant_state;

pub use actions::{Accepted, CrawlRefusal};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use serde::Serialize;
use wasm_runtime::Runtime;

use tenant_instance::config::{ComponentRef, Config};

/// Failures in a row after which a tenant is quarantined.
pub const QUARANTINE_AFTER: u32 = 5;

/// A scheduler loop silent for longer than this makes the service unready.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(10);

/// The longest backoff after failed crawls, however large `--backoff-seconds` is.
pub const MAX_BACKOFF: Duration = Duration::from_secs(7 * 86_400);

/// Refused tenants are checked again this often even when their file did not change: the
/// cause may have passed (a registry that was down, a component not yet deployed).
pub const RECHECK_REFUSED: Duration = Duration::from_secs(60);

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
    /// Several replicas on PostgreSQL: tenants are crawled under leases and their state is
    /// in the database. `None`: one process, state in SQLite beside each tenant file.
    pub cluster: Option<Arc<cluster::Cluster>>,
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
            cluster: None,
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
    /// Paused by an operator (a crawl under way shows `running` and finishes).
    pub paused: bool,
    pub consecutive_failures: u32,
    pub last_crawl: Option<LastCrawl>,
    pub next_crawl_in_seconds: Option<u64>,
    pub budget_used: u64,
    pub budget_limit: u64,
    /// Why the tenant's file (or its latest edit) was refused.
    pub config_error: Option<String>,
    /// With several replicas: the replica holding the tenant's lease (none while it is free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
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
    /// The lock on the tenant's state (its directory and instance name), held for as long as
    /// the service serves the tenant: no other process writes that state meanwhile.
    lock: Option<((PathBuf, String), state_store::StateLock)>,
    /// The tenant's limiters and budget, shared by its crawls, the console's fetches and the
    /// canary's samples in this process.
    instance: Arc<tenant_instance::instance::Instance>,
}

/// The order due tenants are dispatched in (smallest first): the oldest due first (an
/// operator's request counts as due now), except that a tenant's first crawl in this process (a backfill when it
/// has no state: long) waits behind the polls of tenants already crawled (short), so a cold
/// start of many tenants keeps the indexed ones fresh while the others backfill.
fn dispatch_key(
    requested: bool,
    crawled_here: bool,
    next_due: Instant,
    now: Instant,
) -> (bool, Instant) {
    if requested {
        (false, now)
    } else {
        (!crawled_here, next_due)
    }
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

/// What a rescan compares a tenant file with (see [`Service::known`]).
struct Known {
    text_digest: String,
    /// The component checked with the file, when it came from a file: its path and bytes.
    component: Option<(String, Arc<[u8]>)>,
    refused_component: Option<String>,
    /// Whether the tenant's file was refused (it has no configuration).
    refused: bool,
    checked_at: std::time::SystemTime,
}

impl Tenant {
    fn new(
        file: PathBuf,
        text_digest: String,
        checked_at: std::time::SystemTime,
        config: Option<Config>,
        config_error: Option<String>,
    ) -> Tenant {
        Tenant {
            file,
            text_digest,
            checked_at,
            config,
            config_error,
            running: false,
            watch: None,
            paused: false,
            quarantined: false,
            failures: 0,
            // At start-up the first scan sets the first crawl once every file is checked; a
            // checking pass of many files must not make them all late.
            next_due: Instant::now(),
            requested: None,
            allow_mass_delete_once: false,
            last: None,
            history: std::collections::VecDeque::new(),
            budget_used: 0,
            refused_component: None,
            lock: None,
            instance: tenant_instance::instance::Instance::new(),
        }
    }

    /// Makes sure the tenant holds the lock on `config`'s state, taking it when the state
    /// changed (a new name or directory); the old lock is released once the new one is held.
    fn lock_state(&mut self, config: &Config) -> Result<(), String> {
        let key = (config.state_dir.clone(), config.name.clone());
        if self.lock.as_ref().is_some_and(|(k, _)| *k == key) {
            return Ok(());
        }
        let lock = state_store::StateLock::acquire(&key.0, &key.1)
            .map_err(|e| tenant_file::excerpt(&format!("{e:#}")))?;
        self.lock = Some((key, lock));
        Ok(())
    }

    /// Whether this tenant's running crawl is stalled on a source that does not answer.
    fn stalled(&self, now: Instant) -> bool {
        let Some(w) = self.watch.as_ref().filter(|_| self.running) else {
            return false;
        };
        if now.saturating_duration_since(w.started) < STALLED_AFTER {
            return false;
        }
        // Both sides on the monotonic clock: a wall clock that jumps changes nothing.
        let last_ms = w.egress.as_ref().map_or(0, |e| {
            e.counters().last_answer_mono_ms.load(Ordering::Relaxed)
        });
        if last_ms == 0 {
            return true;
        }
        egress::monotonic_ms().saturating_sub(last_ms) >= STALLED_AFTER.as_millis() as u64
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

    /// The requests of the current period, counted by the budget in use now (if any).
    fn live_budget_used(&self) -> Option<u64> {
        let period = self.config.as_ref()?.request_budget().1;
        let now = chrono::Utc::now().timestamp();
        let usage = self.instance.live_usage(now)?;
        Some(usage.current_in(now, period).requests)
    }

    fn view(&self, name: &str, now: Instant) -> TenantView {
        TenantView {
            name: name.to_string(),
            file: self.file.display().to_string(),
            state: self.state(),
            paused: self.paused,
            consecutive_failures: self.failures,
            last_crawl: self.last.clone(),
            next_crawl_in_seconds: (self.config.is_some() && !self.paused && !self.quarantined)
                .then(|| self.next_due.saturating_duration_since(now).as_secs()),
            // While a crawl or a fetch spends the budget, its count as it goes.
            budget_used: self.live_budget_used().unwrap_or(self.budget_used),
            budget_limit: self.config.as_ref().map_or(0, |c| c.request_budget().0),
            config_error: self.config_error.clone(),
            held_by: None,
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
    /// When the service was made: the origin of [`Service::heartbeat_ms`].
    born: Instant,
    /// Milliseconds after `born` at which the scheduler loop last went round.
    heartbeat_ms: std::sync::atomic::AtomicU64,
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

/// Raises the soft limit on open files to the hard limit: each tenant holds its state's lock
/// file open for as long as it is served, so thousands of tenants need thousands of files.
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("could not raise the open-file limit; many tenants may not fit");
            }
        }
    }
}

impl Service {
    pub fn new(runtime: Arc<Runtime>, options: ServeOptions, stop: Arc<AtomicBool>) -> Arc<Self> {
        raise_open_file_limit();
        Arc::new(Service {
            runtime,
            options,
            tenants: Mutex::new(BTreeMap::new()),
            metrics: metrics::Metrics::default(),
            stop,
            ready: AtomicBool::new(false),
            born: Instant::now(),
            heartbeat_ms: std::sync::atomic::AtomicU64::new(0),
            lags: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Tenant>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the first scan of the tenants has ended (the scheduler may be idle).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Ready to serve: the first scan ended and the scheduler loop went round within the last
    /// [`HEARTBEAT_STALE`]; otherwise why not.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if !self.is_ready() {
            return Err("the tenants are still loading");
        }
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        let beat = self.heartbeat_ms.load(Ordering::SeqCst);
        if now.saturating_sub(beat) > HEARTBEAT_STALE.as_millis() as u64 {
            return Err(
                "the scheduler loop has not gone round lately: no crawl is being dispatched",
            );
        }
        Ok(())
    }

    fn beat(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heartbeat_ms.store(now, Ordering::SeqCst);
    }

    /// Every tenant as the admin API shows it.
    pub fn views(&self) -> Vec<TenantView> {
        let now = Instant::now();
        let mut views: Vec<TenantView> = self.lock().iter().map(|(n, t)| t.view(n, now)).collect();
        if let Some(c) = &self.options.cluster {
            for v in &mut views {
                v.held_by = c.holder(&v.name);
            }
        }
        views
    }

    pub fn view(&self, name: &str) -> Option<TenantView> {
        let mut view = self
            .lock()
            .get(name)
            .map(|t| t.view(name, Instant::now()))?;
        view.held_by = self.options.cluster.as_ref().and_then(|c| c.holder(name));
        Some(view)
    }

    /// Whether tenants' state is in PostgreSQL, shared by several replicas.
    pub fn is_cluster(&self) -> bool {
        self.options.cluster.is_some()
    }

    /// Runs `f` (a canary's live sample and judgement) with tenant `name` marked running, so
    /// no crawl of it starts meanwhile: the two would share the tenant's budget and limiters,
    /// but a canary is a heavy errand that should not slow the tenant's freshness. Refused
    /// while a crawl runs.
    pub fn exclusive<T>(&self, name: &str, f: impl FnOnce() -> T) -> Result<T, String> {
        {
            let mut tenants = self.lock();
            let t = tenants
                .get_mut(name)
                .ok_or_else(|| format!("there is no tenant `{}`", tenant_file::excerpt(name)))?;
            if t.running {
                return Err(format!(
                    "a crawl of `{}` is running; try again once it has ended (the two would spend the budget and the rate separately)",
                    tenant_file::excerpt(name)
                ));
            }
            t.running = true;
        }
        // Cleared however `f` ends, a panic included.
        struct Clear<'a>(&'a Service, &'a str);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                if let Some(t) = self.0.lock().get_mut(self.1) {
                    t.running = false;
                }
            }
        }
        let _clear = Clear(self, name);
        Ok(f())
    }

    /// Tenant `name`'s limiters and budget, for whatever else reaches its source in this
    /// process (the console's fetch, a canary's sample).
    pub fn instance(&self, name: &str) -> Option<Arc<tenant_instance::instance::Instance>> {
        self.lock().get(name).map(|t| t.instance.clone())
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

    /// Checks a tenant file's `text` (read from `path`): it parses, its secrets resolve, its
    /// component loads and passes the contract check, and the grants match what the component
    /// declares. A component named by file is read once here and kept: the tenant runs exactly
    /// these bytes until a new version passes the same check.
    fn check_file(&self, path: &Path, text: &str) -> anyhow::Result<Config> {
        let file = tenant_instance::config::parse_file(text)?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::from_file(file, base_dir, &env)?;
        if let ComponentRef::Oci { pin_origin, .. } = &mut config.component {
            *pin_origin = format!("digest in [connector] of {}", path.display());
        }
        if let ComponentRef::File { path: file, .. } = &config.component {
            let bytes = tenant_instance::component::load(&config.component)?;
            let (bytes, digest) = tenant_instance::component::intern(bytes.into_owned());
            config.component = ComponentRef::Loaded {
                bytes,
                origin: file.display().to_string(),
                digest,
            };
        }
        let info = tenant_instance::setup::check(&self.runtime, &config)?;
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
            // Two tenants on one Glean datasource would delete each other's documents at
            // every full crawl.
            if c.glean.base_url.as_str().trim_end_matches('/')
                == config.glean.base_url.as_str().trim_end_matches('/')
                && c.glean.datasource.is_some()
                && c.glean.datasource == config.glean.datasource
            {
                anyhow::bail!(
                    "tenant `{other}` already writes to the Glean datasource `{}` at {}; give each tenant its own [glean] datasource",
                    config.glean.datasource.as_deref().unwrap_or_default(),
                    config.glean.base_url.as_str()
                );
            }
            if let Some(e) = config
                .secret_sources
                .iter()
                .find(|e| c.secret_sources.contains(e))
            {
                anyhow::bail!(
                    "the secret in {e} is already tenant `{other}`'s; a tenant gets secrets of its own (use another environment variable or file)"
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

    /// What a rescan needs to know of a known tenant, copied out under the lock so no file is
    /// read while it is held.
    fn known(&self, name: &str) -> Option<Known> {
        let tenants = self.lock();
        let t = tenants.get(name)?;
        let component = match t.config.as_ref().map(|c| &c.component) {
            Some(ComponentRef::Loaded { bytes, origin, .. }) => {
                Some((origin.clone(), bytes.clone()))
            }
            _ => None,
        };
        Some(Known {
            text_digest: t.text_digest.clone(),
            component,
            refused_component: t.refused_component.clone(),
            refused: t.config.is_none(),
            checked_at: t.checked_at,
        })
    }

    /// A tenant's component file when it has changed on disk since it was checked.
    /// The file is read only when its length or modification time moved since it was checked,
    /// so a rescan of many tenants costs a `stat` each, not a read of every component.
    fn replaced_component(k: &Known) -> Option<PathBuf> {
        let (origin, bytes) = k.component.as_ref()?;
        let meta = std::fs::metadata(origin).ok()?;
        let unmoved =
            meta.len() == bytes.len() as u64 && meta.modified().is_ok_and(|m| m <= k.checked_at);
        if unmoved {
            return None;
        }
        let now = std::fs::read(origin).ok()?;
        let changed = now.as_slice() != &bytes[..]
            && k.refused_component.as_deref()
                != Some(tenant_instance::component::digest(&now).as_str());
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
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                continue;
            };
            seen.insert(name.clone(), ());
            self.rescan_file(name, path);
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

    /// Reads and, when it changed (or was refused a while ago), checks one tenant file.
    fn rescan_file(&self, name: String, path: PathBuf) {
        let text = match tenant_file::read(&self.options.dir, &path) {
            Ok(text) => text,
            Err(e) => return self.settle(name, path, String::new(), None, Err(e)),
        };
        let digest = tenant_instance::component::digest(text.as_bytes());
        let known = self.known(&name);
        let replaced = known.as_ref().and_then(Self::replaced_component);
        let recheck = known.as_ref().is_some_and(|k| {
            k.refused && k.checked_at.elapsed().is_ok_and(|d| d >= RECHECK_REFUSED)
        });
        if known.as_ref().map(|k| k.text_digest.as_str()) == Some(digest.as_str())
            && replaced.is_none()
            && !recheck
        {
            return;
        }
        let checked = self
            .check_file(&path, &text)
            .and_then(|c| self.check_isolation(&name, &c).map(|()| c));
        self.settle(name, path, digest, replaced, checked);
    }

    /// Records the outcome of checking a tenant file: a new tenant, an accepted edit, or a
    /// refusal (an existing tenant keeps the version it had). Messages are shown as short,
    /// escaped excerpts.
    fn settle(
        &self,
        name: String,
        path: PathBuf,
        digest: String,
        replaced: Option<PathBuf>,
        checked: anyhow::Result<Config>,
    ) {
        let checked_at = std::time::SystemTime::now();
        let checked = checked.map_err(|e| tenant_file::excerpt(&format!("{e:#}")));
        let refused_component = match (&checked, &replaced) {
            (Err(_), Some(file)) => std::fs::read(file)
                .ok()
                .map(|b| tenant_instance::component::digest(&b)),
            _ => None,
        };
        let mut tenants = self.lock();
        let checked = match (tenants.get_mut(&name), checked) {
            (Some(t), Ok(config)) if self.options.cluster.is_none() => {
                t.lock_state(&config).map(|()| config)
            }
            (_, checked) => checked,
        };
        match (tenants.get_mut(&name), checked) {
            (Some(t), Ok(config)) => {
                tracing::info!(tenant = %name, "tenant file or component changed and checked: the next crawl uses it");
                t.config = Some(config);
                t.config_error = None;
                t.text_digest = digest;
                t.checked_at = checked_at;
                t.refused_component = None;
            }
            (Some(t), Err(msg)) => {
                if t.config_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(tenant = %name, "the tenant file or its component is refused; the tenant keeps the version it had: {msg}");
                }
                t.config_error = Some(msg);
                t.text_digest = digest;
                t.checked_at = checked_at;
                if refused_component.is_some() {
                    t.refused_component = refused_component;
                }
            }
            (None, checked) => {
                let mut tenant = Tenant::new(path, digest, checked_at, None, None);
                let local = self.options.cluster.is_none();
                let checked = checked.and_then(|c| {
                    if local {
                        tenant.lock_state(&c)?;
                    }
                    Ok(c)
                });
                match checked {
                    Ok(c) => tenant.config = Some(c),
                    Err(msg) => {
                        tracing::warn!(tenant = %name, "tenant file refused: {msg}");
                        tenant.config_error = Some(msg);
                    }
                }
                tenants.insert(name, tenant);
            }
        }
    }

    /// Keeps this replica's leases until `stop` is set, then gives them all back.
    fn lease_loop(&self, cluster: &cluster::Cluster) {
        let tick = Duration::from_millis(100);
        let mut waited = cluster.tick_every();
        while !self.stop.load(Ordering::SeqCst) {
            if waited >= cluster.tick_every() {
                let (known, running) = {
                    let tenants = self.lock();
                    let known: Vec<String> = tenants
                        .iter()
                        .filter(|(_, t)| t.config.is_some())
                        .map(|(n, _)| n.clone())
                        .collect();
                    let running = tenants
                        .iter()
                        .filter(|(_, t)| t.running)
                        .map(|(n, _)| n.clone())
                        .collect();
                    (known, running)
                };
                cluster.tick(&known, &running);
                self.apply_routed(cluster.take_inbox());
                waited = Duration::ZERO;
            }
            std::thread::sleep(tick);
            waited += tick;
        }
        cluster.drain();
    }

    /// Rescans the tenants directory every `rescan` until `stop` is set.
    fn rescan_loop(&self) {
        let tick = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(tick);
            waited += tick;
            if waited >= self.options.rescan {
                self.rescan();
                waited = Duration::ZERO;
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
            .filter(|(_, t)| t.config.is_some() && !t.running && !t.paused && !t.quarantined)
            .filter(|(name, _)| {
                self.options
                    .cluster
                    .as_ref()
                    .is_none_or(|c| c.holds(name).is_some())
            })
            .filter(|(_, t)| t.requested.is_some() || t.next_due <= now)
            .collect();
        due.sort_by_key(|(_, t)| {
            dispatch_key(t.requested.is_some(), t.last.is_some(), t.next_due, now)
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
        // Rescans (which may compile components and pull from a registry) run on a thread of
        // their own, so dispatch for every tenant goes on meanwhile.
        let rescanner = {
            let service = self.clone();
            std::thread::spawn(move || service.rescan_loop())
        };
        let leaser = self.options.cluster.clone().map(|cluster| {
            let service = self.clone();
            std::thread::spawn(move || service.lease_loop(&cluster))
        });
        while !self.stop.load(Ordering::SeqCst) {
            self.beat();
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
        let _ = rescanner.join();
        if let Some(l) = leaser {
            let _ = l.join();
        }
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
        // A panic anywhere in the crawl (the host's code, not the guest's: a guest trap is an
        // error) marks this crawl failed with its message; the tenant and the worker go on.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.crawl_once(name, &config, requested, allow_mass_delete)
        }))
        .unwrap_or_else(|panic| {
            Err(anyhow::anyhow!(
                "the crawl panicked: {}",
                crate::serve::tenant_file::excerpt(&panic_message(&*panic))
            ))
        });
        let mut tenants = self.lock();
        let Some(t) = tenants.get_mut(name) else {
            return;
        };
        t.running = false;
        t.watch = None;
        match outcome {
            Ok(Ok((report, budget_used, next, throttled, documents))) => {
                // `stopped`: the service is shutting down; `failed`: the source or the index
                // ended the crawl (alerts on failed crawls count these).
                let outcome = match () {
                    _ if report.completed => "completed",
                    _ if self.stop.load(Ordering::SeqCst) => "stopped",
                    _ => "failed",
                };
                self.record(name, &report, outcome, started.elapsed());
                t.budget_used = budget_used;
                let mut last = last_crawl(&report, throttled);
                last.documents = documents;
                t.push_history(last);
                if report.completed || self.stop.load(Ordering::SeqCst) {
                    t.failures = 0;
                    t.next_due = later(next);
                } else {
                    self.fail(name, t, report.stopped.clone().unwrap_or_default());
                }
            }
            // Nothing was due after all (the plan moved): come back when it says.
            Ok(Err(wait)) => t.next_due = later(wait),
            Err(e) => {
                self.metrics
                    .crawls
                    .get_or_create(&metrics::OutcomeLabel {
                        tenant: name.to_string(),
                        outcome: "failed".into(),
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
            let wait = backoff(self.options.backoff_base, t.failures);
            t.next_due = later(wait);
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
    /// The tenant's crawl, prepared: on one machine with its SQLite state and the service's
    /// stop flag; with replicas, only under its lease, with its state in the database, uploads
    /// fenced and the lease's stop flag. `Err(wait)` when the lease is not this replica's.
    fn prepare_crawl(
        &self,
        tenant_name: &str,
        config: &Config,
    ) -> anyhow::Result<Result<(tenant_instance::setup::Prepared, Arc<AtomicBool>), Duration>> {
        let instance = self.instance(tenant_name);
        let Some(cluster) = &self.options.cluster else {
            let run = tenant_instance::setup::RunOptions::new().with_instance(instance);
            let p = tenant_instance::setup::prepare_with(&self.runtime, config, run)?;
            return Ok(Ok((p, self.stop.clone())));
        };
        // Not ours (any more): nothing to do until the lease comes back.
        let Some(held) = cluster.holds(tenant_name) else {
            return Ok(Err(cluster.tick_every()));
        };
        let run = tenant_instance::setup::RunOptions::new()
            .with_state(cluster.open_state(&held)?)
            .with_instance(instance);
        let mut p = tenant_instance::setup::prepare_with(&self.runtime, config, run)?;
        p.index = cluster.fence(p.index, &held);
        Ok(Ok((p, held.stop)))
    }

    /// The crawl's egress figures into the metrics; answers the week's requests and the 429s.
    fn record_egress(&self, tenant_name: &str, egress: &egress::Egress, now: i64) -> (u64, u64) {
        // Every series is labelled by the tenant's file name (what the admin API calls it),
        // never by the instance name inside the file.
        let tenant = metrics::TenantLabel {
            tenant: tenant_name.to_string(),
        };
        let throttled = egress.counters().throttled.load(Ordering::Relaxed);
        self.metrics
            .throttled
            .get_or_create(&tenant)
            .inc_by(throttled);
        let by_status = egress
            .counters()
            .by_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((upstream, status), n) in by_status {
            self.metrics
                .responses
                .get_or_create(&metrics::StatusLabel {
                    tenant: tenant_name.to_string(),
                    upstream,
                    status: status.to_string(),
                })
                .inc_by(n);
        }
        let used = egress.budget().map_or(0, |b| b.usage_at(now).requests);
        let limit = egress.budget().map_or(0, |b| b.limit());
        self.metrics
            .budget_used
            .get_or_create(&tenant)
            .set(used as i64);
        self.metrics
            .budget_left
            .get_or_create(&tenant)
            .set(limit.saturating_sub(used) as i64);
        (used, throttled)
    }

    fn crawl_once(
        &self,
        tenant_name: &str,
        config: &Config,
        requested: Option<CrawlMode>,
        allow_mass_delete: bool,
    ) -> anyhow::Result<
        Result<(crawl_engine::CrawlReport, u64, Duration, u64, Option<u64>), Duration>,
    > {
        // Secrets are resolved again for every crawl: a rotated file needs no restart.
        let mut config = config.clone();
        config.refresh_secrets(&env)?;
        let config = &config;
        let (mut p, stop) = match self.prepare_crawl(tenant_name, config)? {
            Ok(prepared) => prepared,
            Err(wait) => return Ok(Err(wait)),
        };
        let egress = p.connector.egress().clone();
        egress.stop_on(stop.clone());
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
            None => match tenant_instance::schedule::due(&p, &config.schedule, now) {
                Ok(m) => m,
                Err(wait) => return Ok(Err(Duration::from_secs(wait.max(1) as u64))),
            },
        };
        let mut options = p.options.clone();
        options.stop = Some(stop);
        options.allow_mass_delete = allow_mass_delete;
        options.concurrency = options
            .concurrency
            .clamp(1, self.options.tenant_concurrency.max(1));
        let instances_before = p.connector.instances_created();
        let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, options)
            .with_hooks(crawl_engine::Hooks {
                clock: &crawl_engine::SystemClock,
                observer: &crawl_engine::Silent,
                crash: &tenant_instance::crash::EnvCrash,
            })
            .run(mode)?;
        self.metrics
            .instances
            .inc_by(p.connector.instances_created() - instances_before);
        let (used, throttled) = self.record_egress(tenant_name, p.connector.egress(), now);
        let now = chrono::Utc::now().timestamp();
        let next = match tenant_instance::schedule::due(&p, &config.schedule, now) {
            Ok(_) => Duration::ZERO,
            Err(wait) => Duration::from_secs(wait.max(1) as u64),
        };
        let documents = p.store.document_count().ok();
        Ok(Ok((report, used, next, throttled, documents)))
    }
}

/// What a panic carried, as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The wait after `failures` failed crawls in a row: `base` doubled for each after the first,
/// at most [`MAX_BACKOFF`] (no overflow, whatever `base` is).
fn backoff(base: Duration, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Now plus `wait`, or as far as an `Instant` goes.
fn later(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(MAX_BACKOFF))
        .unwrap_or(now)
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

#[cfg(test)]
mod dispatch_tests {
    use super::*;

    #[test]
    fn polls_of_crawled_tenants_go_before_first_crawls_oldest_first() {
        let now = Instant::now();
        let ago = |s| now - Duration::from_secs(s);
        let mut due = vec![
            (
                "first, due longest",
                dispatch_key(false, false, ago(300), now),
            ),
            ("poll, due 5 s", dispatch_key(false, true, ago(5), now)),
            ("poll, due 30 s", dispatch_key(false, true, ago(30), now)),
            ("asked for", dispatch_key(true, false, ago(0), now)),
            ("first, due 10 s", dispatch_key(false, false, ago(10), now)),
        ];
        due.sort_by_key(|(_, k)| *k);
        let order: Vec<&str> = due.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            order,
            [
                "poll, due 30 s",
                "poll, due 5 s",
                "asked for",
                "first, due longest",
                "first, due 10 s"
            ]
        );
    }
}
