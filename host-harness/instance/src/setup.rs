//! Turns a validated configuration into a runnable crawl: loads the component, asks it what it
//! needs, grants it exactly the configured upstreams that it declared ([`egress::grant`]), and
//! builds the egress engine, the sandboxed source, the index sink and the state store.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use crawl_engine::retry::RetryPolicy;
use crawl_engine::types::ConnectorInfo;
use crawl_engine::{CrawlOptions, MemoryStore, Sink, Source, StateStore};
use egress::budget::RequestBudget;
use egress::grant::{self, Configured, Declared};
use egress::{Egress, EgressLimits, Redactor, Tape};
use index_sink::{DirIndex, GleanIndex};
use state_store::{BudgetWriter, SqliteStore};
use wasm_runtime::{GuestClock, Runtime, WasmSource};

use crate::config::{ComponentRef, Config};
use crate::instance::Instance;

/// Everything a crawl needs.
pub struct Prepared {
    pub connector: WasmSource,
    pub info: ConnectorInfo,
    pub index: Box<dyn Sink>,
    pub store: Box<dyn StateStore>,
    pub options: CrawlOptions,
    pub redactor: Redactor,
}

/// How to run besides the configuration. Built with [`RunOptions::new`] and its `with_`
/// methods, so a new option breaks no caller.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RunOptions {
    pub clock: GuestClock,
    /// Record or replay the connector's HTTP traffic. A replay also fixes the guest clock to
    /// the recording's, and keeps its state in memory (each replay starts from empty state
    /// and never touches the state of real crawls).
    pub tape: Tape,
    /// Write documents to this directory instead of the Glean API.
    pub output_dir: Option<std::path::PathBuf>,
    /// Simulated time: rate limits, the weekly budget and the hold after a restart run on
    /// this clock instead of the system's (the week simulation).
    pub time: Option<Arc<rate_window::VirtualClock>>,
    /// State kept elsewhere than the SQLite file beside the configuration (PostgreSQL, for
    /// several replicas): the store, the week's usage and where each request is counted.
    pub state: Option<ExternalState>,
    /// At most this many requests, each charged to the instance's budget as usual (a canary's
    /// live sample): the one after the last is refused, not sent.
    pub request_cap: Option<u64>,
    /// The tenant's long-lived limiters and budget, shared with its other crawls and fetches
    /// in this process (a service's tenant); none: this run makes its own.
    pub instance: Option<Arc<Instance>>,
}

/// A tenant's state from outside (see [`RunOptions::state`]), made by [`ExternalState::new`].
#[non_exhaustive]
pub struct ExternalState {
    pub store: Box<dyn StateStore>,
    pub budget: egress::budget::BudgetUsage,
    pub ledger: Arc<dyn egress::budget::BudgetLedger>,
    /// Which holding of the state this is (a lease's epoch): a budget in use under another
    /// holding is not reused.
    pub generation: i64,
}

impl RunOptions {
    /// The defaults: the system clock, no tape, documents to the configured index, state in
    /// the SQLite file beside the configuration, limiters and budget of the run's own.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    pub fn with_clock(mut self, clock: GuestClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_tape(mut self, tape: Tape) -> Self {
        self.tape = tape;
        self
    }

    pub fn with_output_dir(mut self, dir: impl Into<Option<std::path::PathBuf>>) -> Self {
        self.output_dir = dir.into();
        self
    }

    pub fn with_time(mut self, time: impl Into<Option<Arc<rate_window::VirtualClock>>>) -> Self {
        self.time = time.into();
        self
    }

    pub fn with_state(mut self, state: impl Into<Option<ExternalState>>) -> Self {
        self.state = state.into();
        self
    }

    pub fn with_request_cap(mut self, cap: impl Into<Option<u64>>) -> Self {
        self.request_cap = cap.into();
        self
    }

    pub fn with_instance(mut self, instance: impl Into<Option<Arc<Instance>>>) -> Self {
        self.instance = instance.into();
        self
    }
}

impl ExternalState {
    /// `store` and its `ledger`, the week's `budget` as stored, under holding `generation`.
    pub fn new(
        store: Box<dyn StateStore>,
        budget: egress::budget::BudgetUsage,
        ledger: Arc<dyn egress::budget::BudgetLedger>,
        generation: i64,
    ) -> ExternalState {
        ExternalState {
            store,
            budget,
            ledger,
            generation,
        }
    }
}

impl std::fmt::Debug for ExternalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalState")
            .field("budget", &self.budget)
            .finish()
    }
}

/// Loads the configured component and checks the configuration against what it declares.
pub fn prepare(runtime: &Runtime, config: &Config, clock: GuestClock) -> anyhow::Result<Prepared> {
    prepare_with(runtime, config, RunOptions::new().with_clock(clock))
}

/// How recent the last request of an earlier process must be for a start to hold the rate
/// window: requests can still be on their way to the upstream (in a socket's buffer, a proxy,
/// a slow network) for a while after that process died.
const RESTART_HORIZON: std::time::Duration = std::time::Duration::from_secs(10);

/// How long after the start a hold lasts beyond one window: the killed process's last requests
/// may reach the upstream a little after this process starts.
const RESTART_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);

/// After a restart (a crash, a kill) soon after requests were sent, the first requests wait a
/// whole window (plus [`RESTART_MARGIN`]) from *now*, as though the rate had just been spent:
/// the earlier process's requests may still be arriving, and the upstream counts arrivals.
fn hold_after_recent_requests(
    limiters: &[Arc<egress::ArrivalLimiter>],
    last_sent_ms: i64,
    time: Option<&Arc<rate_window::VirtualClock>>,
) {
    if last_sent_ms <= 0 {
        return;
    }
    let (now_ms, now) = match time {
        Some(t) => (t.epoch_ms(), rate_window::Clock::now(&**t)),
        None => (
            chrono::Utc::now().timestamp_millis(),
            std::time::Instant::now(),
        ),
    };
    let ago = std::time::Duration::from_millis(now_ms.saturating_sub(last_sent_ms).max(0) as u64);
    if ago >= RESTART_HORIZON {
        return;
    }
    for l in limiters {
        l.assume_full_at(now + RESTART_MARGIN);
    }
}

/// Every secret of `config`: the Glean token, each upstream's credentials and the parts they
/// are composed from.
fn secrets_of(config: &Config) -> impl Iterator<Item = &egress::secrets::Secret> + Clone {
    std::iter::once(&config.glean.token).chain(
        config
            .upstreams
            .values()
            .flat_map(|u| u.credentials.iter().map(|(_, s)| s).chain(&u.scrub_only)),
    )
}

/// The component for messages: never its bytes.
pub fn component_label(c: &ComponentRef) -> String {
    match c {
        ComponentRef::Embedded(b) => format!("the built-in {} component", b.display_name),
        ComponentRef::File { path, .. } => path.display().to_string(),
        ComponentRef::Oci { reference, .. } => reference.clone(),
        ComponentRef::Loaded { origin, .. } => origin.clone(),
    }
}

/// What the connector declares, asked with no network at all.
fn describe(
    runtime: &Runtime,
    config: &Config,
    clock: GuestClock,
    redactor: &Redactor,
) -> anyhow::Result<(Arc<wasm_runtime::CompiledConnector>, ConnectorInfo)> {
    // Bytes whose digest is known are not hashed again on every crawl.
    let compiled = match &config.component {
        ComponentRef::Embedded(b) => {
            let (bytes, digest) = b.with_digest()?;
            runtime.load_with_digest(bytes, digest)
        }
        ComponentRef::Loaded { bytes, digest, .. } => runtime.load_with_digest(bytes, digest),
        other => runtime.load(&crate::component::load(other)?),
    }
    .with_context(|| {
        format!(
            "loading the connector ({})",
            component_label(&config.component)
        )
    })?;
    let key = format!("{}\0{:?}", compiled.digest(), config.settings);
    let info = described(key, || {
        let probe = WasmSource::new(
            compiled.clone(),
            Arc::new(Egress::new(
                Vec::new(),
                EgressLimits::default(),
                redactor.clone(),
            )),
            config.settings.clone(),
            config.limits.clone(),
            clock,
            &config.name,
        );
        Source::describe(&probe).context("asking the connector to describe itself")
    })?;
    Ok((compiled, info))
}

/// Declarations already asked for, by component digest and settings.
const DESCRIBED_MAX: usize = 4096;

/// `ask`'s answer, asked once per component and settings rather than at every crawl (an
/// instance for each was 7% of an unchanged crawl's host CPU in the density benchmark). A
/// failed answer is not kept. The memo starts over when it holds [`DESCRIBED_MAX`] entries.
fn described(
    key: String,
    ask: impl FnOnce() -> anyhow::Result<ConnectorInfo>,
) -> anyhow::Result<ConnectorInfo> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static MEMO: OnceLock<Mutex<HashMap<String, ConnectorInfo>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    if let Some(info) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(info.clone());
    }
    let info = ask()?;
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if memo.len() >= DESCRIBED_MAX {
        memo.clear();
    }
    memo.insert(key, info.clone());
    Ok(info)
}

/// The routes the configuration grants the connector.
fn routes(config: &Config, info: &ConnectorInfo) -> anyhow::Result<Vec<egress::UpstreamRoute>> {
    Ok(routes_on(config, info, None, None)?.0)
}

/// [`routes`] with rate limiters on `time` when simulating, else the tenant [`Instance`]'s
/// when there is one; also the limiters made now (not the instance's from earlier crawls).
fn routes_on(
    config: &Config,
    info: &ConnectorInfo,
    time: Option<&Arc<rate_window::VirtualClock>>,
    instance: Option<&Instance>,
) -> anyhow::Result<(Vec<egress::UpstreamRoute>, Vec<Arc<egress::ArrivalLimiter>>)> {
    let declared: Vec<Declared> = info
        .upstreams
        .iter()
        .map(|u| Declared {
            name: u.name.clone(),
            default_base_url: u.default_base_url.clone(),
            auth_headers: u.auth_headers.clone(),
        })
        .collect();
    let configured: BTreeMap<String, Configured> = config
        .upstreams
        .iter()
        .map(|(name, u)| {
            (
                name.clone(),
                Configured {
                    base: u.base.clone(),
                    rate_per_second: rate(config, name, u.rate_per_second),
                    allow_private_network: u.allow_private_network,
                    credentials: u.credentials.clone(),
                    scrub_only: u.scrub_only.clone(),
                },
            )
        })
        .collect();
    let make = |rate: f64| match time {
        Some(t) => egress::upstream_limiter_on(rate, t.clone()),
        None => egress::upstream_limiter(rate),
    };
    let fresh = std::sync::Mutex::new(Vec::new());
    let limiter = |upstream: &str, rate: f64| {
        let (l, made) = match instance {
            Some(i) => i.limiter(upstream, rate, make),
            None => (make(rate), true),
        };
        if made {
            fresh
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(l.clone());
        }
        l
    };
    let granted = grant::grant(&declared, &configured, limiter).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(i) = instance {
        i.retain_upstreams(config.upstreams.keys());
    }
    for name in granted.unused {
        tracing::warn!(
            "[upstreams.{name}] is configured but the connector does not declare it; it stays unreachable"
        );
    }
    let fresh = fresh.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok((granted.routes, fresh))
}

/// The rate for `upstream`: the configuration's, else the connector's declaration, else the
/// default. A configured rate above the declared one is allowed (a source may have granted
/// more) but warned about.
fn rate(config: &Config, upstream: &str, configured: Option<f64>) -> f64 {
    let declared = crate::component::declared_rate(&config.component, upstream);
    match (configured, declared) {
        (Some(c), Some(d)) if c > d => {
            // Said, not warned: a mock or a raised quota is a good reason, and `check` shows it.
            tracing::info!(
                "[upstreams.{upstream}] rate_per_second = {c} is above the {d} a second the connector declares for its source; expect 429s unless the source granted more"
            );
            c
        }
        (Some(c), _) => c,
        (None, Some(d)) => d,
        (None, None) => egress::DEFAULT_RATE_PER_SECOND,
    }
}

/// The index the documents go to.
fn sink(config: &Config, run: &RunOptions, retry: RetryPolicy) -> anyhow::Result<Box<dyn Sink>> {
    Ok(match &run.output_dir {
        Some(dir) => Box::new(DirIndex::create(dir)?),
        None => {
            let client = glean_api::GleanClient::new(
                &config.glean.base_url,
                config.glean.token.expose().to_string(),
            )
            .map_err(|e| anyhow::anyhow!("[glean] {e}"))?
            .with_timeout(config.http_timeout);
            let index = GleanIndex::new(client, retry);
            Box::new(match &run.time {
                Some(t) => index.on_clock(Arc::new(rate_window::Unheld(t.clone()))),
                None => index,
            })
        }
    })
}

/// Checks a configuration against its component — it loads (pin and contract checked), and
/// the configured upstreams grant exactly what it declares — without crawling or touching
/// state.
pub fn check(runtime: &Runtime, config: &Config) -> anyhow::Result<ConnectorInfo> {
    let redactor = Redactor::new();
    let (_, info) = describe(runtime, config, GuestClock::System, &redactor)?;
    routes(config, &info)?;
    Ok(info)
}

/// Which crawl state a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateUse {
    /// The instance's own: checkpoints, documents, failures, budget.
    Own,
    /// A replay: fresh state in memory, no budget (nothing reaches the network).
    Replay,
    /// A recording: fresh state in memory, so that every item is fetched onto the tape and
    /// the instance's cursor, documents and crawl history are left alone; the requests are
    /// real, so they still count in the instance's weekly budget.
    Record,
}

/// The crawl state (in memory for a replay or a recording, from outside, or the SQLite file
/// beside the configuration) and the request budget that state keeps: the one the tenant's
/// [`Instance`] has in use, if any, else loaded now. Also when the state last sent a request.
fn state(
    config: &Config,
    uses: StateUse,
    external: Option<ExternalState>,
    instance: Option<&Instance>,
) -> anyhow::Result<(Box<dyn StateStore>, Option<Arc<RequestBudget>>, i64)> {
    if uses == StateUse::Replay {
        return Ok((Box::new(MemoryStore::default()), None, 0));
    }
    let (limit, period) = config.request_budget();
    type Ledger = Arc<dyn egress::budget::BudgetLedger>;
    let (store, key, usage, ledger): (Box<dyn StateStore>, String, _, Ledger) = match external {
        Some(s) => {
            let key = format!("external\0{}", s.generation);
            (s.store, key, s.budget, s.ledger)
        }
        None => {
            let store = SqliteStore::open(&config.state_dir, &config.name)?;
            let key = format!("sqlite\0{}\0{}", config.state_dir.display(), config.name);
            let usage = store.budget;
            // Counts written on the store's own connection: no second one at every crawl.
            let ledger = Arc::new(BudgetWriter::sharing(&store));
            (Box::new(store), key, usage, ledger)
        }
    };
    let make = || -> anyhow::Result<Arc<RequestBudget>> {
        Ok(Arc::new(RequestBudget::new(
            limit,
            period,
            usage,
            Some(ledger),
        )))
    };
    let key = format!("{key}\0{limit}\0{}", period.label());
    let budget = match instance {
        Some(i) => i.budget(&key, make)?,
        None => make()?,
    };
    let store: Box<dyn StateStore> = if uses == StateUse::Record {
        Box::new(MemoryStore::default())
    } else {
        store
    };
    Ok((store, Some(budget), usage.last_sent_ms))
}

/// [`prepare`] with recording, replay or a directory index.
pub fn prepare_with(
    runtime: &Runtime,
    config: &Config,
    run: RunOptions,
) -> anyhow::Result<Prepared> {
    let uses = match run.tape {
        Tape::Replay(_) => StateUse::Replay,
        Tape::Record(_) => StateUse::Record,
        _ => StateUse::Own,
    };
    let clock = match &run.tape {
        Tape::Replay(player) => GuestClock::Fixed(player.clock()),
        _ => run.clock,
    };
    let redactor = match run.instance.as_deref() {
        Some(i) => i.redactor(secrets_of(config)),
        None => {
            let r = Redactor::new();
            r.register_all(secrets_of(config));
            r
        }
    };
    let (compiled, info) = describe(runtime, config, clock, &redactor)?;
    let shared = run.instance.as_deref().filter(|_| run.time.is_none());
    let (routes, fresh_limiters) = routes_on(config, &info, run.time.as_ref(), shared)?;
    let retry = RetryPolicy {
        max_retries: config.crawl.max_retries,
        ..RetryPolicy::default()
    };
    let index = sink(config, &run, retry)?;
    let limits = EgressLimits {
        timeout: config.http_timeout,
        max_response_bytes: config.max_response_bytes,
        ..EgressLimits::default()
    };
    let mut egress = Egress::new(routes, limits, redactor.clone());
    if let Some(t) = &run.time {
        egress = egress.with_virtual_time(t.clone());
    }
    let instance = run.instance.as_deref().filter(|_| run.time.is_none());
    let (store, budget, last_sent_ms) = state(config, uses, run.state, instance)?;
    if let Some(budget) = budget {
        egress = egress.with_budget(budget);
    }
    if let Some(cap) = run.request_cap {
        egress = egress.with_request_cap(cap);
    }
    hold_after_recent_requests(&fresh_limiters, last_sent_ms, run.time.as_ref());
    let egress = Arc::new(egress.with_tape(run.tape));
    let connector = WasmSource::new(
        compiled,
        egress,
        config.settings.clone(),
        config.limits.clone(),
        clock,
        &config.name,
    )
    .with_description(info.clone());
    Ok(Prepared {
        connector,
        info,
        index,
        store,
        options: CrawlOptions {
            concurrency: config.crawl.concurrency,
            batch_size: config.crawl.batch_size,
            max_delete_share: config.crawl.max_delete_share,
            allow_mass_delete: false,
            retry,
            datasource: config.glean.datasource.clone(),
            stop: None,
            limits: config.crawl.limits.clone(),
            deep_refresh_every: config.crawl.deep_refresh_every,
        },
        redactor,
    })
}
