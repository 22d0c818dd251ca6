//! HTTP routes of the mock under `/api/index/v1`, all POST, behind `Authorization: Bearer`.
//! Writes answer 200 with an empty body; JSON answers carry
//! `Content-Type: application/json; charset=UTF-8` exactly, as Glean's clients expect.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use glean_api::{
    BulkIndexUsersRequest, CheckDocumentAccessRequest, CustomDatasourceConfig,
    DeleteDocumentRequest, GetDatasourceConfigRequest, IndexDocumentsRequest,
};
use serde::de::DeserializeOwned;

use crate::MockGleanConfig;
use crate::store::Index;

#[derive(Clone)]
struct App {
    index: Arc<Mutex<Index>>,
    token: Arc<str>,
}

const JSON: &str = "application/json; charset=UTF-8";

fn json(body: serde_json::Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], serde_json::json!({"error": message.into()}).to_string())
        .into_response()
}

fn ok() -> Response {
    StatusCode::OK.into_response()
}

fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bearer {}", app.token);
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) if v == expected => Ok(()),
        Some(_) => Err(error(StatusCode::UNAUTHORIZED, "invalid or expired token")),
        None => Err(error(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer <token>")),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("the request body is not valid for this endpoint: {e}")))
}

fn lock(app: &App) -> std::sync::MutexGuard<'_, Index> {
    app.index.lock().unwrap_or_else(|p| p.into_inner())
}

fn outcome(r: Result<(), String>) -> Response {
    match r {
        Ok(()) => ok(),
        Err(m) => error(StatusCode::BAD_REQUEST, m),
    }
}

pub fn router(index: Arc<Mutex<Index>>, config: MockGleanConfig) -> Router {
    let app = App {
        index,
        token: Arc::from(config.token.as_str()),
    };
    Router::new()
        .route("/api/index/v1/adddatasource", post(add_datasource))
        .route("/api/index/v1/getdatasourceconfig", post(get_datasource_config))
        .route("/api/index/v1/indexdocuments", post(index_documents))
        .route("/api/index/v1/deletedocument", post(delete_document))
        .route("/api/index/v1/bulkindexusers", post(bulk_index_users))
        .route("/api/index/v1/checkdocumentaccess", post(check_document_access))
        .route("/_mock/datasources/{ds}/documents", any(dump_documents))
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(app)
}

async fn unknown(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn add_datasource(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    match parse::<CustomDatasourceConfig>(&body) {
        Ok(c) => outcome(lock(&app).add_datasource(c)),
        Err(r) => r,
    }
}

async fn get_datasource_config(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let req = match parse::<GetDatasourceConfigRequest>(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match lock(&app).datasource(&req.datasource) {
        Some(c) => json(serde_json::to_value(c).unwrap_or_default()),
        None => error(StatusCode::BAD_REQUEST, format!("Datasource `{}` doesn't exist", req.datasource)),
    }
}

async fn index_documents(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    match parse::<IndexDocumentsRequest>(&body) {
        Ok(req) => outcome(lock(&app).index_documents(&req.datasource, req.documents)),
        Err(r) => r,
    }
}

async fn delete_document(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    match parse::<DeleteDocumentRequest>(&body) {
        Ok(req) => outcome(lock(&app).delete_document(&req.datasource, &req.object_type, &req.id)),
        Err(r) => r,
    }
}

async fn bulk_index_users(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    match parse::<BulkIndexUsersRequest>(&body) {
        // Each completed upload replaces the user list; pages of one upload accumulate.
        Ok(req) => outcome(lock(&app).replace_users(
            &req.datasource,
            req.users,
            req.is_first_page == Some(true),
        )),
        Err(r) => r,
    }
}

async fn check_document_access(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let req = match parse::<CheckDocumentAccessRequest>(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let has = lock(&app).check_access(&req.datasource, &req.object_type, &req.doc_id, &req.user_email);
    json(serde_json::json!({"hasAccess": has}))
}

async fn dump_documents(State(app): State<App>, headers: HeaderMap, Path(ds): Path<String>) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    json(serde_json::to_value(lock(&app).documents(&ds)).unwrap_or_default())
}
