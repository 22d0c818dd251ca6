//! A mock of Gong's REST API v2 on loopback, for tests and the demo, built from Gong's own
//! OpenAPI spec (`specs/gong-openapi.json`) and what integrators captured from the real API
//! (the reference's facts):
//!
//! - Basic auth from an access key and its secret, checked before routing (401 on any path);
//!   a key `<key>-<n>` selects tenant company `n`, generated from the seed on first use;
//! - `GET /v2/calls`, `GET /v2/calls/{id}`, `POST /v2/calls/extensive` (blocks as the
//!   `contentSelector` asks), `POST /v2/calls/transcript`, `GET /v2/users`,
//!   `GET /v2/users/{id}`, `GET /v2/workspaces`;
//! - pages of 100 with a JWT-shaped cursor that expires an hour after the sequence's first page,
//!   in the query for GET and in the body for POST (a query cursor on a POST is ignored, so
//!   page one comes back again, as the real API does);
//! - **404 "No calls found corresponding to the provided filters"** for an empty result;
//! - 3 requests a second and 10,000 a day (UTC days) when configured, with `Retry-After`;
//! - faults (5xx, latency, scripted failures) and life over time ([`Control`]: new calls,
//!   retitles, privacy changes, CRM relinks, deletions, AI insights arriving late).
//!
//! Choices where Gong is silent: `GET /v2/calls` matches conference calls on their scheduled
//! time and other calls on their start (the spec's words), the POST reads match on start; the
//! order is oldest first, then id.

pub mod cursor;
pub mod generate;
pub mod model;
mod server;
pub mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use model::Workspace;

/// How the mock starts.
#[derive(Debug, Clone)]
pub struct MockGongConfig {
    pub seed: u64,
    pub calls: usize,
    pub users: usize,
    /// The generator's "now"; the mock clock starts here.
    pub anchor: DateTime<Utc>,
    /// Generated calls are spread over this many days before the anchor.
    pub history_days: u32,
    pub access_key: String,
    pub access_key_secret: String,
    pub faults: Faults,
    /// The mock's clock (shared with its rate limiter; a virtual one runs a week at once).
    pub clock: Arc<dyn rate_window::Clock>,
}

impl Default for MockGongConfig {
    fn default() -> Self {
        MockGongConfig {
            seed: 42,
            calls: 300,
            users: 12,
            anchor: DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
            history_days: 180,
            access_key: "MOCKGONGACCESSKEY7Q2W9E4R6T8Y1U3I".into(),
            access_key_secret: "eyJhbGciOiJIUzI1NiJ9.mock-gong-secret".into(),
            faults: Faults::default(),
            clock: Arc::new(rate_window::SystemClock),
        }
    }
}

/// Faults and limits to apply; the default applies none (see [`Faults::gong_limits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Requests in any one second before 429 (Gong: 3).
    pub rate_limit_per_sec: Option<u32>,
    /// Requests per UTC day before 429 (Gong: 10,000).
    pub daily_quota: Option<u64>,
    /// Share of requests answered 500, 502 or 503 (seeded, deterministic).
    pub error_rate: f64,
    /// Added to every answer.
    pub latency: Duration,
    /// How long a cursor lives after the first page of its sequence.
    pub cursor_ttl: Duration,
    /// Calls per page of the listings (Gong: 100).
    pub page_size: usize,
    /// Add fields the spec does not know to every call (Gong may, "without prior warning").
    pub extra_fields: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit_per_sec: None,
            daily_quota: None,
            error_rate: 0.0,
            latency: Duration::ZERO,
            cursor_ttl: Duration::from_secs(3_600),
            page_size: 100,
            extra_fields: false,
        }
    }
}

impl Faults {
    /// Gong's default limits: 3 requests a second, 10,000 a day.
    pub fn gong_limits() -> Faults {
        Faults {
            rate_limit_per_sec: Some(3),
            daily_quota: Some(10_000),
            ..Faults::default()
        }
    }
}

/// A failure for the next `times` requests to `path` (after auth and throttling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedFailure {
    pub path: String,
    pub status: u16,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    pub times: u32,
}

/// Ground truth about one call, including what the API hides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallFacts {
    pub id: String,
    pub title: String,
    pub started: DateTime<Utc>,
    pub is_private: Option<bool>,
    /// Emails of the internal parties (the host included).
    pub internal_emails: Vec<String>,
    pub external_emails: Vec<String>,
    pub has_transcript: bool,
    pub has_insights: bool,
    pub account: Option<String>,
}

/// A call to add.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCall {
    pub title: Option<String>,
    pub is_private: Option<bool>,
    pub started: Option<DateTime<Utc>>,
    /// Leave the AI blocks out (they arrive later: [`Control::set_insights`]).
    pub without_insights: bool,
}

/// A change to the main company, made when the mock's clock reaches its time
/// ([`Control::schedule`]). Calls added this way are named by a key of the caller's.
#[derive(Debug, Clone)]
pub enum Change {
    Add { key: u64, spec: NewCall },
    SetTitle { id: String, title: String },
    Delete { id: String },
}

struct Throttle {
    limiter: Option<(u32, rate_window::WindowLimiter)>,
    /// (UTC day number, requests that day)
    day: (i64, u64),
}

/// In-process control of a running mock.
pub struct Control {
    workspace: Mutex<Workspace>,
    tenants: Mutex<std::collections::HashMap<u32, Arc<Mutex<Workspace>>>>,
    config: MockGongConfig,
    faults: Mutex<Faults>,
    started: Instant,
    requests: AtomicU64,
    throttled: AtomicU64,
    throttle: Mutex<Throttle>,
    dice: Mutex<generate::Rng>,
    scripted: Mutex<Vec<ScriptedFailure>>,
    unlisted_users: Mutex<std::collections::BTreeSet<String>>,
    /// Requests by path (authenticated ones).
    by_path: Mutex<std::collections::BTreeMap<String, u64>>,
    cursor_key: u64,
    /// Changes to make when the clock reaches their time, earliest last.
    scheduled: Mutex<Vec<(DateTime<Utc>, Change)>>,
    /// Ids of calls added by scheduled changes, by key.
    keyed: Mutex<std::collections::HashMap<u64, String>>,
}

thread_local! {
    /// The tenant the request routed on this thread uses (`None`: the main company).
    pub(crate) static CURRENT_TENANT: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

impl Control {
    fn new(config: MockGongConfig) -> Self {
        Control {
            workspace: Mutex::new(generate::workspace(
                config.seed,
                config.calls,
                config.users,
                config.anchor,
                config.history_days,
            )),
            tenants: Mutex::new(Default::default()),
            faults: Mutex::new(config.faults.clone()),
            started: config.clock.now(),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            throttle: Mutex::new(Throttle {
                limiter: None,
                day: (0, 0),
            }),
            dice: Mutex::new(generate::Rng::new(config.seed ^ 0xFA17)),
            scripted: Mutex::new(Vec::new()),
            unlisted_users: Mutex::new(Default::default()),
            by_path: Mutex::new(Default::default()),
            cursor_key: config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC0FFEE,
            scheduled: Mutex::new(Vec::new()),
            keyed: Mutex::new(Default::default()),
            config,
        }
    }

    /// Makes `change` when the mock's clock reaches `at` (checked as requests arrive, and by
    /// [`Control::apply_due`]).
    pub fn schedule(&self, at: DateTime<Utc>, change: Change) {
        let mut list = lock(&self.scheduled);
        list.push((at, change));
        list.sort_by(|a, b| b.0.cmp(&a.0));
    }

    /// The id of the call a scheduled `Add` with this key created, once it has.
    pub fn keyed_id(&self, key: u64) -> Option<String> {
        lock(&self.keyed).get(&key).cloned()
    }

    /// Makes every scheduled change whose time has come, in time order; answers how many.
    pub fn apply_due(&self) -> usize {
        let now = self.now();
        let mut done = 0;
        loop {
            let next = {
                let mut list = lock(&self.scheduled);
                match list.last() {
                    Some((at, _)) if *at <= now => list.pop(),
                    _ => None,
                }
            };
            let Some((_, change)) = next else {
                return done;
            };
            done += 1;
            // A change to a call deleted meanwhile has nothing to change.
            let _ = match change {
                Change::Add { key, spec } => {
                    let id = self.add_call(spec);
                    lock(&self.keyed).insert(key, id);
                    Ok(())
                }
                Change::SetTitle { id, title } => self.set_title(&id, &title),
                Change::Delete { id } => self.delete_call(&id),
            };
        }
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

    pub(crate) fn cursor_key(&self) -> u64 {
        self.cursor_key
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Fails the next matching requests as `failure` says.
    pub fn fail_next(&self, failure: ScriptedFailure) {
        lock(&self.scripted).push(failure);
    }

    pub(crate) fn scripted_failure(&self, path: &str) -> Option<(u16, Option<u64>)> {
        let mut list = lock(&self.scripted);
        let i = list.iter().position(|f| f.times > 0 && f.path == path)?;
        list[i].times -= 1;
        let hit = (list[i].status, list[i].retry_after_secs);
        if list[i].times == 0 {
            list.remove(i);
        }
        Some(hit)
    }

    /// A deterministic number in [0, 1).
    pub(crate) fn roll(&self) -> f64 {
        (lock(&self.dice).next() % 1_000_000) as f64 / 1_000_000.0
    }

    /// Counts an authenticated request; answers the 429's `Retry-After` seconds and text when
    /// a limit is hit.
    pub(crate) fn admit(&self, path: &str, faults: &Faults) -> Option<(u64, &'static str)> {
        self.apply_due();
        self.requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.by_path).entry(path.to_string()).or_insert(0) += 1;
        let now = self.now();
        let mut t = lock(&self.throttle);
        let today = now.timestamp().div_euclid(86_400);
        if t.day.0 != today {
            t.day = (today, 0);
        }
        t.day.1 += 1;
        if faults.daily_quota.is_some_and(|q| t.day.1 > q) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            let to_midnight = (today + 1) * 86_400 - now.timestamp();
            return Some((
                to_midnight.max(1) as u64,
                "API request quota exceeded for today",
            ));
        }
        if let Some(rate) = faults.rate_limit_per_sec {
            if t.limiter.as_ref().map(|(r, _)| *r) != Some(rate) {
                let clock = self.config.clock.clone();
                t.limiter = Some((
                    rate,
                    rate_window::WindowLimiter::new(rate, Duration::from_secs(1), clock),
                ));
            }
            if let Some((_, l)) = &t.limiter
                && l.try_acquire().is_err()
            {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                return Some((1, "Too many requests: over 3 per second"));
            }
        }
        None
    }

    /// Authenticated requests so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests answered 429.
    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Authenticated requests by path.
    pub fn requests_by_path(&self) -> std::collections::BTreeMap<String, u64> {
        lock(&self.by_path).clone()
    }

    /// Which company an access key selects: the main one, tenant `n` for `<key>-<n>`, or
    /// none (wrong credentials).
    pub(crate) fn company_for(&self, key: &str) -> Option<Option<u32>> {
        if key == self.config.access_key {
            return Some(None);
        }
        key.strip_prefix(&format!("{}-", self.config.access_key))
            .and_then(|n| n.parse::<u32>().ok())
            .map(Some)
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&Workspace) -> R) -> R {
        match CURRENT_TENANT.with(|c| c.get()) {
            Some(n) => {
                let ws = self.tenant(n);
                let guard = lock(&ws);
                f(&guard)
            }
            None => f(&lock(&self.workspace)),
        }
    }

    fn tenant(&self, n: u32) -> Arc<Mutex<Workspace>> {
        let c = &self.config;
        lock(&self.tenants)
            .entry(n)
            .or_insert_with(|| {
                let seed = c.seed ^ (u64::from(n) + 1).wrapping_mul(0x9E37_79B9);
                Arc::new(Mutex::new(generate::workspace(
                    seed,
                    c.calls,
                    c.users,
                    c.anchor,
                    c.history_days,
                )))
            })
            .clone()
    }

    fn with_mut<R>(&self, f: impl FnOnce(&mut Workspace) -> R) -> R {
        f(&mut lock(&self.workspace))
    }

    /// The main company's calls, as facts.
    pub fn calls(&self) -> Vec<CallFacts> {
        self.with(|w| w.calls.iter().map(facts).collect())
    }

    /// The main company's users: (id, email, name, active).
    pub fn users(&self) -> Vec<(String, String, String, bool)> {
        self.with(|w| {
            w.users
                .iter()
                .map(|u| (u.id.clone(), u.email.clone(), u.full_name(), u.active))
                .collect()
        })
    }

    /// Adds a generated call (started 45 minutes ago unless said); answers its id.
    pub fn add_call(&self, spec: NewCall) -> String {
        let now = self.now();
        self.with_mut(|w| {
            let mut rng = w.rng.clone();
            let started = spec.started.unwrap_or(now - chrono::Duration::minutes(45));
            let mut call = generate::call(&mut rng, w, started);
            w.rng = rng;
            call.duration = call.duration.max(600);
            if let Some(t) = spec.title {
                call.title = t;
            }
            if spec.is_private.is_some() {
                call.is_private = spec.is_private;
            }
            if spec.without_insights {
                call.insights = None;
            }
            let id = call.id.clone();
            w.calls.push(call);
            w.calls
                .sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
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

    pub fn set_title(&self, id: &str, title: &str) -> anyhow::Result<()> {
        self.edit(id, |c| c.title = title.to_string())
    }

    /// `None`: the API answers `isPrivate: null`.
    pub fn set_private(&self, id: &str, private: Option<bool>) -> anyhow::Result<()> {
        self.edit(id, |c| c.is_private = private)
    }

    /// Relinks the call to another opportunity name (the CRM context, timing "Now").
    pub fn set_opportunity(&self, id: &str, name: &str) -> anyhow::Result<()> {
        self.edit(id, |c| {
            if let Some(crm) = c.crm.as_mut() {
                crm.opportunity_name = name.to_string();
            }
        })
    }

    /// The AI's insights arrive (or are withdrawn).
    pub fn set_insights(&self, id: &str, ready: bool) -> anyhow::Result<()> {
        self.edit(id, |c| {
            c.insights = ready.then(|| model::Insights {
                brief: format!("{} – summary", c.title),
                key_points: vec!["Follow up next week".into()],
                ..Default::default()
            })
        })
    }

    /// Adds a party of the company (a Gong user, by email) to a call.
    pub fn add_internal_party(&self, id: &str, email: &str) -> anyhow::Result<()> {
        let user = self.with(|w| w.users.iter().find(|u| u.email == email).cloned());
        let user = user.ok_or_else(|| anyhow::anyhow!("no user {email}"))?;
        self.edit(id, |c| {
            c.parties.push(model::Party {
                id: format!("{}9", user.id),
                name: Some(user.full_name()),
                email: Some(user.email.clone()),
                title: user.title.clone(),
                user_id: Some(user.id.clone()),
                speaker_id: None,
                affiliation: model::Affiliation::Internal,
                phone: None,
            })
        })
    }

    /// Deletes a call: gone from every listing, 404 by id.
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

    /// Leaves the user with `email` out of `/v2/users` (`true`: lists them again).
    pub fn set_user_listed(&self, email: &str, listed: bool) {
        let mut hidden = lock(&self.unlisted_users);
        if listed {
            hidden.remove(&email.to_lowercase());
        } else {
            hidden.insert(email.to_lowercase());
        }
    }

    pub(crate) fn user_listed(&self, email: &str) -> bool {
        !lock(&self.unlisted_users).contains(&email.to_lowercase())
    }
}

fn facts(c: &model::Call) -> CallFacts {
    let emails = |a: model::Affiliation| {
        c.parties
            .iter()
            .filter(|p| p.affiliation == a)
            .filter_map(|p| p.email.clone())
            .collect()
    };
    CallFacts {
        id: c.id.clone(),
        title: c.title.clone(),
        started: c.started,
        is_private: c.is_private,
        internal_emails: emails(model::Affiliation::Internal),
        external_emails: emails(model::Affiliation::External),
        has_transcript: !c.transcript.is_empty(),
        has_insights: c.insights.is_some(),
        account: c.crm.as_ref().map(|x| x.account_name.clone()),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Shared {
    pub(crate) control: Control,
    pub(crate) config: MockGongConfig,
}

/// A running mock.
pub struct MockGong {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockGong {
    /// Binds `addr` (port 0: a free port) and serves on a background thread.
    pub fn spawn(addr: SocketAddr, config: MockGongConfig) -> anyhow::Result<MockGong> {
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
            .name("mock-gong".into())
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
        Ok(MockGong {
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

impl Drop for MockGong {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves until the future is dropped (for `harness mock-gong`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockGongConfig,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        control: Control::new(config.clone()),
        config,
    });
    axum::serve(listener, server::router(shared)).await?;
    Ok(())
}
