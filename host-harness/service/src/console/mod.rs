//! The operators' web console, served by the harness itself under `/console` next to the
//! admin API: tenants (health, last and next crawl, budget, failures with what to do, held
//! deletions to approve, crawl history plotted as SVG), a search preview made as a chosen user
//! through Glean's search API with the reason each result is visible, and a call's page (the
//! document and permissions the index holds, when and why it was fetched, and its fields at
//! the source, fetched on request through the sandbox with secrets redacted).
//!
//! Server-rendered HTML (maud), no JavaScript needed, no CDN. Sign-in takes the admin token
//! once and sets an HttpOnly, SameSite=Strict session cookie; every action is a POST whose
//! form carries the session's CSRF token (and whose Origin, when sent, must be this host).
//! API clients may send `Authorization: Bearer <token>` instead.

pub mod advice;
pub mod chart;
pub mod format;
pub mod glean;
pub mod pages;
pub mod plot;
pub mod search;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use crawl_engine::types::CrawlMode;
use maud::Markup;

use crate::serve::Service;
use session::Sessions;

#[derive(Clone)]
pub struct Console {
    service: Arc<Service>,
    token: Arc<str>,
    sessions: Arc<Sessions>,
}

/// Who is asking: a signed-in browser (with its CSRF token) or an API client with the bearer
/// token (no ambient credentials, so no CSRF token needed).
#[derive(Clone)]
struct Caller {
    csrf: Option<String>,
}

fn html(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page.into_string(),
    )
        .into_response()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Console {
    fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|b| crate::serve::api::same_secret(b, &self.token)) {
            return Some(Caller { csrf: None });
        }
        let id = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(session::cookie_value)?;
        self.sessions.get(id).map(|s| Caller { csrf: Some(s.csrf) })
    }
}

/// Every console route but sign-in needs a session or the bearer token; an unknown caller
/// gets the sign-in page with 401.
async fn auth(State(c): State<Console>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/console/login" {
        return next.run(req).await;
    }
    let Some(caller) = c.caller(req.headers()) else {
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("Sign in with the admin token to use the console.")),
        );
    };
    if req.method() == axum::http::Method::POST && !same_origin(req.headers()) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message("Refused", "The request came from another site.", None),
        );
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// A POST's `Origin`, when the browser sends one, must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, h)| h.trim_end_matches('/') == host)
}

/// The router for `/console/...`.
pub fn router(service: Arc<Service>, token: Arc<str>) -> Router {
    let c = Console {
        service,
        token,
        sessions: Arc::new(Sessions::default()),
    };
    Router::new()
        .route("/console", get(tenants_page))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/search", get(search_page))
        .route("/console/tenants/{name}", get(tenant_page))
        .route("/console/tenants/{name}/{action}", post(tenant_action))
        .route("/console/tenants/{name}/calls/{id}", get(call_page))
        .route("/console/tenants/{name}/calls/{id}/fetch", post(call_fetch))
        .layer(middleware::from_fn_with_state(c.clone(), auth))
        .with_state(c)
}

async fn login_page() -> Response {
    html(StatusCode::OK, pages::login(None))
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(c): State<Console>, Form(f): Form<LoginForm>) -> Response {
    if !crate::serve::api::same_secret(f.token.trim(), &c.token) {
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("That is not the admin token.")),
        );
    }
    match c.sessions.open() {
        Ok((id, _)) => {
            let cookie = format!(
                "{}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
                session::COOKIE,
                session::MAX_AGE.as_secs()
            );
            let mut r = Redirect::to("/console").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::login(Some(&format!("{e:#}"))),
        ),
    }
}

#[derive(serde::Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    mode: Option<String>,
    /// A canary's candidate in a registry, and how big its live sample is.
    oci: Option<String>,
    digest: Option<String>,
    pages: Option<u64>,
    /// A checkbox: present ("on") when ticked.
    promote: Option<String>,
}

/// A POST from a browser must carry its session's CSRF token.
fn csrf_ok(caller: &Caller, given: &str) -> bool {
    match &caller.csrf {
        None => true,
        Some(expected) => crate::serve::api::same_secret(given, expected),
    }
}

fn csrf_refused() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message(
            "Refused",
            "The form's CSRF token is missing or stale: reload the page and try again.",
            None,
        ),
    )
}

async fn logout(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    Form(f): Form<ActionForm>,
) -> Response {
    if !csrf_ok(&caller, &f.csrf) {
        return csrf_refused();
    }
    if let Some(id) = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session::cookie_value)
    {
        c.sessions.close(id);
    }
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "harness_console=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict",
        ),
    );
    r
}

async fn tenants_page(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    let views = c.service.views();
    html(
        StatusCode::OK,
        pages::tenants(&views, caller.csrf.as_deref().unwrap_or(""), now()),
    )
}

fn not_found(what: &str, csrf: &Caller) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message("Not found", what, csrf.csrf.as_deref()),
    )
}

/// Blocking work (SQLite, Glean over HTTP, the sandbox) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("the console's worker failed: {e}"))
}

async fn tenant_page(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let Some(view) = c.service.view(&name) else {
        return not_found(&format!("There is no tenant `{name}`."), &caller);
    };
    let history = c.service.history(&name).unwrap_or_default();
    let config = c.service.tenant_config(&name);
    let service = c.service.clone();
    let tenant = name.clone();
    let facts = blocking(move || {
        config.map(|cfg| {
            let canary = crate::canary::saved::load(&cfg).map_err(|e| format!("{e:#}"));
            let store = service.read_state(&tenant, &cfg);
            (search::state_facts(store), canary)
        })
    })
    .await
    .ok()
    .flatten();
    let (facts, canary) = match facts {
        Some((f, c)) => (Some(f), c.transpose()),
        None => (None, None),
    };
    let datasource = c
        .service
        .tenant_config(&name)
        .map(|cfg| cfg.glean.datasource.clone().unwrap_or(cfg.name.clone()))
        .unwrap_or_default();
    let (documents, held, item_failures) = match facts {
        Some(Ok(f)) => (Some(f.documents), f.held, f.failures),
        _ => (None, Vec::new(), Vec::new()),
    };
    let plots = plot::history_plots(&history);
    let detail = pages::TenantDetail {
        view: &view,
        history: &history,
        plots,
        documents,
        held,
        item_failures,
        datasource,
        canary,
    };
    html(
        StatusCode::OK,
        pages::tenant(&detail, caller.csrf.as_deref().unwrap_or(""), now()),
    )
}

async fn tenant_action(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path((name, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if !csrf_ok(&caller, &f.csrf) {
        return csrf_refused();
    }
    if action == "canary" {
        return canary_action(&c, &caller, &name, f).await;
    }
    let s = &c.service;
    let found = match action.as_str() {
        "crawl" => {
            let mode = match f.mode.as_deref() {
                Some("incremental") => CrawlMode::Incremental,
                Some("full") | None => CrawlMode::Full,
                Some(other) => {
                    return html(
                        StatusCode::BAD_REQUEST,
                        pages::message(
                            "Refused",
                            &format!("`{other}` is neither `full` nor `incremental`."),
                            caller.csrf.as_deref(),
                        ),
                    );
                }
            };
            s.request_crawl(&name, mode)
        }
        "pause" => s.pause(&name),
        "resume" => s.resume(&name),
        "approve-deletions" => s.approve_deletions(&name),
        other => return not_found(&format!("There is no action `{other}`."), &caller),
    };
    match found {
        Ok(_) => {}
        Err(crate::serve::CrawlRefusal::Unknown) => {
            return not_found(&format!("There is no tenant `{name}`."), &caller);
        }
        Err(why) => {
            return html(
                StatusCode::CONFLICT,
                pages::message("Refused", &format!("{why}."), caller.csrf.as_deref()),
            );
        }
    }
    Redirect::to(&format!("/console/tenants/{name}")).into_response()
}

/// The tenant page's "try a new version": a canary of a candidate in a registry on a live
/// sample, then back to the page, which shows it; a refusal says why.
async fn canary_action(c: &Console, caller: &Caller, name: &str, f: ActionForm) -> Response {
    use crate::canary::on_demand::{self, Ask, Candidate, Refusal};
    let (Some(reference), Some(digest)) = (f.oci.filter(|s| !s.trim().is_empty()), f.digest) else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "Refused",
                "Name the candidate by its registry reference and its digest.",
                caller.csrf.as_deref(),
            ),
        );
    };
    let candidate = Candidate::Oci {
        reference: reference.trim().to_string(),
        digest: digest.trim().to_string(),
    };
    let ask = Ask {
        pages: f.pages.unwrap_or(1),
        share: 0.02,
        promote: f.promote.is_some(),
        thresholds: crate::canary::Thresholds::default(),
    };
    let service = c.service.clone();
    let tenant = name.to_string();
    let ran = blocking(move || on_demand::run(&service, &tenant, &candidate, &ask)).await;
    let (status, why) = match ran {
        Ok(Ok(_)) => {
            return Redirect::to(&format!("/console/tenants/{name}#canary")).into_response();
        }
        Ok(Err(Refusal::Unknown(n))) => {
            return not_found(&format!("There is no tenant `{n}`."), caller);
        }
        Ok(Err(Refusal::Conflict(m))) => (StatusCode::CONFLICT, m),
        Ok(Err(Refusal::Bad(m))) => (StatusCode::BAD_REQUEST, m),
        Ok(Err(Refusal::Failed(m))) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    html(
        status,
        pages::message("The canary did not run", &why, caller.csrf.as_deref()),
    )
}

async fn search_page(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = search::Params::parse(q.as_deref().unwrap_or(""));
    let service = c.service.clone();
    let page = blocking(move || search::build(&service, params)).await;
    match page {
        Ok(page) => html(
            StatusCode::OK,
            pages::search(&page, caller.csrf.as_deref().unwrap_or("")),
        ),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message("Search failed", &format!("{e:#}"), caller.csrf.as_deref()),
        ),
    }
}

async fn call_page(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    call_response(c, caller, name, id, false).await
}

async fn call_fetch(
    State(c): State<Console>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if !csrf_ok(&caller, &f.csrf) {
        return csrf_refused();
    }
    call_response(c, caller, name, id, true).await
}

async fn call_response(
    c: Console,
    caller: Caller,
    name: String,
    id: String,
    fetch: bool,
) -> Response {
    let Some(config) = c.service.tenant_config(&name) else {
        return not_found(
            &format!("There is no tenant `{name}` with an accepted file."),
            &caller,
        );
    };
    let runtime = c.service.runtime().clone();
    let service = c.service.clone();
    // A fetch beside the tenant's crawl waits on the same rate limiters and spends the same
    // budget (the tenant's instance): it needs no turn of its own. With replicas, only the
    // holder fetches; the state is read from the database on any replica.
    let page = blocking(move || {
        let state = service.read_state(&name, &config);
        let run = fetch.then(|| service.fetch_options(&name));
        search::call_page(&runtime, &config, &name, &id, state, run)
    })
    .await
    .and_then(|p| p);
    match page {
        Ok(p) => html(
            StatusCode::OK,
            pages::call(&p, caller.csrf.as_deref().unwrap_or(""), now()),
        ),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message("Failed", &format!("{e:#}"), caller.csrf.as_deref()),
        ),
    }
}
