//! HTTP routes: Basic auth before routing (401 on any path), the limits (429 with
//! `Retry-After`), faults, the API's routes, and the `/_mock` control routes (no auth).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::cursor::{self, Claims};
use crate::model::{Call, Workspace};
use crate::{Control, NewCall, Shared, wire};

const JSON: &str = "application/json;charset=UTF-8";
const EMPTY_CALLS: &str = "No calls found corresponding to the provided filters";
const EMPTY_USERS: &str = "No users found corresponding to the provided filters";

/// An API failure: status and Gong's error text.
type Failure = (StatusCode, String);

/// A filter's window: inclusive start, exclusive end.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn fail(status: StatusCode, text: impl Into<String>) -> Failure {
    (status, text.into())
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_mock/stats", get(mock_stats))
        .route("/_mock/calls", get(mock_calls).post(mock_add))
        .route("/_mock/calls/{id}/title", post(mock_title))
        .route("/_mock/calls/{id}/privacy", post(mock_privacy))
        .route("/_mock/calls/{id}", delete(mock_delete))
        .fallback(api)
        .with_state(shared)
}

/// A request id as Gong's: 19 characters (also sent as `x-traceid`).
fn request_id(control: &Control) -> String {
    let n = (control.roll() * 1e15) as u64 ^ control.request_count().wrapping_mul(0x9E37_79B9);
    format!("{:019}", n % 10_000_000_000_000_000_000u64)
        .chars()
        .take(19)
        .collect()
}

fn answer(status: StatusCode, id: &str, body: &Value) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-traceid", v);
    }
    r.headers_mut().insert(
        "x-gong-service-version",
        HeaderValue::from_static("PublicApiServer:17.mock"),
    );
    r
}

fn error(status: StatusCode, id: &str, text: &str) -> Response {
    answer(status, id, &wire::error(id, text))
}

/// `(access key, secret)` from `Authorization: Basic …`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (key, secret) = text.split_once(':')?;
    Some((key.to_string(), secret.to_string()))
}

/// Every API path, in the order Gong's edge runs it: auth, limits, faults, routing.
async fn api(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let id = request_id(&s.control);
    let company = basic_credentials(&headers).and_then(|(key, secret)| {
        (secret == s.config.access_key_secret)
            .then(|| s.control.company_for(&key))
            .flatten()
    });
    let Some(company) = company else {
        return error(
            StatusCode::UNAUTHORIZED,
            &id,
            "Access denied: check the access key and its secret",
        );
    };
    let faults = s.control.faults();
    if let Some((retry_after, text)) = s.control.admit(uri.path(), &faults) {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, &id, text);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return r;
    }
    if let Some(r) = fault(&s, &faults, uri.path(), &id).await {
        return r;
    }
    crate::CURRENT_TENANT.with(|c| c.set(company));
    let result = route(
        &s,
        &method,
        uri.path(),
        q.as_deref().unwrap_or_default(),
        &body,
    );
    crate::CURRENT_TENANT.with(|c| c.set(None));
    match result {
        Ok(mut v) => {
            if let Some(m) = v.as_object_mut() {
                m.insert("requestId".into(), json!(id));
            }
            answer(StatusCode::OK, &id, &v)
        }
        Err((status, text)) => error(status, &id, &text),
    }
}

async fn fault(s: &Shared, faults: &crate::Faults, path: &str, id: &str) -> Option<Response> {
    if let Some((status, retry_after)) = s.control.scripted_failure(path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut r = error(status, id, status.canonical_reason().unwrap_or("Error"));
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return Some(r);
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.error_rate > 0.0 && s.control.roll() < faults.error_rate {
        let pick = (s.control.roll() * 3.0) as usize % 3;
        let status = [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ][pick];
        return Some(error(status, id, "Internal server error"));
    }
    None
}

fn route(
    s: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<Value, Failure> {
    let c = &s.control;
    match (method.as_str(), path) {
        ("GET", "/v2/calls") => list_calls(c, query),
        ("POST", "/v2/calls/extensive") => extensive(c, body),
        ("POST", "/v2/calls/transcript") => transcripts(c, body),
        ("GET", "/v2/users") => users(c, query),
        ("GET", "/v2/workspaces") => Ok(c.with(|w| json!({"workspaces": [{"id": w.workspace_id, "name": w.workspace_name, "description": "The built-in workspace"}]}))),
        ("GET", p) if p.starts_with("/v2/calls/") => call_by_id(c, &p["/v2/calls/".len()..]),
        ("GET", p) if p.starts_with("/v2/users/") => user_by_id(c, &p["/v2/users/".len()..]),
        _ => Err(fail(StatusCode::NOT_FOUND, "Not found")),
    }
}

/// The query's pairs, decoded.
fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn date_param(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, Failure> {
    raw.map(|r| {
        DateTime::parse_from_rfc3339(r)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                fail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{name}: must be an ISO-8601 date-time such as 2026-02-18T02:30:00-07:00"
                    ),
                )
            })
    })
    .transpose()
}

/// The inclusive-from, exclusive-to window of a filter, refused when out of order.
fn window(from: Option<&str>, to: Option<&str>, prefix: &str) -> Result<Window, Failure> {
    let from_t = date_param(&format!("{prefix}fromDateTime"), from)?;
    let to_t = date_param(&format!("{prefix}toDateTime"), to)?;
    if let (Some(f), Some(t)) = (from_t, to_t)
        && f >= t
    {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{prefix}fromDateTime: must be before toDateTime"),
        ));
    }
    Ok((from_t, to_t))
}

fn within(t: DateTime<Utc>, w: Window) -> bool {
    w.0.is_none_or(|f| t >= f) && w.1.is_none_or(|e| t < e)
}

/// One page of `total` results: its index range, `records`, or the cursor's refusal.
fn page(
    c: &Control,
    request: &str,
    total: usize,
    cursor_raw: Option<&str>,
) -> Result<(std::ops::Range<usize>, Value), Failure> {
    let size = c.faults().page_size.max(1);
    let now = c.now().timestamp();
    let (number, exp) = match cursor_raw {
        Some(raw) => {
            let claims = cursor::check(raw, c.cursor_key(), request, now)
                .map_err(|e| fail(StatusCode::BAD_REQUEST, e.text()))?;
            (claims.page_number, claims.exp)
        }
        None => (0, now + c.faults().cursor_ttl.as_secs() as i64),
    };
    let start = number.saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    let next = (end < total).then(|| {
        let claims = Claims {
            request: request.to_string(),
            page_number: number + 1,
            page_size: size,
            total,
            exp,
        };
        cursor::issue(&claims, c.cursor_key())
    });
    Ok((start..end, wire::records(total, end - start, number, next)))
}

/// The date `GET /v2/calls` matches: scheduled for conferences, otherwise the start.
fn listing_time(call: &Call) -> DateTime<Utc> {
    if call.direction == "Conference" {
        call.scheduled
    } else {
        call.started
    }
}

fn list_calls(c: &Control, query: &str) -> Result<Value, Failure> {
    let q = pairs(query);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let w = window(get("fromDateTime"), get("toDateTime"), "")?;
    let workspace = get("workspaceId").map(str::to_string);
    let request = cursor::request_digest(
        "GET /v2/calls",
        &format!("{:?}{:?}{:?}", w.0, w.1, workspace),
    );
    let extra = c.faults().extra_fields;
    c.with(|ws| {
        let matched: Vec<&Call> = calls_sorted(ws, |call| {
            within(listing_time(call), w)
                && workspace.as_ref().is_none_or(|x| *x == call.workspace_id)
        });
        if matched.is_empty() {
            return Err(fail(StatusCode::NOT_FOUND, EMPTY_CALLS));
        }
        let (range, records) = page(c, &request, matched.len(), get("cursor"))?;
        let calls: Vec<Value> = matched[range]
            .iter()
            .map(|call| with_extra(wire::basic(call), extra))
            .collect();
        Ok(json!({"records": records, "calls": calls}))
    })
}

fn calls_sorted(ws: &Workspace, keep: impl Fn(&Call) -> bool) -> Vec<&Call> {
    let mut v: Vec<&Call> = ws.calls.iter().filter(|c| keep(c)).collect();
    v.sort_by(|a, b| {
        listing_time(a)
            .cmp(&listing_time(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    v
}

fn with_extra(mut v: Value, extra: bool) -> Value {
    if extra && let Some(m) = v.as_object_mut() {
        m.insert(
            "gongInsightsV3".into(),
            json!({"experimental": true, "score": 0.42}),
        );
    }
    v
}

/// A POST read's filter: dates on the start time, call ids, hosts, workspace.
struct PostFilter {
    window: Window,
    call_ids: Option<Vec<String>>,
    hosts: Option<Vec<String>>,
    workspace: Option<String>,
}

impl PostFilter {
    fn parse(filter: &Value) -> Result<PostFilter, Failure> {
        let s = |k: &str| filter.get(k).and_then(Value::as_str);
        let list = |k: &str| -> Result<Option<Vec<String>>, Failure> {
            match filter.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| {
                            fail(
                                StatusCode::BAD_REQUEST,
                                format!("filter.{k}: must be a list of strings"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!("filter.{k}: must be a list of strings"),
                )),
            }
        };
        Ok(PostFilter {
            window: window(s("fromDateTime"), s("toDateTime"), "filter.")?,
            call_ids: list("callIds")?,
            hosts: list("primaryUserIds")?,
            workspace: s("workspaceId").map(str::to_string),
        })
    }

    fn keeps(&self, call: &Call) -> bool {
        within(call.started, self.window)
            && self
                .call_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&call.id))
            && self
                .hosts
                .as_ref()
                .is_none_or(|h| h.contains(&call.primary_user_id))
            && self
                .workspace
                .as_ref()
                .is_none_or(|w| *w == call.workspace_id)
    }
}

/// The JSON body of a POST read, its filter, and the cursor in the body (a cursor in the query
/// string is not looked at).
fn post_body(
    body: &[u8],
    filter_required: bool,
) -> Result<(Value, PostFilter, Option<String>), Failure> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        fail(
            StatusCode::BAD_REQUEST,
            "Bad request: the body must be JSON",
        )
    })?;
    let filter = match v.get("filter") {
        Some(f @ Value::Object(_)) => f.clone(),
        None | Some(Value::Null) if !filter_required => json!({}),
        _ => return Err(fail(StatusCode::BAD_REQUEST, "filter: must not be null")),
    };
    let parsed = PostFilter::parse(&filter)?;
    let cursor = v.get("cursor").and_then(Value::as_str).map(str::to_string);
    Ok((v, parsed, cursor))
}

fn extensive(c: &Control, body: &[u8]) -> Result<Value, Failure> {
    let (v, filter, cursor_raw) = post_body(body, true)?;
    let selector = wire::Selector::parse(v.get("contentSelector"))
        .map_err(|m| fail(StatusCode::BAD_REQUEST, m))?;
    let request = cursor::request_digest(
        "POST /v2/calls/extensive",
        &format!("{}{}", v["filter"], v["contentSelector"]),
    );
    let extra = c.faults().extra_fields;
    c.with(|ws| {
        let mut matched: Vec<&Call> = ws.calls.iter().filter(|x| filter.keeps(x)).collect();
        matched.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
        if matched.is_empty() {
            return Err(fail(StatusCode::NOT_FOUND, EMPTY_CALLS));
        }
        let (range, records) = page(c, &request, matched.len(), cursor_raw.as_deref())?;
        let calls: Vec<Value> = matched[range]
            .iter()
            .map(|call| {
                let mut data = wire::extensive(call, &selector);
                if let Some(meta) = data.get_mut("metaData") {
                    *meta = with_extra(meta.take(), extra);
                }
                data
            })
            .collect();
        Ok(json!({"records": records, "calls": calls}))
    })
}

fn transcripts(c: &Control, body: &[u8]) -> Result<Value, Failure> {
    let (v, filter, cursor_raw) = post_body(body, false)?;
    let request = cursor::request_digest("POST /v2/calls/transcript", &v["filter"].to_string());
    c.with(|ws| {
        let mut matched: Vec<&Call> = ws
            .calls
            .iter()
            .filter(|x| !x.transcript.is_empty() && filter.keeps(x))
            .collect();
        matched.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
        if matched.is_empty() {
            return Err(fail(StatusCode::NOT_FOUND, EMPTY_CALLS));
        }
        let (range, records) = page(c, &request, matched.len(), cursor_raw.as_deref())?;
        let list: Vec<Value> = matched[range]
            .iter()
            .map(|call| wire::transcript(call))
            .collect();
        Ok(json!({"records": records, "callTranscripts": list}))
    })
}

fn call_by_id(c: &Control, id: &str) -> Result<Value, Failure> {
    c.with(|ws| match ws.call(id) {
        Some(call) => Ok(json!({"call": wire::basic(call)})),
        None => Err(fail(
            StatusCode::NOT_FOUND,
            format!("Call ID {id} was not found"),
        )),
    })
}

fn users(c: &Control, query: &str) -> Result<Value, Failure> {
    let q = pairs(query);
    let cursor_raw = q
        .iter()
        .find(|(n, _)| n == "cursor")
        .map(|(_, v)| v.clone());
    let request = cursor::request_digest("GET /v2/users", "");
    c.with(|ws| {
        let listed: Vec<_> = ws
            .users
            .iter()
            .filter(|u| c.user_listed(&u.email))
            .collect();
        if listed.is_empty() {
            return Err(fail(StatusCode::NOT_FOUND, EMPTY_USERS));
        }
        let (range, records) = page(c, &request, listed.len(), cursor_raw.as_deref())?;
        let users: Vec<Value> = listed[range].iter().map(|u| wire::user(u)).collect();
        Ok(json!({"records": records, "users": users}))
    })
}

fn user_by_id(c: &Control, id: &str) -> Result<Value, Failure> {
    c.with(|ws| match ws.user(id).filter(|u| c.user_listed(&u.email)) {
        Some(u) => Ok(json!({"user": wire::user(u)})),
        None => Err(fail(StatusCode::NOT_FOUND, "User not found")),
    })
}

// ---- the /_mock control routes (no auth) ----

async fn mock_stats(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.control;
    axum::Json(json!({
        "requests": c.request_count(),
        "throttled": c.throttled_count(),
        "byPath": c.requests_by_path(),
        "calls": c.calls().len(),
        "now": c.now().to_rfc3339(),
    }))
    .into_response()
}

async fn mock_calls(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.control.calls()).into_response()
}

async fn mock_add(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec: NewCall = if body.is_empty() {
        NewCall::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad call spec: {e}")).into_response();
            }
        }
    };
    axum::Json(json!({"id": s.control.add_call(spec)})).into_response()
}

async fn mock_title(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    done(s.control.set_title(&id, body.trim()))
}

async fn mock_privacy(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let private = match body.trim() {
        "true" => Some(true),
        "false" => Some(false),
        "null" => None,
        _ => return (StatusCode::BAD_REQUEST, "send true, false or null").into_response(),
    };
    done(s.control.set_private(&id, private))
}

async fn mock_delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    done(s.control.delete_call(&id))
}

fn done(r: anyhow::Result<()>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}
