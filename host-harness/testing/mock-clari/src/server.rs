//! HTTP routes: the public API behind both auth headers (checked before routing, so unknown
//! paths answer 401 too), faults (latency, rate limit, weekly quota, random 5xx, size cap,
//! malformed bodies), and the `/_mock` control routes, which need no auth.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::extra;
use crate::query::{CallsQuery, pairs};
use crate::{Control, NewCall, Shared};

const JSON: &str = "application/json";

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({"errorMessage": text}).to_string())
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_mock/calls", get(mock_calls).post(mock_add_call))
        .route("/_mock/calls/{id}/status", post(mock_status))
        .route("/_mock/calls/{id}/title", post(mock_title))
        .route("/_mock/calls/{id}/privacy", post(mock_privacy))
        .route("/_mock/calls/{id}/deal", post(mock_deal))
        .route("/_mock/calls/{id}", axum::routing::delete(mock_delete))
        .route("/_mock/reset", post(mock_reset))
        .route("/_mock/stats", get(mock_stats))
        .fallback(api)
        .with_state(shared)
}

/// Sets the routing thread's tenant workspace for one request, and clears it after.
struct TenantScope;

impl TenantScope {
    fn enter(tenant: Option<u32>) -> Self {
        crate::CURRENT_TENANT.with(|c| c.set(tenant));
        TenantScope
    }
}

impl Drop for TenantScope {
    fn drop(&mut self) {
        crate::CURRENT_TENANT.with(|c| c.set(None));
    }
}

/// Every public path, in the order a gateway runs it: auth, throttle, the backend's faults,
/// routing, the response cap.
async fn api(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let password = headers.get("x-api-password").and_then(|v| v.to_str().ok());
    let (Some(key), Some(password)) = (key, password) else {
        return message(
            StatusCode::UNAUTHORIZED,
            "Credentials not provided!, see documentation: https://api-doc.copilot.clari.com",
        );
    };
    let faults = s.control.faults();
    let tenant = s.control.workspace_for(key);
    if tenant.is_none() || password != s.config.api_password {
        let status = StatusCode::from_u16(faults.wrong_credentials_status)
            .unwrap_or(StatusCode::UNAUTHORIZED);
        return message(
            status,
            "Invalid credentials: check the API key and password in Workspace Settings > Integrations > Clari Copilot API",
        );
    }
    // The gateway throttles on arrival; the backend's latency comes after.
    if let Some(r) = s.control.admit(&faults) {
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": r}).to_string(),
        );
        if let Some(secs) = faults.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        return response;
    }
    if let Some(r) = backend_fault(&s, &faults, uri.path(), q.as_deref().unwrap_or_default()).await
    {
        return r;
    }
    // Route on the workspace the key selects (no await from here to the answer).
    let _tenant = TenantScope::enter(tenant.flatten());
    let raw = q.unwrap_or_default();
    let result = route(&s, &method, uri.path(), &raw);
    match result {
        // The AWS gateway in front of Clari answers 502 above its response cap.
        Ok(body)
            if faults
                .max_response_bytes
                .is_some_and(|cap| body.len() > cap) =>
        {
            json_response(
                StatusCode::BAD_GATEWAY,
                json!({"message": "Internal server error"}).to_string(),
            )
        }
        Ok(body) => json_response(StatusCode::OK, body),
        Err(r) => r,
    }
}

/// The backend's faults after the gateway let a request through: a scripted failure, added
/// latency, a slow answer, a random 5xx.
async fn backend_fault(
    s: &Shared,
    faults: &crate::Faults,
    path: &str,
    query: &str,
) -> Option<Response> {
    if let Some((status, retry_after)) = s.control.scripted_failure(path, query) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = json_response(
            status,
            json!({"message": status.canonical_reason().unwrap_or("Error")}).to_string(),
        );
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        return Some(response);
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.slow_share > 0.0
        && s.control.roll() < faults.slow_share
        && !s.config.clock.elapse(faults.slow_by)
    {
        tokio::time::sleep(faults.slow_by).await;
    }
    if faults.error_rate > 0.0 && s.control.roll() < faults.error_rate {
        let status = *[
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::GATEWAY_TIMEOUT,
        ]
        .get((s.control.roll() * 3.0) as usize % 3)
        .unwrap_or(&StatusCode::BAD_GATEWAY);
        return Some(json_response(
            status,
            json!({"message": "Internal server error"}).to_string(),
        ));
    }
    None
}

/// The answer of the API for `path` (a workspace already selected).
fn route(s: &Shared, method: &Method, path: &str, raw: &str) -> Result<String, Response> {
    if *method != Method::GET {
        Err(message(StatusCode::NOT_FOUND, "Not found"))
    } else {
        match path {
            "/calls" => calls(&s.control, raw),
            "/call-details" => call_details(&s.control, raw),
            "/users" => Ok(json!({"users": s.control.with(|w| w.users.iter().filter(|u| s.control.user_listed(&u.email)).map(|u| u.json()).collect::<Vec<_>>())}).to_string()),
            "/topics" => Ok(s.control.with(extra::topics).to_string()),
            "/v2/topics" => Ok(s.control.with(extra::topics_v2).to_string()),
            "/scorecard" => s
                .control
                .with(|w| extra::scorecards(w, raw))
                .map(|v| v.to_string())
                .map_err(|m| message(StatusCode::BAD_REQUEST, &m)),
            "/scorecard-template" => Ok(extra::scorecard_templates().to_string()),
            "/get-account" => lookup(s.control.with(|w| extra::account(w, raw))),
            "/get-contact" => lookup(s.control.with(|w| extra::contact(w, raw))),
            "/get-deal" => lookup(s.control.with(|w| extra::deal(w, raw))),
            _ => Err(message(StatusCode::NOT_FOUND, "Not found")),
        }
    }
}

fn lookup(found: extra::Lookup) -> Result<String, Response> {
    match found {
        Ok(Some(v)) => Ok(v.to_string()),
        Ok(None) => Err(message(StatusCode::NOT_FOUND, "Not found")),
        Err(m) => Err(message(StatusCode::BAD_REQUEST, &m)),
    }
}

fn calls(control: &Control, raw: &str) -> Result<String, Response> {
    let q = CallsQuery::parse(raw).map_err(|m| message(StatusCode::BAD_REQUEST, &m))?;
    let now = control.now();
    let body = control.with(|w| {
        let mut matched: Vec<&crate::model::Call> = w
            .calls
            .iter()
            .filter(|c| q.include_private || !c.private)
            .filter(|c| q.status.is_empty() || q.status.contains(&c.status))
            .filter(|c| q.types.is_empty() || q.types.contains(&c.call_type))
            .filter(|c| {
                q.source_ids.is_empty()
                    || c.source_id
                        .as_ref()
                        .is_some_and(|s| q.source_ids.contains(s))
            })
            .filter(|c| q.topics.is_empty() || c.topics.iter().any(|t| q.topics.contains(t)))
            .filter(|c| {
                q.users.is_empty()
                    || c.user_emails(&w.users)
                        .iter()
                        .any(|e| q.users.contains(&e.to_lowercase()))
            })
            .filter(|c| {
                q.attendees.is_empty()
                    || c.external
                        .iter()
                        .filter_map(|p| p.email.as_ref())
                        .any(|e| q.attendees.contains(&e.to_lowercase()))
            })
            .filter(|c| {
                q.time_gt.is_none_or(|t| c.time > t) && q.time_lt.is_none_or(|t| c.time < t)
            })
            .filter(|c| {
                q.modified_gt.is_none_or(|t| c.last_modified > t)
                    && q.modified_lt.is_none_or(|t| c.last_modified < t)
            })
            .filter(|c| {
                q.duration_gt.is_none_or(|d| c.duration > d)
                    && q.duration_lt.is_none_or(|d| c.duration < d)
            })
            .collect();
        match (q.sort_processed, q.sort_time) {
            (Some(asc), _) => matched.sort_by(|a, b| {
                let o = a
                    .last_modified
                    .cmp(&b.last_modified)
                    .then_with(|| a.id.cmp(&b.id));
                if asc { o } else { o.reverse() }
            }),
            (None, Some(asc)) => matched.sort_by(|a, b| {
                let o = a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id));
                if asc { o } else { o.reverse() }
            }),
            // The default order: stable, newest first.
            (None, None) => {
                matched.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id)))
            }
        }
        let total = matched.len();
        let page: Vec<Value> = matched
            .iter()
            .skip(q.skip)
            .take(q.limit)
            .map(|c| c.list_json(&w.users, (q.include_audio, q.include_video), now))
            .collect();
        let mut body = json!({"calls": page});
        if q.include_pagination {
            let next = q.skip + page.len();
            let has_more = next < total;
            let mut p = json!({"matched": total, "hasMore": has_more});
            if has_more {
                p["nextPageSkip"] = json!(next);
            }
            body["pagination"] = p;
        }
        body.to_string()
    });
    Ok(body)
}

fn call_details(control: &Control, raw: &str) -> Result<String, Response> {
    let id = pairs(raw)
        .into_iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            message(
                StatusCode::BAD_REQUEST,
                "The query parameter 'id' is required",
            )
        })?;
    if control.faults().malformed_call_ids.contains(&id) {
        return Ok(format!("{{\"call\": {{\"id\": \"{id}\", \"title\": "));
    }
    let now = control.now();
    control
        .with(|w| {
            w.calls
                .iter()
                .find(|c| c.id == id)
                .map(|c| json!({"call": c.details_json(&w.users, now)}).to_string())
        })
        .ok_or_else(|| message(StatusCode::NOT_FOUND, &format!("Call not found: {id}")))
}

async fn mock_calls(State(s): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_string(&s.control.calls()).unwrap_or_default(),
    )
}

async fn mock_add_call(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec: NewCall = if body.is_empty() {
        NewCall::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return message(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
        }
    };
    let id = s.control.add_call(spec);
    json_response(StatusCode::OK, json!({"id": id}).to_string())
}

fn body_field(body: &Bytes, field: &str) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| message(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))?;
    v.get(field).cloned().ok_or_else(|| {
        message(
            StatusCode::BAD_REQUEST,
            &format!("the body needs `{field}`"),
        )
    })
}

fn done(r: anyhow::Result<()>) -> Response {
    match r {
        Ok(()) => json_response(StatusCode::OK, "{}".into()),
        Err(e) => message(StatusCode::NOT_FOUND, &e.to_string()),
    }
}

async fn mock_status(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match body_field(&body, "status") {
        Ok(v) => done(s.control.set_status(&id, v.as_str().unwrap_or_default())),
        Err(r) => r,
    }
}

async fn mock_title(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    match body_field(&body, "title") {
        Ok(v) => done(s.control.set_title(&id, v.as_str().unwrap_or_default())),
        Err(r) => r,
    }
}

async fn mock_privacy(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match body_field(&body, "private") {
        Ok(v) => done(s.control.set_private(&id, v.as_bool().unwrap_or(false))),
        Err(r) => r,
    }
}

async fn mock_deal(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    match body_field(&body, "deal_name") {
        Ok(v) => done(s.control.set_deal(&id, v.as_str())),
        Err(r) => r,
    }
}

async fn mock_delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    done(s.control.delete_call(&id))
}

async fn mock_reset(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let seed = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("seed").and_then(Value::as_u64))
        .unwrap_or(s.config.seed);
    s.control.reset(seed);
    json_response(StatusCode::OK, "{}".into())
}

async fn mock_stats(State(s): State<Arc<Shared>>) -> Response {
    json_response(
        StatusCode::OK,
        json!({"requests": s.control.request_count()}).to_string(),
    )
}
