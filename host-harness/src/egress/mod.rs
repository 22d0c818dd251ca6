//! The egress engine: the one path from a guest to the network. It resolves a named upstream
//! to its configured base URL, refuses anything that would leave that origin or touch
//! credentials, injects the credentials itself, applies the upstream's rate limit, and caps
//! time and response size. Redirects are returned to the guest, never followed.

pub mod budget;
pub mod policy;
pub mod ratelimit;
pub mod secrets;
pub mod tape;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use policy::{BaseUrl, Origin, PolicyError};
pub use ratelimit::TokenBucket;
pub use secrets::{Redactor, Secret};

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
    fn as_str(self) -> &'static str {
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
    /// Header names the connector declared as credential headers; never settable by a guest,
    /// whether or not a value is configured.
    pub auth_headers: Vec<String>,
    /// Shared by every worker of this connector instance that uses the upstream.
    pub limiter: Option<Arc<TokenBucket>>,
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

/// The engine for one connector instance.
pub struct Egress {
    routes: HashMap<String, UpstreamRoute>,
    tape: Tape,
    budget: Option<Arc<budget::WeeklyBudget>>,
    limits: EgressLimits,
    agent: ureq::Agent,
    redactor: Redactor,
    requests: AtomicU64,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("upstreams", &self.routes.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Egress {
    pub fn new(routes: Vec<UpstreamRoute>, limits: EgressLimits, redactor: Redactor) -> Self {
        for r in &routes {
            for (_, s) in &r.credentials {
                redactor.register(s);
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(limits.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .proxy(None)
            .user_agent("connector-host-harness/0.1")
            .build()
            .into();
        Egress {
            routes: routes.into_iter().map(|r| (r.name.clone(), r)).collect(),
            tape: Tape::Off,
            budget: None,
            limits,
            agent,
            redactor,
            requests: AtomicU64::new(0),
        }
    }

    /// Counts every request against a weekly budget, refusing them once it is spent.
    pub fn with_budget(mut self, budget: Arc<budget::WeeklyBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Records or replays this engine's traffic.
    pub fn with_tape(mut self, tape: Tape) -> Self {
        self.tape = tape;
        self
    }

    /// Requests sent to the network so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Sends `req` if policy allows it.
    pub fn send(&self, req: &OutboundRequest) -> Result<InboundResponse, EgressError> {
        let route = self.routes.get(&req.upstream).ok_or_else(|| {
            let known: Vec<&str> = self.routes.keys().map(String::as_str).collect();
            EgressError::Denied(format!(
                "upstream `{}` is not allowed for this connector (allowed: {}); the connector must declare it in `describe` \
                 and the harness configuration must give it a base URL under [upstreams.{}]",
                req.upstream,
                if known.is_empty() { "none".to_string() } else { known.join(", ") },
                req.upstream
            ))
        })?;
        let url = route
            .base
            .join(&route.name, &req.path_and_query)
            .map_err(|e| EgressError::Denied(e.to_string()))?;
        for (name, _) in &req.headers {
            if self.is_forbidden_header(route, name) {
                return Err(EgressError::Denied(format!(
                    "the connector may not set the `{name}` header on upstream `{}`: credentials and routing \
                     headers are added by the host; remove it from the request",
                    route.name
                )));
            }
        }
        if let Tape::Replay(player) = &self.tape {
            self.requests.fetch_add(1, Ordering::Relaxed);
            return player.answer(req);
        }
        if let Some(budget) = &self.budget {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            budget
                .spend(now)
                .map_err(|wait| EgressError::RateLimited(Some(wait.as_millis() as u64)))?;
        }
        if let Some(limiter) = &route.limiter {
            limiter
                .acquire(self.limits.max_rate_wait)
                .map_err(|wait| EgressError::RateLimited(Some(wait.as_millis() as u64)))?;
        }

        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        for (name, secret) in &route.credentials {
            builder = builder.header(name.as_str(), secret.expose());
        }
        let body = req.body.clone().unwrap_or_default();
        let request = builder.body(body).map_err(|e| {
            EgressError::Denied(self.redactor.redact(&format!("malformed request: {e}")))
        })?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self.agent.run(request).map_err(|e| self.map_error(e))?;

        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                let n = name.as_str();
                n != "set-cookie"
                    && !route
                        .credentials
                        .iter()
                        .any(|(c, _)| c.eq_ignore_ascii_case(n))
            })
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let cap = self.limits.max_response_bytes;
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.map_io(e))?;
        if body.len() as u64 > cap {
            return Err(EgressError::TooLarge(cap));
        }
        let response = InboundResponse {
            status,
            headers,
            body,
        };
        if let Tape::Record(recorder) = &self.tape {
            // Belt and braces: an upstream that echoes a credential must not put it on tape.
            let scrubbed = InboundResponse {
                status: response.status,
                headers: response
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), self.redactor.redact(v)))
                    .collect(),
                body: match std::str::from_utf8(&response.body) {
                    Ok(text) => self.redactor.redact(text).into_bytes(),
                    Err(_) => response.body.clone(),
                },
            };
            recorder.record(req, &scrubbed);
        }
        Ok(response)
    }

    fn is_forbidden_header(&self, route: &UpstreamRoute, name: &str) -> bool {
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

    fn map_error(&self, e: ureq::Error) -> EgressError {
        let msg = self.redactor.redact(&e.to_string());
        match e {
            ureq::Error::Timeout(_) => EgressError::Timeout(msg),
            ureq::Error::BodyExceedsLimit(n) => EgressError::TooLarge(n),
            ureq::Error::Io(io) => self.map_io(io),
            _ => EgressError::Transport(msg),
        }
    }

    fn map_io(&self, e: std::io::Error) -> EgressError {
        let msg = self.redactor.redact(&e.to_string());
        match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                EgressError::Timeout(msg)
            }
            _ => EgressError::Transport(msg),
        }
    }
}
