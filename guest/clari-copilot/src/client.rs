//! The Clari Copilot HTTP calls (`/calls`, `/call-details`, `/users`) over any
//! [`Transport`], and what each HTTP answer means as a connector error.

use connector_sdk::Error;
use connector_sdk::http::{Request, Response, Transport, encode_component};
use serde_json::Value;

use crate::time;
use crate::wire::{self, DirectoryUser, Pagination};

/// The upstream name the connector declares and the host maps to Clari's base URL.
pub const UPSTREAM: &str = "clari";

/// What an operator does about refused credentials.
pub const CREDENTIALS_HINT: &str = "check the Clari Copilot API key and password (Workspace Settings > Integrations > Clari Copilot API)";

/// The largest `skip` Clari accepts on `/calls`.
pub const MAX_SKIP: u64 = crate::cursor::MAX_SKIP;
/// The largest `limit` Clari accepts on `/calls`.
pub const MAX_LIMIT: u32 = 100;

/// Which clock a `/calls` listing filters and sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `time` (scheduled or start time): `filterTimeGt/Lt`, `sortTime=asc`.
    CallTime,
    /// `last_modified_time` (status changes): `filterModifiedGt/Lt`, `sortProcessed=asc`.
    Modified,
}

/// One `/calls` request. Bounds are strict on the wire (`Gt`/`Lt`); here `from` is
/// inclusive and `to` exclusive, in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsQuery {
    pub clock: Clock,
    pub from: i64,
    pub to: i64,
    pub include_private: bool,
    pub skip: u64,
    pub limit: u32,
}

/// One `/calls` page: the raw call objects (each parsed by the caller, so that one bad call
/// is reported alone) and the pagination, if Clari sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallsPage {
    pub calls: Vec<Value>,
    pub pagination: Option<Pagination>,
}

/// Clari Copilot over a transport.
pub struct Client<'a> {
    transport: &'a dyn Transport,
    /// Epoch milliseconds, to read an HTTP-date `Retry-After`.
    now_ms: i64,
}

impl<'a> Client<'a> {
    pub fn new(transport: &'a dyn Transport, now_ms: i64) -> Self {
        Client { transport, now_ms }
    }

    /// `GET /calls` with the query's window, sort, privacy and position.
    pub fn list_calls(&self, q: &CallsQuery) -> Result<CallsPage, Error> {
        let (gt, lt, sort) = match q.clock {
            Clock::CallTime => ("filterTimeGt", "filterTimeLt", "sortTime"),
            Clock::Modified => ("filterModifiedGt", "filterModifiedLt", "sortProcessed"),
        };
        let req = Request::get(UPSTREAM, "/calls")
            .query(gt, time::format_query(q.from.saturating_sub(1)))
            .query(lt, time::format_query(q.to))
            .query(sort, "asc")
            .query(
                "includePrivate",
                if q.include_private { "true" } else { "false" },
            )
            .query("includePagination", "true")
            .query("skip", q.skip)
            .query("limit", q.limit.clamp(1, MAX_LIMIT));
        let what = "GET /calls";
        let body: Value = self.send(&req, what)?.json(what)?;
        let calls = match body.get("calls") {
            Some(Value::Array(calls)) => calls.clone(),
            _ => {
                return Err(Error::system(format!(
                    "{what}: the answer has no `calls` list; Clari may have changed its format"
                )));
            }
        };
        let pagination = body.get("pagination").and_then(wire::from_object);
        Ok(CallsPage { calls, pagination })
    }

    /// `GET /call-details?id=`: the raw `call` object of `{"call": {...}}`.
    pub fn call_details(&self, id: &str) -> Result<Value, Error> {
        let req = Request::get(UPSTREAM, "/call-details").query("id", id);
        let what = format!("GET /call-details for call {id}");
        let mut body: Value = self.send(&req, &what)?.json(&what)?;
        match body.get_mut("call").map(Value::take) {
            Some(call @ Value::Object(_)) => Ok(call),
            _ => Err(Error::system(format!(
                "call {id}: field `call`: the answer of GET /call-details has no call object"
            ))),
        }
    }

    /// `GET /users` (unpaginated): the workspace's Copilot users.
    pub fn users(&self) -> Result<Vec<DirectoryUser>, Error> {
        let req = Request::get(UPSTREAM, "/users");
        let what = "GET /users";
        let body: Value = self.send(&req, what)?.json(what)?;
        match body.get("users") {
            Some(Value::Array(users)) => Ok(users.iter().filter_map(wire::from_object).collect()),
            _ => Err(Error::system(format!(
                "{what}: the answer has no `users` list; Clari may have changed its format"
            ))),
        }
    }

    fn send(&self, req: &Request, what: &str) -> Result<Response, Error> {
        let resp = self.transport.send(req)?;
        classify(resp, what, self.now_ms)
    }
}

/// The path of a call in the Copilot web app (for URLs built without `call_review_page_url`).
pub fn call_url(id: &str) -> String {
    format!("https://copilot.clari.com/call/{}", encode_component(id))
}

/// `Ok` for 2xx; otherwise the connector error the status means.
pub fn classify(resp: Response, what: &str, now_ms: i64) -> Result<Response, Error> {
    let status = resp.status;
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let clari_message = error_message(&resp.body);
    let detail = clari_message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Err(match status {
        401 | 403 => Error::config(format!(
            "{what} was refused (HTTP {status}{detail}); {CREDENTIALS_HINT}"
        )),
        404 | 410 => Error::not_found(format!("{what} answered HTTP {status}{detail}")),
        408 | 429 | 500..=599 => Error::transient_after(
            format!("{what} answered HTTP {status}{detail}; retry later"),
            retry_after_ms(&resp, now_ms),
        ),
        400 => Error::system(format!(
            "{what} was rejected by Clari as a bad request (HTTP 400): {}",
            clari_message.unwrap_or_else(|| "no errorMessage given".into())
        )),
        _ => Error::system(format!(
            "{what} answered an unexpected HTTP {status}{detail}"
        )),
    })
}

/// Clari's `errorMessage` (or an AWS gateway `message`), else a short excerpt of the body.
fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for key in ["errorMessage", "message", "error"] {
            if let Some(Value::String(m)) = v.get(key)
                && !m.trim().is_empty()
            {
                return Some(m.trim().to_string());
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        None
    } else {
        Some(text.chars().take(200).collect())
    }
}

/// `Retry-After` in milliseconds: delta-seconds, or an HTTP-date relative to `now_ms`.
fn retry_after_ms(resp: &Response, now_ms: i64) -> Option<u64> {
    let raw = resp.header("retry-after")?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64);
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw)
        .ok()?
        .timestamp_millis();
    Some(u64::try_from(at.saturating_sub(now_ms)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Canned {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        seen: RefCell<Vec<String>>,
    }

    impl Transport for Canned {
        fn send(&self, request: &Request) -> Result<Response, Error> {
            self.seen.borrow_mut().push(request.path_and_query());
            Ok(Response::from_parts(
                self.status,
                self.headers.clone(),
                self.body.clone().into_bytes(),
            ))
        }
    }

    fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> Canned {
        Canned {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
            seen: RefCell::new(Vec::new()),
        }
    }

    #[test]
    fn list_calls_query_is_strict_and_encoded() {
        let t = canned(
            200,
            &[],
            r#"{"calls":[],"pagination":{"matched":0,"hasMore":false}}"#,
        );
        let q = CallsQuery {
            clock: Clock::CallTime,
            from: 1_749_651_900_000,
            to: 1_749_651_960_000,
            include_private: true,
            skip: 50,
            limit: 25,
        };
        Client::new(&t, 0).list_calls(&q).unwrap();
        assert_eq!(
            t.seen.borrow()[0],
            "/calls?filterTimeGt=2025-06-11T14%3A24%3A59.999Z&filterTimeLt=2025-06-11T14%3A26%3A00.000Z&sortTime=asc&includePrivate=true&includePagination=true&skip=50&limit=25"
        );
        let q = CallsQuery {
            clock: Clock::Modified,
            include_private: false,
            ..q
        };
        Client::new(&t, 0).list_calls(&q).unwrap();
        assert!(t.seen.borrow()[1].starts_with("/calls?filterModifiedGt="));
        assert!(t.seen.borrow()[1].contains("&sortProcessed=asc&includePrivate=false&"));
    }

    #[test]
    fn call_details_encodes_the_id_and_unwraps() {
        let t = canned(200, &[], r#"{"call":{"id":"a b"}}"#);
        let call = Client::new(&t, 0).call_details("a b/c").unwrap();
        assert_eq!(call["id"], "a b");
        assert_eq!(t.seen.borrow()[0], "/call-details?id=a%20b%2Fc");
        let t = canned(200, &[], r#"{"notcall":{}}"#);
        let e = Client::new(&t, 0).call_details("x1").unwrap_err();
        assert!(
            matches!(&e, Error::System(m) if m.contains("x1") && m.contains("`call`")),
            "{e:?}"
        );
    }

    #[test]
    fn a_listing_without_calls_is_a_system_error_not_an_empty_page() {
        let t = canned(200, &[], r#"{"pagination":{"matched":0}}"#);
        let q = CallsQuery {
            clock: Clock::CallTime,
            from: 0,
            to: 1,
            include_private: true,
            skip: 0,
            limit: 25,
        };
        assert!(matches!(
            Client::new(&t, 0).list_calls(&q),
            Err(Error::System(_))
        ));
        let t = canned(200, &[], "<html>");
        assert!(matches!(
            Client::new(&t, 0).list_calls(&q),
            Err(Error::System(_))
        ));
    }

    #[test]
    fn statuses_map_to_categories() {
        let c = |status, headers: &[(&str, &str)], body: &str| {
            let t = canned(status, headers, body);
            Client::new(&t, 1_000_000).users().unwrap_err()
        };
        for status in [401, 403] {
            match c(
                status,
                &[],
                r#"{"errorMessage":"Credentials not provided!"}"#,
            ) {
                Error::Config(m) => {
                    assert!(m.contains(CREDENTIALS_HINT), "{m}");
                    assert!(m.contains("Credentials not provided!"), "{m}");
                }
                e => panic!("{status}: {e:?}"),
            }
        }
        assert!(matches!(c(404, &[], ""), Error::NotFound(_)));
        assert_eq!(
            c(
                429,
                &[("Retry-After", "3")],
                r#"{"message":"Too Many Requests"}"#
            ),
            Error::transient_after(
                "GET /users answered HTTP 429: Too Many Requests; retry later",
                Some(3000)
            )
        );
        assert!(matches!(
            c(502, &[], ""),
            Error::Transient {
                retry_after_ms: None,
                ..
            }
        ));
        assert!(matches!(c(504, &[], ""), Error::Transient { .. }));
        assert!(matches!(c(500, &[], ""), Error::Transient { .. }));
        // An HTTP-date 5 s after "now" (1970-01-01T00:16:40Z).
        assert!(matches!(
            c(503, &[("retry-after", "Thu, 01 Jan 1970 00:16:45 GMT")], ""),
            Error::Transient {
                retry_after_ms: Some(5000),
                ..
            }
        ));
        match c(400, &[], r#"{"errorMessage":"invalid skip"}"#) {
            Error::System(m) => assert!(m.ends_with("invalid skip"), "{m}"),
            e => panic!("{e:?}"),
        }
        assert!(matches!(c(418, &[], ""), Error::System(_)));
    }

    #[test]
    fn transport_errors_pass_through() {
        struct Down;
        impl Transport for Down {
            fn send(&self, _: &Request) -> Result<Response, Error> {
                Err(Error::transient("timed out: no answer in 30 s"))
            }
        }
        assert!(matches!(
            Client::new(&Down, 0).users(),
            Err(Error::Transient { .. })
        ));
    }

    #[test]
    fn urls_are_encoded() {
        assert_eq!(
            call_url("7549847e-4e97"),
            "https://copilot.clari.com/call/7549847e-4e97"
        );
        assert_eq!(
            call_url("a/b?c"),
            "https://copilot.clari.com/call/a%2Fb%3Fc"
        );
    }
}
