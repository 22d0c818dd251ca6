//! A mock of the Clari Copilot REST API on loopback, for tests and the demo: the public API
//! behind `X-Api-Key` / `X-Api-Password`, a deterministic generated workspace, life over time
//! (new calls, status changes that bump `last_modified_time`, edits that do not, deletions,
//! privacy changes) through [`Control`] or the `/_mock` routes, and configurable faults.
//!
//! Choices where the real API is undocumented: the default order is time descending, then id;
//! `Gt`/`Lt` filters are strict; private calls are fetchable by id on `/call-details`; deleted
//! calls vanish from `/calls` and answer 404; throttling answers 429
//! `{"message":"Too Many Requests"}` and the weekly quota 429 `{"message":"Limit Exceeded"}`.

mod extra;
pub mod generate;
pub mod model;
pub mod proxy;
pub mod query;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use model::Workspace;

thread_local! {
    /// The tenant workspace the request being routed on this thread uses (`None`: the main
    /// one). Set around the synchronous routing of one request.
    pub(crate) static CURRENT_TENANT: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// How the mock starts.
#[derive(Debug, Clone)]
pub struct MockClariConfig {
    pub seed: u64,
    pub calls: usize,
    pub users: usize,
    /// The generator's "now"; the mock clock starts here.
    pub anchor: DateTime<Utc>,
    pub api_key: String,
    pub api_password: String,
    pub faults: Faults,
    /// Generated calls are spread over this many days before the anchor.
    pub history_days: u32,
    /// The mock's clock (its "now" is the anchor plus the time this clock has moved since
    /// the mock started), shared with its rate limiter: a virtual clock lets a simulation run
    /// a week without waiting.
    pub clock: Arc<dyn rate_window::Clock>,
}

impl Default for MockClariConfig {
    fn default() -> Self {
        MockClariConfig {
            seed: 42,
            calls: 300,
            users: 12,
            anchor: DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
            api_key: "mock-api-key".into(),
            api_password: "mock-api-password".into(),
            faults: Faults::default(),
            history_days: 180,
            clock: Arc::new(rate_window::SystemClock),
        }
    }
}

/// Faults to inject; the default injects none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Requests per second before 429 (Clari: 10).
    pub rate_limit_per_sec: Option<u32>,
    /// Requests before the weekly quota answers 429.
    pub weekly_quota: Option<u64>,
    /// Answers larger than this many bytes become 502 (Clari: about 6 MB).
    pub max_response_bytes: Option<usize>,
    /// Share of requests answered 500, 502 or 504 (seeded, deterministic).
    pub error_rate: f64,
    /// Added to every answer.
    pub latency: Duration,
    /// Share of answers (seeded, deterministic) that take `slow_by` longer: a backend having
    /// a bad day. On a virtual clock the time passes at once (see `rate_window::Clock::elapse`).
    #[serde(default)]
    pub slow_share: f64,
    #[serde(default)]
    pub slow_by: Duration,
    /// `/call-details` answers broken JSON for these ids.
    pub malformed_call_ids: Vec<String>,
    /// Status for wrong credentials: 401, or 403.
    pub wrong_credentials_status: u16,
    /// Seconds sent as `Retry-After` with every 429 (Clari sends none: the default).
    pub retry_after_secs: Option<u64>,
}

/// A failure for the next `times` requests whose path is `path` and whose query contains
/// `query_contains` (all of them when empty): for fault tests of one kind of request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedFailure {
    pub path: String,
    #[serde(default)]
    pub query_contains: String,
    pub status: u16,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    pub times: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit_per_sec: None,
            weekly_quota: None,
            max_response_bytes: None,
            error_rate: 0.0,
            latency: Duration::ZERO,
            slow_share: 0.0,
            slow_by: Duration::ZERO,
            malformed_call_ids: Vec::new(),
            wrong_credentials_status: 401,
            retry_after_secs: None,
        }
    }
}

/// Ground truth about one call, including what the API hides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallFacts {
    pub id: String,
    pub title: String,
    pub status: String,
    pub private: bool,
    pub user_emails: Vec<String>,
    pub time: DateTime<Utc>,
    pub last_modified_time: DateTime<Utc>,
    pub call_type: String,
    pub has_crm: bool,
}

/// A call to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCall {
    pub status: String,
    pub private: bool,
    pub title: Option<String>,
    pub time: Option<DateTime<Utc>>,
}

impl Default for NewCall {
    fn default() -> Self {
        NewCall {
            status: "POST_PROCESSING_DONE".into(),
            private: false,
            title: None,
            time: None,
        }
    }
}

struct Throttle {
    /// The gateway's limiter for the configured rate (rebuilt when the rate changes).
    limiter: Option<(u32, rate_window::WindowLimiter)>,
    week_total: u64,
}

/// How many arrival times are kept (for window checks in tests).
const ARRIVALS_KEPT: usize = 200_000;

/// In-process control of a running mock; the `/_mock` routes call the same methods.
pub struct Control {
    workspace: Mutex<Workspace>,
    /// Tenant workspaces, one per API key `<api_key>-<n>`, generated on first use.
    tenants: Mutex<std::collections::HashMap<u32, Arc<Mutex<Workspace>>>>,
    config: MockClariConfig,
    faults: Mutex<Faults>,
    started: Instant,
    requests: AtomicU64,
    throttled: AtomicU64,
    throttle: Mutex<Throttle>,
    dice: Mutex<generate::Rng>,
    scripted: Mutex<Vec<ScriptedFailure>>,
    arrivals: Mutex<std::collections::VecDeque<Instant>>,
    /// Users left out of `/users` (as a deactivated or not yet synced user is), by email;
    /// their calls still name them.
    unlisted_users: Mutex<std::collections::BTreeSet<String>>,
    /// Changes to make when the clock reaches their time, earliest last.
    scheduled: Mutex<Vec<(DateTime<Utc>, Change)>>,
    /// Ids of calls added by scheduled changes, by the key the schedule gave them.
    keyed: Mutex<std::collections::HashMap<u64, String>>,
}

/// A change to the main workspace, made when the mock's clock reaches its time (see
/// [`Control::schedule`]). Calls added this way are named by a key of the caller's, since
/// their ids exist only once they are added.
#[derive(Debug, Clone)]
pub enum Change {
    Add { key: u64, spec: NewCall },
    SetStatus { key: u64, status: String },
    SetTitle { id: String, title: String },
    SetDeal { id: String, deal: Option<String> },
    Delete { id: String },
}

impl Control {
    fn new(config: MockClariConfig) -> Self {
        Control {
            workspace: Mutex::new(generate::workspace_over(
                config.seed,
                config.calls,
                config.users,
                config.anchor,
                config.history_days,
            )),
            tenants: Mutex::new(std::collections::HashMap::new()),
            faults: Mutex::new(config.faults.clone()),
            dice: Mutex::new(generate::Rng::new(config.seed ^ 0xFA17)),
            started: config.clock.now(),
            config,
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            throttle: Mutex::new(Throttle {
                limiter: None,
                week_total: 0,
            }),
            scripted: Mutex::new(Vec::new()),
            arrivals: Mutex::new(std::collections::VecDeque::new()),
            unlisted_users: Mutex::new(std::collections::BTreeSet::new()),
            scheduled: Mutex::new(Vec::new()),
            keyed: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Makes `change` when the mock's clock reaches `at` (checked as requests arrive, and by
    /// [`Control::apply_due`]).
    pub fn schedule(&self, at: DateTime<Utc>, change: Change) {
        let mut list = self.scheduled.lock().unwrap_or_else(|p| p.into_inner());
        list.push((at, change));
        list.sort_by(|a, b| b.0.cmp(&a.0));
    }

    /// The id of the call a scheduled `Add` with this key created, once it has.
    pub fn keyed_id(&self, key: u64) -> Option<String> {
        self.keyed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    /// Makes every scheduled change whose time has come, in time order; answers how many.
    pub fn apply_due(&self) -> usize {
        let now = self.now();
        let mut done = 0;
        loop {
            let next = {
                let mut list = self.scheduled.lock().unwrap_or_else(|p| p.into_inner());
                match list.last() {
                    Some((at, _)) if *at <= now => list.pop(),
                    _ => None,
                }
            };
            let Some((at, change)) = next else {
                return done;
            };
            done += 1;
            let result = match change {
                Change::Add { key, spec } => {
                    let id = self.add_call_at(spec, at);
                    self.keyed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key, id);
                    Ok(())
                }
                Change::SetStatus { key, status } => match self.keyed_id(key) {
                    Some(id) => self.set_status_at(&id, &status, at),
                    None => Ok(()),
                },
                Change::SetTitle { id, title } => self.set_title(&id, &title),
                Change::SetDeal { id, deal } => self.set_deal(&id, deal.as_deref()),
                Change::Delete { id } => self.delete_call(&id),
            };
            // A change to a call deleted meanwhile has nothing to change.
            let _ = result;
        }
    }

    /// Fails the next matching requests as `failure` says (after auth and throttling).
    pub fn fail_next(&self, failure: ScriptedFailure) {
        self.scripted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(failure);
    }

    /// The scripted failure for this request, if one matches (using it up once).
    pub(crate) fn scripted_failure(&self, path: &str, query: &str) -> Option<(u16, Option<u64>)> {
        let mut list = self.scripted.lock().unwrap_or_else(|p| p.into_inner());
        let i = list.iter().position(|f| {
            f.times > 0 && f.path == path && query.contains(f.query_contains.as_str())
        })?;
        list[i].times -= 1;
        let hit = (list[i].status, list[i].retry_after_secs);
        if list[i].times == 0 {
            list.remove(i);
        }
        Some(hit)
    }

    /// When each authenticated request arrived (the most recent ones).
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// The most requests that arrived within any window of `window`.
    pub fn max_in_window(&self, window: Duration) -> usize {
        let times = self.arrivals();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= window {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }

    /// The mock clock: the anchor plus the time since the server started.
    pub fn now(&self) -> DateTime<Utc> {
        let moved = self
            .config
            .clock
            .now()
            .saturating_duration_since(self.started);
        self.config.anchor + chrono::Duration::from_std(moved).unwrap_or_default()
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&Workspace) -> R) -> R {
        match CURRENT_TENANT.with(|c| c.get()) {
            Some(n) => {
                let ws = self.tenant(n);
                let guard = ws.lock().unwrap_or_else(|p| p.into_inner());
                f(&guard)
            }
            None => f(&self.workspace.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }

    /// Tenant workspace `n` (API key `<api_key>-<n>`): generated from the seed and `n`.
    fn tenant(&self, n: u32) -> Arc<Mutex<Workspace>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        tenants
            .entry(n)
            .or_insert_with(|| {
                Arc::new(Mutex::new(generate::workspace(
                    self.config.seed ^ (u64::from(n) + 1).wrapping_mul(0x9E37_79B9),
                    self.config.calls,
                    self.config.users,
                    self.config.anchor,
                )))
            })
            .clone()
    }

    /// Which workspace an API key selects: the main one, tenant `n` for `<api_key>-<n>`, or
    /// none (wrong credentials).
    pub(crate) fn workspace_for(&self, key: &str) -> Option<Option<u32>> {
        if key == self.config.api_key {
            return Some(None);
        }
        key.strip_prefix(&format!("{}-", self.config.api_key))
            .and_then(|n| n.parse::<u32>().ok())
            .map(Some)
    }

    fn with_mut<R>(&self, f: impl FnOnce(&mut Workspace) -> R) -> R {
        f(&mut self.workspace.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn faults(&self) -> Faults {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.faults.lock() {
            *f = faults;
        }
    }

    /// A deterministic number in [0, 1).
    pub(crate) fn roll(&self) -> f64 {
        self.dice
            .lock()
            .map(|mut d| (d.next() % 1_000_000) as f64 / 1_000_000.0)
            .unwrap_or(0.5)
    }

    /// Counts an authenticated request; answers the 429 message when a limit is hit.
    pub(crate) fn admit(&self, faults: &Faults) -> Option<&'static str> {
        self.apply_due();
        self.requests.fetch_add(1, Ordering::Relaxed);
        {
            let mut a = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
            if a.len() >= ARRIVALS_KEPT {
                a.pop_front();
            }
            a.push_back(self.config.clock.now());
        }
        let mut t = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        t.week_total += 1;
        if faults.weekly_quota.is_some_and(|q| t.week_total > q) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Some("Limit Exceeded");
        }
        if let Some(rate) = faults.rate_limit_per_sec {
            if t.limiter.as_ref().map(|(r, _)| *r) != Some(rate) {
                // A gateway counts requests in any one-second window.
                t.limiter = Some((
                    rate,
                    rate_window::WindowLimiter::new(
                        rate,
                        Duration::from_secs(1),
                        self.config.clock.clone(),
                    ),
                ));
            }
            if let Some((_, l)) = &t.limiter
                && l.try_acquire().is_err()
            {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                return Some("Too Many Requests");
            }
        }
        None
    }

    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests answered 429 (rate limit or weekly quota).
    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub fn calls(&self) -> Vec<CallFacts> {
        self.with(|w| {
            w.calls
                .iter()
                .map(|c| CallFacts {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    status: c.status.clone(),
                    private: c.private,
                    user_emails: c.user_emails(&w.users),
                    time: c.time,
                    last_modified_time: c.last_modified,
                    call_type: c.call_type.clone(),
                    has_crm: c.crm.is_some(),
                })
                .collect()
        })
    }

    /// Adds a fully generated call; answers its id.
    pub fn add_call(&self, spec: NewCall) -> String {
        self.add_call_at(spec, self.now())
    }

    fn add_call_at(&self, spec: NewCall, now: DateTime<Utc>) -> String {
        self.with_mut(|w| {
            let n = w.calls.len();
            let users = w.users.clone();
            let mut call = generate::call(
                &mut w.rng,
                n,
                &users,
                now,
                spec.time.or(Some(now - chrono::Duration::minutes(45))),
            );
            if spec.status == "POST_PROCESSING_DONE" && call.transcript.is_empty() {
                // A processed call has something to say.
                // Borrow a processed call's conversation (deterministic: seeded by the count).
                let mut more = generate::Rng::new(n as u64);
                let older = now - chrono::Duration::days(3);
                for _ in 0..64 {
                    let donor = generate::call(&mut more, n, &users, now, Some(older));
                    if !donor.transcript.is_empty() {
                        call.transcript = donor.transcript;
                        break;
                    }
                }
                call.duration = call.duration.max(600);
            }
            call.status = spec.status.clone();
            call.private = spec.private;
            call.last_modified = now;
            if let Some(t) = spec.title {
                call.title = t;
            }
            let id = call.id.clone();
            w.calls.push(call);
            id
        })
    }

    fn edit(&self, id: &str, f: impl FnOnce(&mut model::Call)) -> anyhow::Result<()> {
        self.with_mut(|w| match w.calls.iter_mut().find(|c| c.id == id) {
            Some(c) => {
                f(c);
                Ok(())
            }
            None => Err(anyhow::anyhow!("no call with id {id}")),
        })
    }

    /// Changes the status, bumping `last_modified_time` only when it changes.
    pub fn set_status(&self, id: &str, status: &str) -> anyhow::Result<()> {
        self.set_status_at(id, status, self.now())
    }

    fn set_status_at(&self, id: &str, status: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.edit(id, |c| {
            if c.status != status {
                c.status = status.to_string();
                c.last_modified = now;
                if status == "POST_PROCESSING_DONE" && c.duration == 0 {
                    c.duration = 900;
                }
            }
        })
    }

    /// Edits the title without touching `last_modified_time`, as the real API behaves.
    pub fn set_title(&self, id: &str, title: &str) -> anyhow::Result<()> {
        self.edit(id, |c| c.title = title.to_string())
    }

    /// Links the call to another deal (or unlinks it with `None`) without touching
    /// `last_modified_time`, as a CRM relink behaves in the real API.
    pub fn set_deal(&self, id: &str, deal_name: Option<&str>) -> anyhow::Result<()> {
        self.edit(id, |c| match (deal_name, c.crm.as_mut()) {
            (None, _) => c.crm = None,
            (Some(name), Some(crm)) => crm.deal_name = name.to_string(),
            (Some(name), None) => {
                c.crm = Some(model::Crm {
                    deal_name: name.to_string(),
                    deal_value: "10000".into(),
                    deal_close_date: c.time,
                    deal_stage_before_call: "Discovery".into(),
                    deal_stage_live: "Discovery".into(),
                    account_name: name.split(" - ").next().unwrap_or(name).to_string(),
                    contact_names: c.external.iter().filter_map(|p| p.name.clone()).collect(),
                    source_crm: "SALESFORCE".into(),
                    deal_id: format!("006{:012}", name.len()),
                    account_id: format!("001{:012}", name.len()),
                    contact_ids: Vec::new(),
                })
            }
        })
    }

    /// Leaves the user with `email` out of `/users` (`false`: lists it again); calls still
    /// name the user among their participants.
    pub fn set_user_listed(&self, email: &str, listed: bool) {
        let mut hidden = self
            .unlisted_users
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if listed {
            hidden.remove(&email.to_lowercase());
        } else {
            hidden.insert(email.to_lowercase());
        }
    }

    /// Whether `/users` lists the user with `email`.
    pub(crate) fn user_listed(&self, email: &str) -> bool {
        let hidden = self
            .unlisted_users
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        !hidden.contains(&email.to_lowercase())
    }

    pub fn set_private(&self, id: &str, private: bool) -> anyhow::Result<()> {
        self.edit(id, |c| c.private = private)
    }

    /// Deletes a call: gone from `/calls`, 404 on `/call-details`.
    pub fn delete_call(&self, id: &str) -> anyhow::Result<()> {
        self.with_mut(|w| {
            let before = w.calls.len();
            w.calls.retain(|c| c.id != id);
            if w.calls.len() == before {
                Err(anyhow::anyhow!("no call with id {id}"))
            } else {
                Ok(())
            }
        })
    }

    /// Regenerates the workspace from `seed`.
    pub fn reset(&self, seed: u64) {
        let c = &self.config;
        let fresh = generate::workspace(seed, c.calls, c.users, c.anchor);
        self.with_mut(|w| *w = fresh);
    }
}

pub(crate) struct Shared {
    pub(crate) control: Control,
    pub(crate) config: MockClariConfig,
}

/// A running mock.
pub struct MockClari {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockClari {
    /// Binds `addr` (port 0: a free port) and serves on a background thread.
    pub fn spawn(addr: SocketAddr, config: MockClariConfig) -> anyhow::Result<MockClari> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            control: Control::new(config.clone()),
            config,
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("mock-clari".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        Ok(MockClari {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> &Control {
        &self.shared.control
    }

    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MockClari {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves until the future is dropped (for `harness mock-clari`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockClariConfig,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        control: Control::new(config.clone()),
        config,
    });
    axum::serve(listener, server::router(shared)).await?;
    Ok(())
}
