//! Typed HTTP over the host's policed `http` import: request building with query encoding,
//! status-to-error mapping, and JSON decoding with context in the error.
//!
//! Connector logic takes a `&dyn Transport`, so it runs natively in tests against a fake
//! transport and inside a component against [`HostTransport`].

use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::connector::platform::http as wit;

pub use wit::Method;

/// An outbound request to a named upstream. Built with [`Request::get`] / [`Request::new`]
/// and the builder methods (the fields can be read; new ones may be added).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    pub upstream: String,
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A GET of `path` (starting with "/") on `upstream`.
    pub fn get(upstream: &str, path: &str) -> Self {
        Request::new(Method::Get, upstream, path)
    }

    /// A POST of `body` as JSON to `path` on `upstream`.
    pub fn post_json(upstream: &str, path: &str, body: &serde_json::Value) -> Self {
        Request::new(Method::Post, upstream, path)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
    }

    /// A `method` request of `path` (starting with "/") on `upstream`.
    pub fn new(method: Method, upstream: &str, path: &str) -> Self {
        Request {
            upstream: upstream.to_string(),
            method,
            path: path.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Appends `key=value` to the query string (repeat the call for repeated keys).
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Appends `key=value` when `value` is `Some`.
    pub fn query_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// The path with its percent-encoded query string.
    pub fn path_and_query(&self) -> String {
        let mut out = self.path.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&encode_component(k));
            out.push('=');
            out.push_str(&encode_component(v));
        }
        out
    }

    /// A short description for error messages: "GET /calls".
    pub fn describe(&self) -> String {
        format!("{} {}", method_name(self.method), self.path)
    }
}

/// The method's name on the wire: "GET".
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
    }
}

/// An answer from an upstream (any status). Built with [`Response::new`] or
/// [`Response::of_json`] (the fields can be read; new ones may be added).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// An answer with `status` and `body`, no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An answer from its parts (a transport that got one over the wire).
    pub fn from_parts(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        Response {
            status,
            headers,
            body,
        }
    }

    /// A JSON answer (with its `content-type`).
    pub fn of_json(status: u16, body: &serde_json::Value) -> Self {
        Response::new(status, body.to_string()).with_header("content-type", "application/json")
    }

    /// The answer with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Ok(self)` for 2xx; otherwise the error category the status means, naming `what`.
    pub fn error_for_status(self, what: &str) -> Result<Self, Error> {
        let status = self.status;
        if (200..300).contains(&status) {
            return Ok(self);
        }
        let detail = self.body_excerpt();
        let msg = format!("{what} answered HTTP {status}{detail}");
        Err(match status {
            401 | 403 => Error::config(format!(
                "{msg}: the upstream refused the credentials; check the credentials configured for this upstream"
            )),
            404 | 410 => Error::not_found(msg),
            408 | 425 | 429 | 500..=599 => Error::transient_after(msg, self.retry_after_ms()),
            _ => Error::system(msg),
        })
    }

    /// `Retry-After` in milliseconds, as seconds or as an HTTP date (measured from the guest
    /// clock the host provides).
    pub fn retry_after_ms(&self) -> Option<u64> {
        let delay =
            crate::time::retry_after(self.header("retry-after")?, std::time::SystemTime::now())?;
        Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
    }

    /// Decodes the body as JSON; the error names `what` and where decoding failed.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::system(format!(
                "{what}: the answer is not the JSON expected ({e}); the source may have changed its format"
            ))
        })
    }

    fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        if text.is_empty() {
            return String::new();
        }
        let cut: String = text.chars().take(200).collect();
        format!(" ({cut})")
    }
}

/// Sends requests. Connector logic depends on this, not on the import, so it can be tested
/// natively.
pub trait Transport {
    fn send(&self, request: &Request) -> Result<Response, Error>;
}

/// The host's `http` import.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostTransport;

impl Transport for HostTransport {
    fn send(&self, request: &Request) -> Result<Response, Error> {
        send_via_host(request).map_err(|e| e.context(request.describe()))
    }
}

#[cfg(target_arch = "wasm32")]
fn send_via_host(request: &Request) -> Result<Response, Error> {
    let wire = wit::Request {
        upstream: request.upstream.clone(),
        method: request.method,
        path_and_query: request.path_and_query(),
        headers: request.headers.clone(),
        body: request.body.clone(),
    };
    match wit::send(&wire) {
        Ok(r) => Ok(Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(e) => Err(http_error(e)),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn send_via_host(_request: &Request) -> Result<Response, Error> {
    Err(Error::system(
        "the host `http` import exists only inside a component; natively, pass a test transport",
    ))
}

/// The error category of a host-side HTTP failure.
pub fn http_error(e: wit::HttpError) -> Error {
    match e {
        wit::HttpError::Denied(m) => Error::config(format!("the host refused the request: {m}")),
        wit::HttpError::Timeout(m) => Error::transient(format!("timed out: {m}")),
        wit::HttpError::Transport(m) => Error::transient(format!("connection failed: {m}")),
        wit::HttpError::TooLarge(cap) => Error::system(format!(
            "the answer was larger than the host's cap of {cap} bytes; ask for smaller pages or raise the cap"
        )),
        wit::HttpError::RateLimited(after) => Error::transient_after(
            "the host's request budget for this upstream is spent",
            after,
        ),
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Retry-After".into(), "3".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn builds_encoded_queries_with_repeated_keys() {
        let r = Request::get("clari", "/calls")
            .query("filterStatus", "POST_PROCESSING_DONE")
            .query("filterStatus", "PROCESSED")
            .query("filterTimeGt", "2025-01-01T00:00:00+00:00")
            .query_opt("skip", None::<u32>);
        assert_eq!(
            r.path_and_query(),
            "/calls?filterStatus=POST_PROCESSING_DONE&filterStatus=PROCESSED&filterTimeGt=2025-01-01T00%3A00%3A00%2B00%3A00"
        );
    }

    #[test]
    fn maps_statuses_to_categories() {
        assert!(matches!(
            resp(401, "").error_for_status("x"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            resp(404, "").error_for_status("x"),
            Err(Error::NotFound(_))
        ));
        assert_eq!(
            resp(429, "{}").error_for_status("x").unwrap_err(),
            Error::transient_after("x answered HTTP 429 ({})", Some(3000))
        );
        assert!(matches!(
            resp(502, "").error_for_status("x"),
            Err(Error::Transient { .. })
        ));
        assert!(
            matches!(resp(400, "bad").error_for_status("x"), Err(Error::System(m)) if m.contains("bad"))
        );
        assert!(resp(200, "").error_for_status("x").is_ok());
    }

    #[test]
    fn json_errors_carry_context() {
        let e = resp(200, "{\"a\":")
            .json::<serde_json::Value>("GET /calls")
            .unwrap_err();
        assert!(matches!(e, Error::System(m) if m.starts_with("GET /calls")));
    }
}
