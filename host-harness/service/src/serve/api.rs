//! The admin API of `harness serve`, over HTTP on loopback by default. Every route but the
//! probes needs `Authorization: Bearer <token>` (the token comes from an environment
//! variable). JSON in and out; clear errors.
//!
//! - `GET /healthz`, `GET /readyz` (open: Kubernetes probes carry no token; they say nothing
//!   secret. Ready means the first scan of the tenants ended and the scheduler loop is alive.)
//! - `GET /tenants`, `GET /tenants/{name}`
//! - `POST /tenants/{name}/crawl?mode=full|incremental`
//! - `POST /tenants/{name}/pause`, `POST /tenants/{name}/resume`
//! - `POST /tenants/{name}/approve-deletions`
//! - `GET /tenants/{name}/canary` (the last canary), `POST /tenants/{name}/canary?pages=N&share=S&promote=true`
//!   with a candidate component as the body (a live sample, see [`crate::canary::on_demand`])
//! - `GET /metrics` (Prometheus text format)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crawl_engine::types::CrawlMode;
use serde_json::json;

use super::Service;

#[derive(Clone)]
struct Api {
    service: Arc<Service>,
    token: Arc<str>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

async fn auth(State(api): State<Api>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = given.is_some_and(|g| same_secret(g, &api.token));
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "send the admin token as `Authorization: Bearer <token>`",
        );
    }
    next.run(req).await
}

/// The router, every route behind the token.
pub fn router(service: Arc<Service>, token: String) -> Router {
    let api = Api {
        service,
        token: Arc::from(token),
    };
    // The probes are open (liveness and readiness probes carry no token) and say nothing
    // secret; every other route needs the token.
    let probes = Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"ok": true})) }),
        )
        .route("/readyz", get(readyz));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/tenants", get(tenants))
        .route("/tenants/{name}", get(tenant))
        .route(
            "/tenants/{name}/canary",
            get(last_canary)
                .post(new_canary)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_CANDIDATE_BYTES)),
        )
        .route("/tenants/{name}/crawl", post(crawl))
        .route("/tenants/{name}/pause", post(pause))
        .route("/tenants/{name}/resume", post(resume))
        .route("/tenants/{name}/approve-deletions", post(approve))
        .layer(middleware::from_fn_with_state(api.clone(), auth))
        .merge(probes)
        .with_state(api)
}

async fn readyz(State(api): State<Api>) -> Response {
    match api.service.readiness() {
        Ok(()) => axum::Json(json!({"ready": true})).into_response(),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

async fn metrics(State(api): State<Api>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        api.service.metrics.encode(),
    )
        .into_response()
}

async fn tenants(State(api): State<Api>) -> Response {
    axum::Json(api.service.views()).into_response()
}

fn unknown(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("there is no tenant `{name}`; GET /tenants lists them"),
    )
}

async fn tenant(State(api): State<Api>, Path(name): Path<String>) -> Response {
    match api.service.view(&name) {
        Some(v) => axum::Json(v).into_response(),
        None => unknown(&name),
    }
}

/// The tenant's last canary (`harness canary` or `harness rollout`), as saved beside its state.
async fn last_canary(State(api): State<Api>, Path(name): Path<String>) -> Response {
    if api.service.view(&name).is_none() {
        return unknown(&name);
    }
    let Some(config) = api.service.tenant_config(&name) else {
        return error(
            StatusCode::CONFLICT,
            &format!("tenant `{name}` has no valid configuration; GET /tenants/{name} says why"),
        );
    };
    let loaded = tokio::task::spawn_blocking(move || crate::canary::saved::load(&config)).await;
    match loaded {
        Ok(Ok(Some(saved))) => axum::Json(saved).into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            &format!(
                "no canary has run for tenant `{name}`: run `harness canary` or `harness rollout` on its file"
            ),
        ),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the canary failed",
        ),
    }
}

/// The largest candidate component the admin API takes (the host's own limit for components).
const MAX_CANDIDATE_BYTES: usize = 64 * 1024 * 1024;

#[derive(serde::Deserialize)]
struct CanaryQuery {
    pages: Option<u64>,
    share: Option<f64>,
    promote: Option<bool>,
    /// The verdict's thresholds, as `harness canary`'s flags; each defaults as there.
    max_acl_changes: Option<usize>,
    allow_acl_widening: Option<bool>,
    max_removed: Option<usize>,
    max_changed_share: Option<f64>,
    allow_new_upstreams: Option<bool>,
    max_cpu_ratio: Option<f64>,
    max_memory_ratio: Option<f64>,
}

impl CanaryQuery {
    /// The thresholds asked for over the defaults, or what is wrong with them.
    fn thresholds(&self) -> Result<crate::canary::Thresholds, String> {
        let d = crate::canary::Thresholds::default();
        let t = crate::canary::Thresholds {
            max_acl_changes: self.max_acl_changes.unwrap_or(d.max_acl_changes),
            allow_acl_widening: self.allow_acl_widening.unwrap_or(d.allow_acl_widening),
            max_removed: self.max_removed.unwrap_or(d.max_removed),
            max_changed_share: self.max_changed_share.unwrap_or(d.max_changed_share),
            allow_new_upstreams: self.allow_new_upstreams.unwrap_or(d.allow_new_upstreams),
            max_cpu_ratio: self.max_cpu_ratio.unwrap_or(d.max_cpu_ratio),
            max_memory_ratio: self.max_memory_ratio.unwrap_or(d.max_memory_ratio),
        };
        let ratio_ok = |r: f64| r.is_finite() && r > 0.0;
        if !(0.0..=1.0).contains(&t.max_changed_share)
            || !ratio_ok(t.max_cpu_ratio)
            || !ratio_ok(t.max_memory_ratio)
        {
            return Err("max_changed_share is a share between 0 and 1, max_cpu_ratio and max_memory_ratio positive ratios".into());
        }
        Ok(t)
    }
}

/// A canary of the candidate in the body on a live sample of the tenant's source.
async fn new_canary(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<CanaryQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use crate::canary::on_demand::{self, Ask, Refusal};
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let candidate = match candidate_of(json, &body) {
        Ok(c) => c,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let ask = Ask {
        pages: q.pages.unwrap_or(1),
        share: q.share.unwrap_or(0.02),
        promote: q.promote.unwrap_or(false),
        thresholds: match q.thresholds() {
            Ok(t) => t,
            Err(m) => return error(StatusCode::BAD_REQUEST, &m),
        },
    };
    let service = api.service.clone();
    let ran =
        tokio::task::spawn_blocking(move || on_demand::run(&service, &name, &candidate, &ask))
            .await;
    match ran {
        Ok(Ok(saved)) => axum::Json(saved).into_response(),
        Ok(Err(Refusal::Unknown(n))) => unknown(&n),
        Ok(Err(Refusal::Conflict(m))) => error(StatusCode::CONFLICT, &m),
        Ok(Err(Refusal::Bad(m))) => error(StatusCode::BAD_REQUEST, &m),
        Ok(Err(Refusal::Failed(m))) => error(StatusCode::UNPROCESSABLE_ENTITY, &m),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the canary failed"),
    }
}

/// The candidate a canary request names: in a registry (a JSON body), or the body itself.
fn candidate_of(json: bool, body: &[u8]) -> Result<crate::canary::on_demand::Candidate, String> {
    use crate::canary::on_demand::Candidate;
    #[derive(serde::Deserialize)]
    struct FromRegistry {
        oci: String,
        digest: String,
    }
    if json {
        let r: FromRegistry = serde_json::from_slice(body).map_err(|e| {
            format!("a JSON body names a candidate in a registry: {{\"oci\": \"registry/repository:tag\", \"digest\": \"sha256:…\"}} ({e})")
        })?;
        return Ok(Candidate::Oci {
            reference: r.oci,
            digest: r.digest,
        });
    }
    if body.is_empty() {
        return Err("send the candidate component as the request body (Content-Type: application/wasm), or a JSON body naming it in a registry".into());
    }
    Ok(Candidate::Bytes(body.to_vec()))
}

#[derive(serde::Deserialize)]
struct CrawlQuery {
    mode: Option<String>,
}

async fn crawl(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<CrawlQuery>,
) -> Response {
    let mode = match q.mode.as_deref() {
        Some("full") | None => CrawlMode::Full,
        Some("incremental") => CrawlMode::Incremental,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("mode `{other}` is neither `full` nor `incremental`"),
            );
        }
    };
    match api.service.request_crawl(&name, mode) {
        Ok(accepted) => {
            let mut body = json!({"queued": mode.name(), "tenant": name});
            routed_to(&mut body, &accepted);
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(why) => refused(&name, why),
    }
}

async fn pause(State(api): State<Api>, Path(name): Path<String>) -> Response {
    action(api.service.pause(&name), &name, "paused")
}

async fn resume(State(api): State<Api>, Path(name): Path<String>) -> Response {
    action(api.service.resume(&name), &name, "resumed")
}

async fn approve(State(api): State<Api>, Path(name): Path<String>) -> Response {
    action(
        api.service.approve_deletions(&name),
        &name,
        "held deletions approved; a full crawl is queued to apply them",
    )
}

fn action(
    result: Result<super::Accepted, super::CrawlRefusal>,
    name: &str,
    done: &str,
) -> Response {
    match result {
        Ok(accepted) => {
            let mut body = json!({"tenant": name, "done": done});
            routed_to(&mut body, &accepted);
            axum::Json(body).into_response()
        }
        Err(why) => refused(name, why),
    }
}

/// With replicas, says that the action went through the database and to which holder.
fn routed_to(body: &mut serde_json::Value, accepted: &super::Accepted) {
    if let super::Accepted::Routed { holder } = accepted {
        body["routed"] =
            json!("through the state database, applied at the holder's next lease round");
        body["held_by"] = json!(holder);
    }
}

fn refused(name: &str, why: super::CrawlRefusal) -> Response {
    match why {
        super::CrawlRefusal::Unknown => unknown(name),
        super::CrawlRefusal::Backlog => error(StatusCode::SERVICE_UNAVAILABLE, &why.to_string()),
        _ => error(StatusCode::CONFLICT, &why.to_string()),
    }
}

/// The admin API with the web console beside it (when built with the `console` feature).
#[cfg(feature = "console")]
fn with_console(api: axum::Router, service: &Arc<Service>, token: String) -> axum::Router {
    api.merge(crate::console::router(service.clone(), Arc::from(token)))
}

/// The admin API alone: this build has no console.
#[cfg(not(feature = "console"))]
fn with_console(api: axum::Router, _: &Arc<Service>, _: String) -> axum::Router {
    api
}

/// Runs `service` with its admin API on `addr` until the service's stop flag is set; calls
/// `listening` with the bound address once the API accepts connections.
pub fn run_with_admin(
    service: &Arc<Service>,
    addr: SocketAddr,
    token: String,
    listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("could not listen on {addr}"))?;
    listening(listener.local_addr()?);
    let app = with_console(router(service.clone(), token.clone()), service, token);
    let stop = service.stop.clone();
    rt.spawn(async move {
        let shutdown = async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    });
    service.run();
    Ok(())
}

/// Compares without an early exit on the first differing byte.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
