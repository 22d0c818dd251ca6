//! The egress engine: the one path from a guest to the network. Every request goes through
//! three steps, as in Spin's outbound HTTP:
//!
//! 1. **policy** ([`policy`]): the named upstream must be granted, the path must stay under the
//!    upstream's base path, and the guest may not set credential or routing headers;
//! 2. **interceptor** ([`tape`]): a replay answers from a recording; a recording keeps what
//!    came back (scrubbed);
//! 3. **transport** ([`transport`]): the request budget is spent (and persisted) and the
//!    upstream's rate limiter admits the request, then the host adds the credentials and
//!    sends it with time and size caps and the connect-time private-network guard.
//!
//! Answers are scrubbed of every configured secret, in any common encoding, before the guest
//! sees them; a 429 or a `Retry-After` pauses the whole upstream, not just the one request.

pub mod budget;
pub mod grant;
pub mod policy;
pub mod quote;
pub mod resolve;
pub mod scrub;
pub mod secrets;
pub mod tape;
pub mod transport;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use policy::{BaseUrl, Origin, PolicyError};
pub use rate_window::{ArrivalLimiter, SystemClock, WindowLimiter};
pub use secrets::{Redactor, Secret};

/// The rate an upstream gets when its configuration names none: conservative.
pub const DEFAULT_RATE_PER_SECOND: f64 = 5.0;

/// How long a 429 without `Retry-After` pauses its upstream.
pub const DEFAULT_429_PAUSE: Duration = Duration::from_secs(1);

/// A limiter for `rate` requests a second, as the upstream counts them (by arrival): at most
/// `rate` (rounded down, at least 1) arrivals in any one-second window, whatever the network and
/// this machine's load add to each request (see [`rate_window::arrival`]); a rate under 1 is one
/// request per `1/rate` seconds.
pub fn upstream_limiter(rate: f64) -> Arc<ArrivalLimiter> {
    upstream_limiter_on(rate, Arc::new(rate_window::SystemClock))
}

/// [`upstream_limiter`] on a given clock (a virtual one in simulations).
pub fn upstream_limiter_on(rate: f64, clock: Arc<dyn rate_window::Clock>) -> Arc<ArrivalLimiter> {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        DEFAULT_RATE_PER_SECOND
    };
    Arc::new(if rate >= 1.0 {
        ArrivalLimiter::new(rate.floor() as u32, Duration::from_secs(1), clock)
    } else {
        ArrivalLimiter::new(1, Duration::from_secs_f64(1.0 / rate), clock)
    })
}

/// HTTP methods a guest may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }
}

/// A guest's request, as it crosses the boundary.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub upstream: String,
    pub method: Method,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What the guest gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response. Messages are already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("the response was over the cap of {0} bytes")]
    TooLarge(u64),
    #[error("the request budget is spent; retry after {0:?} ms")]
    RateLimited(Option<u64>),
}

/// One upstream a connector may reach.
#[derive(Debug, Clone)]
pub struct UpstreamRoute {
    pub name: String,
    pub base: BaseUrl,
    /// Header name and value the host adds to every request.
    pub credentials: Vec<(String, Secret)>,
    /// Secrets never sent as they are but scrubbed like the credentials: the username and
    /// password an HTTP Basic credential is composed from, so that a connector shown either
    /// part alone sees it removed too.
    pub scrub_only: Vec<Secret>,
    /// Header names the connector declared as credential headers; never settable by a guest,
    /// whether or not a value is configured.
    pub auth_headers: Vec<String>,
    /// Shared by every worker of this connector instance that uses the upstream.
    pub limiter: Arc<ArrivalLimiter>,
    /// Whether the upstream may be on a private network (checked again at connect time).
    pub allow_private_network: bool,
}

/// Caps that apply to every request.
#[derive(Debug, Clone)]
pub struct EgressLimits {
    pub timeout: Duration,
    pub max_response_bytes: u64,
    /// The longest a request waits for the rate limiter before failing `rate-limited`.
    pub max_rate_wait: Duration,
}

impl Default for EgressLimits {
    fn default() -> Self {
        EgressLimits {
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            max_rate_wait: Duration::from_secs(60),
        }
    }
}

/// Whether traffic is recorded, replayed, or neither.
#[derive(Debug, Default)]
pub enum Tape {
    #[default]
    Off,
    Record(tape::Recorder),
    /// Answers from a recording; nothing reaches the network.
    Replay(tape::Player),
}

/// Counters of what went out, for reports and metrics.
#[derive(Debug, Default)]
pub struct EgressCounters {
    /// Requests sent (or answered by a replay).
    pub requests: AtomicU64,
    /// Answers with status 429.
    pub throttled: AtomicU64,
    /// Answers that carried a configured secret, which was removed before the guest saw it.
    pub scrubbed: AtomicU64,
    /// Answers by upstream and status.
    pub by_status: std::sync::Mutex<std::collections::BTreeMap<(String, u16), u64>>,
    /// When the last answer (any status) arrived, epoch milliseconds; 0 before the first.
    pub last_answer_ms: AtomicU64,
    /// When the last answer arrived on the monotonic clock ([`monotonic_ms`]); 0 before the
    /// first. For watchdogs: a wall clock that jumps cannot make a source look silent.
    pub last_answer_mono_ms: AtomicU64,
    /// Requests refused at once because their upstream had stopped answering.
    pub broken: AtomicU64,
}

/// Timeouts or transport failures in a row after which an upstream is taken as down for
/// the rest of this engine's life (one crawl): later requests to it fail at once instead of
/// each waiting out its timeout, so a source that accepts connections and never answers
/// holds a crawl (and a worker) for about this many timeouts, not for every request's.
pub const BREAKER_AFTER: u32 = 3;

/// A request admitted on a simulation's clock: time stands still until it is dropped (the
/// answer came, or the request was refused after admission).
struct Held<'a>(&'a rate_window::VirtualClock);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The engine for one connector instance.
pub struct Egress {
    routes: HashMap<String, UpstreamRoute>,
    tape: Tape,
    budget: Option<Arc<budget::RequestBudget>>,
    /// At most this many requests through this engine (see [`Egress::with_request_cap`]),
    /// and how many were admitted so far.
    cap: Option<(u64, AtomicU64)>,
    limits: EgressLimits,
    transport: transport::Transport,
    redactor: Redactor,
    counters: EgressCounters,
    /// Timeouts and transport failures in a row, by upstream.
    failing: std::sync::Mutex<HashMap<String, u32>>,
    /// Epoch milliseconds now: the system clock, or a simulation's.
    wall: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// A simulation's clock, held still while a request is under way.
    virtual_time: Option<Arc<rate_window::VirtualClock>>,
    /// Set when the process is stopping: no new request goes out after that.
    stop: std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("upstreams", &self.routes.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Milliseconds on the process's monotonic clock (since its first use).
pub fn monotonic_ms() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Egress {
    pub fn new(routes: Vec<UpstreamRoute>, limits: EgressLimits, redactor: Redactor) -> Self {
        redactor.register_all(
            routes
                .iter()
                .flat_map(|r| r.credentials.iter().map(|(_, s)| s).chain(&r.scrub_only)),
        );
        let private_hosts: Vec<String> = routes
            .iter()
            .filter(|r| r.allow_private_network)
            .map(|r| r.base.origin.host.clone())
            .collect();
        Egress {
            routes: routes.into_iter().map(|r| (r.name.clone(), r)).collect(),
            tape: Tape::Off,
            budget: None,
            cap: None,
            transport: transport::Transport::new(limits.clone(), private_hosts),
            limits,
            redactor,
            counters: EgressCounters::default(),
            failing: Default::default(),
            wall: Arc::new(now_ms),
            virtual_time: None,
            stop: std::sync::OnceLock::new(),
        }
    }

    /// Once `flag` is set, every new request is refused at once (the process is stopping:
    /// it opens no new connection). A second call is ignored.
    pub fn stop_on(&self, flag: Arc<std::sync::atomic::AtomicBool>) {
        let _ = self.stop.set(flag);
    }

    fn stopping(&self) -> bool {
        self.stop.get().is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Counts every request against a request budget (per day or per week), refusing them
    /// once the period's is spent.
    pub fn with_budget(mut self, budget: Arc<budget::RequestBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// At most `cap` requests go through this engine, each spending the budget as usual; the
    /// one after the last is refused, not sent (a bounded errand such as a canary's live
    /// sample spends the tenant's budget and no more than its share).
    pub fn with_request_cap(mut self, cap: u64) -> Self {
        self.cap = Some((cap, AtomicU64::new(0)));
        self
    }

    /// Reads epoch milliseconds from `wall` instead of the system clock (for the request
    /// budget's periods; simulations run on virtual time).
    pub fn with_wall_clock(mut self, wall: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        self.wall = wall;
        self
    }

    /// Runs on a simulation's clock: the request budget's periods follow it, and it stands
    /// still while a request is under way.
    pub fn with_virtual_time(mut self, clock: Arc<rate_window::VirtualClock>) -> Self {
        let c = clock.clone();
        self.wall = Arc::new(move || c.epoch_ms());
        self.virtual_time = Some(clock);
        self
    }

    /// Records or replays this engine's traffic.
    pub fn with_tape(mut self, tape: Tape) -> Self {
        self.tape = tape;
        self
    }

    /// Requests sent to the network (or answered by a replay) so far.
    pub fn request_count(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    pub fn counters(&self) -> &EgressCounters {
        &self.counters
    }

    pub fn budget(&self) -> Option<&Arc<budget::RequestBudget>> {
        self.budget.as_ref()
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The rate limiters of every upstream.
    pub fn limiters(&self) -> Vec<Arc<ArrivalLimiter>> {
        self.routes.values().map(|r| r.limiter.clone()).collect()
    }

    /// Sends `req` if policy allows it: policy, then interceptor, then transport.
    pub fn send(&self, req: &OutboundRequest) -> Result<InboundResponse, EgressError> {
        let route = self.route(&req.upstream)?;
        let url = route
            .base
            .join(&route.name, &req.path_and_query)
            .map_err(|e| EgressError::Denied(e.to_string()))?;
        refuse_forbidden_headers(route, req)?;
        if let Tape::Replay(player) = &self.tape {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            return player.answer(req).map(|r| self.scrub(r));
        }
        let in_row = self.refuse_when_closed(route)?;
        // The request counts against the upstream's rate from admission until its answer is
        // read; on virtual time, the clock stands still meanwhile.
        let (ticket, held) = self.admit(route)?;
        let credentials: Vec<(String, &str)> = route
            .credentials
            .iter()
            .map(|(h, s)| (h.clone(), s.expose()))
            .collect();
        let response = self.transport.send(
            req.method,
            &url,
            &req.headers,
            &credentials,
            req.body.as_deref(),
            &self.redactor,
        );
        // An answer bounds when the request reached the upstream; a failure does not say.
        match &response {
            Ok(_) => ticket.answered(&request_kind(req)),
            Err(_) => drop(ticket),
        }
        drop(held);
        let response = match response {
            Ok(r) => {
                self.set_failures_in_row(&route.name, 0);
                self.counters
                    .last_answer_ms
                    .store((self.wall)().max(0) as u64, Ordering::Relaxed);
                self.counters
                    .last_answer_mono_ms
                    .store(monotonic_ms().max(1), Ordering::Relaxed);
                r
            }
            Err(e) => {
                if matches!(e, EgressError::Timeout(_) | EgressError::Transport(_)) {
                    self.set_failures_in_row(&route.name, in_row + 1);
                }
                return Err(e);
            }
        };
        self.pause_if_told(route, &response);
        let response = self.scrub(strip_credential_headers(route, response));
        if let Tape::Record(recorder) = &self.tape {
            recorder.record(req, &response);
        }
        Ok(response)
    }

    /// Refuses a request while the harness stops or after the upstream's breaker opened;
    /// otherwise the upstream's failures in a row so far.
    fn refuse_when_closed(&self, route: &UpstreamRoute) -> Result<u32, EgressError> {
        if self.stopping() {
            return Err(EgressError::Transport(
                "the harness is stopping: no new requests; the crawl resumes from its last checkpoint"
                    .into(),
            ));
        }
        let in_row = self.failures_in_row(&route.name);
        if in_row >= BREAKER_AFTER {
            self.counters.broken.fetch_add(1, Ordering::Relaxed);
            return Err(EgressError::Transport(format!(
                "upstream `{}` stopped answering ({in_row} requests in a row timed out or failed); no more requests to it in this crawl, which ends and is retried with backoff",
                route.name
            )));
        }
        Ok(in_row)
    }

    fn failures_in_row(&self, upstream: &str) -> u32 {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(upstream)
            .copied()
            .unwrap_or(0)
    }

    fn set_failures_in_row(&self, upstream: &str, n: u32) {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(upstream.to_string(), n);
    }

    fn route(&self, name: &str) -> Result<&UpstreamRoute, EgressError> {
        self.routes.get(name).ok_or_else(|| {
            let mut known: Vec<&str> = self.routes.keys().map(String::as_str).collect();
            known.sort_unstable();
            let name = quote::quote(name);
            EgressError::Denied(format!(
                "upstream `{name}` is not allowed for this connector (allowed: {}); the connector must declare it in `describe` \
                 and the harness configuration must give it a base URL under [upstreams.{name}]",
                if known.is_empty() { "none".to_string() } else { known.join(", ") },
            ))
        })
    }

    /// Waits for the rate limiter, then spends the request budget (persisted before sending):
    /// a request refused by the limiter costs no budget.
    fn admit<'r>(
        &self,
        route: &'r UpstreamRoute,
    ) -> Result<(rate_window::Ticket<'r>, Option<Held<'_>>), EgressError> {
        self.take_cap_slot()?;
        let admitted = self.admit_within_cap(route);
        if admitted.is_err()
            && let Some((_, taken)) = &self.cap
        {
            // Refused before it was sent: the slot goes back.
            taken.fetch_sub(1, Ordering::SeqCst);
        }
        admitted
    }

    /// Takes one of the cap's slots, or refuses the request when all are taken.
    fn take_cap_slot(&self) -> Result<(), EgressError> {
        let Some((cap, taken)) = &self.cap else {
            return Ok(());
        };
        taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < *cap).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| {
                EgressError::Transport(format!(
                    "the request was not sent: this errand's share of the budget ({cap} requests) is spent"
                ))
            })
    }

    /// [`Egress::admit`] once the request has a slot of the cap.
    fn admit_within_cap<'r>(
        &self,
        route: &'r UpstreamRoute,
    ) -> Result<(rate_window::Ticket<'r>, Option<Held<'_>>), EgressError> {
        let ticket = route
            .limiter
            .acquire(self.limits.max_rate_wait)
            .map_err(|refusal| {
                EgressError::RateLimited(match refusal {
                    rate_window::Refusal::Wait(wait) => Some(wait.as_millis() as u64),
                    rate_window::Refusal::Busy => None,
                })
            })?;
        let held = self.virtual_time.as_deref().map(Held);
        if let Some(budget) = &self.budget {
            budget
                .spend((self.wall)())
                .map_err(|refusal| match refusal {
                    budget::BudgetRefusal::Spent(wait) => {
                        EgressError::RateLimited(Some(wait.as_millis() as u64))
                    }
                    budget::BudgetRefusal::Unrecorded(why) => EgressError::Transport(format!(
                        "the request was not sent: its count could not be saved ({why})"
                    )),
                })?;
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        Ok((ticket, held))
    }

    /// A 429, or any answer with `Retry-After`, pauses every request to the upstream.
    fn pause_if_told(&self, route: &UpstreamRoute, response: &InboundResponse) {
        let advice = response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| rate_window::retry_after::parse(v, std::time::SystemTime::now()));
        if response.status == 429 {
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            // Evidence that the upstream counts more than the limiter allowed for: slow down
            // by one request a window, recovering after clean answers.
            route.limiter.throttled();
        } else {
            route.limiter.not_throttled();
        }
        *self
            .counters
            .by_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route.name.clone(), response.status))
            .or_default() += 1;
        let pause = match (response.status, advice) {
            (_, Some(d)) if response.status == 429 || response.status == 503 => Some(d),
            (429, None) => Some(DEFAULT_429_PAUSE),
            _ => None,
        };
        if let Some(d) = pause {
            tracing::info!(
                target: "egress",
                upstream = %route.name,
                "the upstream asked to slow down (HTTP {}): pausing it for {d:?}",
                response.status
            );
            route.limiter.pause_for(d);
        }
    }

    /// Removes every configured secret, in any known encoding, from an answer.
    fn scrub(&self, mut response: InboundResponse) -> InboundResponse {
        let mut found = false;
        for (_, v) in &mut response.headers {
            let clean = self.redactor.redact(v);
            if clean != *v {
                found = true;
                *v = clean;
            }
        }
        let (body, in_body) = self
            .redactor
            .redact_bytes(std::mem::take(&mut response.body));
        response.body = body;
        if found || in_body {
            self.counters.scrubbed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "egress",
                "an answer carried a configured credential (the upstream reflected it); it was removed before the connector saw it"
            );
        }
        response
    }
}

/// What the rate limiter compares a request's round trip with: its method and path, without
/// the query (the same endpoint costs the upstream about the same whatever its parameters).
fn request_kind(req: &OutboundRequest) -> String {
    let path = req
        .path_and_query
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    format!("{:?} {path}", req.method)
}

/// Drops answer headers named like the upstream's credential headers.
fn strip_credential_headers(route: &UpstreamRoute, mut r: InboundResponse) -> InboundResponse {
    r.headers.retain(|(n, _)| {
        !route
            .credentials
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case(n))
            && !route.auth_headers.iter().any(|c| c.eq_ignore_ascii_case(n))
    });
    r
}

fn is_forbidden_header(route: &UpstreamRoute, name: &str) -> bool {
    policy::ALWAYS_FORBIDDEN_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || route
            .credentials
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case(name))
        || route
            .auth_headers
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
}

/// Refuses a request that sets a header the host owns on `route` (credentials, routing).
fn refuse_forbidden_headers(
    route: &UpstreamRoute,
    req: &OutboundRequest,
) -> Result<(), EgressError> {
    for (name, _) in &req.headers {
        if is_forbidden_header(route, name) {
            return Err(EgressError::Denied(format!(
                "the connector may not set the `{}` header on upstream `{}`: credentials and routing \
                 headers are added by the host; remove it from the request",
                quote::quote(name),
                route.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An upstream on loopback that answers one request with `body(authorization)`, and the
    /// `Authorization` header it received.
    fn echo_once(
        body: impl FnOnce(&str) -> String + Send + 'static,
    ) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            let auth = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            let body = body(&auth);
            write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            auth
        });
        (format!("http://{addr}"), handle)
    }

    #[test]
    fn a_basic_credential_and_each_of_its_parts_are_scrubbed_from_answers() {
        // RFC 7617's example.
        let (user, pass) = ("Aladdin", "open sesame");
        let composed = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
        let (base, server) = echo_once(move |auth| {
            format!("{{\"auth\":\"{auth}\",\"user\":\"{user}\",\"pass\":\"{pass}\"}}")
        });
        let mut configured = std::collections::BTreeMap::new();
        configured.insert(
            "src".to_string(),
            grant::Configured {
                base: BaseUrl::parse(&base).unwrap(),
                rate_per_second: 100.0,
                allow_private_network: true,
                credentials: vec![("Authorization".into(), Secret::new(composed))],
                scrub_only: vec![Secret::new(user), Secret::new(pass)],
            },
        );
        let declared = [grant::Declared {
            name: "src".into(),
            default_base_url: base.clone(),
            auth_headers: vec!["Authorization".into()],
        }];
        let routes = grant::grant(&declared, &configured, |_, r| upstream_limiter(r))
            .unwrap()
            .routes;
        let redactor = Redactor::new();
        let egress = Egress::new(routes, EgressLimits::default(), redactor.clone());
        let answer = egress
            .send(&OutboundRequest {
                upstream: "src".into(),
                method: Method::Get,
                path_and_query: "/whoami".into(),
                headers: Vec::new(),
                body: None,
            })
            .unwrap();
        // The host sent the composed header ...
        assert_eq!(server.join().unwrap(), composed);
        // ... and the connector sees none of it, nor either part alone.
        let body = String::from_utf8(answer.body).unwrap();
        assert_eq!(
            body,
            "{\"auth\":\"[REDACTED]\",\"user\":\"[REDACTED]\",\"pass\":\"[REDACTED]\"}"
        );
        assert_eq!(egress.counters().scrubbed.load(Ordering::Relaxed), 1);
        // Logs and errors go through the same redactor.
        assert_eq!(
            redactor.redact("user=Aladdin pass=open sesame"),
            "user=[REDACTED] pass=[REDACTED]"
        );
    }
}
