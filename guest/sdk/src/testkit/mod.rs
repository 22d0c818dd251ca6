//! A test kit: run a connector's methods natively, on a scripted source, with settings, a
//! clock and a log you control, and see every request it sent.
//!
//! ```
//! use connector_sdk::testkit::TestHost;
//! use connector_sdk::http::{Method, Request, Response};
//!
//! let host = TestHost::new()
//!     .setting("page_size", "50")
//!     .at_ms(1_700_000_000_000)
//!     .on(Method::Get, "api", "/notes", Response::of_json(200, &serde_json::json!({"notes": []})));
//! let ctx = host.ctx();
//! let answer = ctx.http().send(&Request::get("api", "/notes").query("limit", 50)).unwrap();
//! assert_eq!(answer.status, 200);
//! assert_eq!(ctx.setting("page_size").as_deref(), Some("50"));
//! assert_eq!(host.requests()[0].path_and_query(), "/notes?limit=50");
//! ```
//!
//! A request no route answers fails with an error that names it, so a test never passes on an
//! answer it did not script. [`TestHost::replaying`] answers from a tape the host recorded
//! against the real source ([`tape`]).

pub mod tape;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::Error;
use crate::ctx::{Clock, Ctx, Level, LogSink, SettingsSource};
use crate::http::{Method, Request, Response, Transport};

type Handler = Box<dyn Fn(&Request) -> Option<Result<Response, Error>>>;

/// The host, faked: settings, clock, log and a scripted transport. Not thread-safe; a test
/// drives it from one thread.
#[derive(Default)]
pub struct TestHost {
    settings: BTreeMap<String, String>,
    now_ms: Cell<i64>,
    routes: Vec<Handler>,
    requests: RefCell<Vec<Request>>,
    logs: RefCell<Vec<(Level, String)>>,
}

impl TestHost {
    /// No settings, no routes, the clock at the epoch.
    pub fn new() -> Self {
        TestHost::default()
    }

    /// Sets `key` to `value`, as the operator would in the connector settings.
    #[must_use]
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets the clock.
    #[must_use]
    pub fn at_ms(self, now_ms: i64) -> Self {
        self.now_ms.set(now_ms);
        self
    }

    /// Moves the clock between calls.
    pub fn set_now_ms(&self, now_ms: i64) {
        self.now_ms.set(now_ms)
    }

    /// Answers every `method` request for `path` (without its query) on `upstream` with
    /// `response`. Routes are tried in the order added.
    #[must_use]
    pub fn on(self, method: Method, upstream: &str, path: &str, response: Response) -> Self {
        let (upstream, path) = (upstream.to_string(), path.to_string());
        self.handle(move |r| {
            (r.method == method && r.upstream == upstream && r.path == path)
                .then(|| Ok(response.clone()))
        })
    }

    /// Answers what `handler` chooses to (`None`: not this route), for answers that depend on
    /// the query, the body or earlier requests, and for transport failures.
    #[must_use]
    pub fn handle(
        mut self,
        handler: impl Fn(&Request) -> Option<Result<Response, Error>> + 'static,
    ) -> Self {
        self.routes.push(Box::new(handler));
        self
    }

    /// Answers every request no earlier route answered from `transport` (a fake source, or a
    /// [`tape::Tape`]).
    #[must_use]
    pub fn fallback(self, transport: impl Transport + 'static) -> Self {
        self.handle(move |r| Some(transport.send(r)))
    }

    /// A host that answers from a recording (`harness crawl --record FILE`), with its clock at
    /// the recording's time.
    pub fn replaying(tape: tape::Tape) -> Self {
        TestHost::new().at_ms(tape.clock_ms()).fallback(tape)
    }

    /// The context a connector method receives.
    pub fn ctx(&self) -> Ctx<'_> {
        self.ctx_with(self)
    }

    /// The context with another transport (a fake source written as a [`Transport`]), and this
    /// host's clock, settings and log.
    pub fn ctx_with<'a>(&'a self, http: &'a dyn Transport) -> Ctx<'a> {
        Ctx::new(http)
            .with_clock(self)
            .with_settings(self)
            .with_log(self)
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.borrow().clone()
    }

    /// Every log line written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }
}

impl Transport for TestHost {
    fn send(&self, request: &Request) -> Result<Response, Error> {
        self.requests.borrow_mut().push(request.clone());
        for route in &self.routes {
            if let Some(answer) = route(request) {
                return answer;
            }
        }
        Err(Error::system(format!(
            "test kit: no route answers {} on upstream `{}`; add one with TestHost::on or TestHost::handle",
            request.describe(),
            request.upstream
        )))
    }
}

impl Clock for TestHost {
    fn now_ms(&self) -> i64 {
        self.now_ms.get()
    }
}

impl SettingsSource for TestHost {
    fn get(&self, key: &str) -> Option<String> {
        self.settings.get(key).cloned()
    }
}

impl LogSink for TestHost {
    fn write(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscripted_requests_fail_and_are_recorded() {
        let host = TestHost::new()
            .handle(|r| (r.path == "/down").then(|| Err(Error::transient("connection reset"))));
        let ctx = host.ctx();
        let e = ctx
            .http()
            .send(&Request::get("api", "/elsewhere"))
            .unwrap_err();
        assert!(
            matches!(&e, Error::System(m) if m.contains("GET /elsewhere")),
            "{e:?}"
        );
        assert!(matches!(
            ctx.http().send(&Request::get("api", "/down")),
            Err(Error::Transient { .. })
        ));
        ctx.warn("careful");
        assert_eq!(host.requests().len(), 2);
        assert_eq!(host.logs(), vec![(Level::Warn, "careful".to_string())]);
        assert_eq!(ctx.setting_or("n", 3u32, "a number").unwrap(), 3);
    }
}
