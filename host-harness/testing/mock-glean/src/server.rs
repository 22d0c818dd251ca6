//! HTTP routes of the mock: every indexing endpoint under `/api/index/v1` (all POST), behind
//! `Authorization: Bearer`, rate-limited as Glean documents; the search endpoint
//! `POST /rest/api/v1/search` (acting as `X-Glean-ActAs`); and `GET /_mock/datasources/{ds}/documents`.
//! Writes answer 200 with an empty body; JSON answers carry
//! `Content-Type: application/json; charset=UTF-8` exactly, as Glean's clients expect.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use glean_api::search::SearchRequest;
use glean_api::{
    BulkIndexDocumentsRequest, BulkIndexUsersRequest, CheckDocumentAccessRequest,
    CustomDatasourceConfig, DatasourceMembershipDefinition, DeleteDocumentRequest,
    DocumentDefinition, GetDatasourceConfigRequest, IndexDocumentsRequest,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::MockGleanConfig;
use crate::ratelimit::Limiter;
use crate::store::{Index, Member, Page};

#[derive(Clone)]
struct App {
    index: Arc<Mutex<Index>>,
    token: Arc<str>,
    limiter: Arc<Limiter>,
    max_body_bytes: usize,
    hold_uploads: Arc<std::sync::atomic::AtomicBool>,
}

const JSON: &str = "application/json; charset=UTF-8";

fn json_ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, JSON)],
        json!({"error": message.into()}).to_string(),
    )
        .into_response()
}

fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bearer {}", app.token);
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v == expected => Ok(()),
        Some(_) => Err(error(StatusCode::UNAUTHORIZED, "invalid or expired token")),
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer <token>",
        )),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the request body is not valid for this endpoint: {e}"),
        )
    })
}

fn lock(app: &App) -> std::sync::MutexGuard<'_, Index> {
    app.index.lock().unwrap_or_else(|p| p.into_inner())
}

fn done(r: Result<(), String>) -> Response {
    match r {
        Ok(()) => StatusCode::OK.into_response(),
        Err(m) => error(StatusCode::BAD_REQUEST, m),
    }
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

pub fn router(index: Arc<Mutex<Index>>, config: MockGleanConfig) -> Router {
    let app = App {
        index,
        token: Arc::from(config.token.as_str()),
        limiter: Arc::new(Limiter::new(&config.rate_limits)),
        max_body_bytes: config.max_body_bytes,
        hold_uploads: config.hold_uploads.clone(),
    };
    Router::new()
        .route("/api/index/v1/{endpoint}", post(endpoint))
        .route("/api/index/v1/debug/{datasource}/{what}", post(debug))
        .route("/rest/api/v1/search", post(search))
        .route("/_mock/datasources/{ds}/documents", any(dump_documents))
        .route("/_mock/datasources/{ds}/users", any(dump_users))
        .fallback(unknown)
        // Bodies somewhat over the limit are read and answered 413 with a message; far larger
        // ones are cut off.
        .layer(DefaultBodyLimit::max(
            config.max_body_bytes.saturating_mul(4),
        ))
        .with_state(app)
}

async fn unknown(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexDocumentRequest {
    document: DocumentDefinition,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasourceOnly {
    datasource: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexUserRequest {
    datasource: String,
    user: glean_api::DatasourceUserDefinition,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteUserRequest {
    datasource: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexGroupRequest {
    datasource: String,
    group: glean_api::DatasourceGroupDefinition,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkGroupsRequest {
    upload_id: String,
    datasource: String,
    groups: Vec<glean_api::DatasourceGroupDefinition>,
    #[serde(default)]
    is_last_page: Option<bool>,
    #[serde(default)]
    is_first_page: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteGroupRequest {
    datasource: String,
    group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexMembershipRequest {
    datasource: String,
    membership: DatasourceMembershipDefinition,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkMembershipsRequest {
    upload_id: String,
    datasource: String,
    group: Option<String>,
    memberships: Vec<DatasourceMembershipDefinition>,
    #[serde(default)]
    is_first_page: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentStatusRequest {
    datasource: String,
    object_type: String,
    doc_id: String,
}

fn member(m: &DatasourceMembershipDefinition) -> Result<Member, String> {
    match (&m.member_user_id, &m.member_group_name) {
        (Some(u), None) => Ok(Member::User(u.clone())),
        (None, Some(g)) => Ok(Member::Group(g.clone())),
        _ => Err("a membership names exactly one of memberUserId and memberGroupName".into()),
    }
}

fn documents_in(endpoint: &str, body: &Bytes) -> usize {
    if endpoint != "indexdocuments" {
        return 0;
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("documents").and_then(Value::as_array).map(Vec::len))
        .unwrap_or(0)
}

/// What every indexing call passes before it is routed: the token, the call count, a held
/// upload, the body size, the rate limits. `Err` is the answer to send instead.
async fn admit(
    app: &App,
    headers: &HeaderMap,
    endpoint: &str,
    body: &Bytes,
) -> Result<(), Response> {
    authorized(app, headers)?;
    lock(app).count_call(endpoint);
    if matches!(endpoint, "indexdocuments" | "bulkindexdocuments") {
        while app.hold_uploads.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    if body.len() > app.max_body_bytes {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is {} bytes, over the {} byte limit; send fewer documents per request",
                body.len(),
                app.max_body_bytes
            ),
        ));
    }
    if let Err(after) = app.limiter.admit(endpoint, documents_in(endpoint, body)) {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::RETRY_AFTER, after.to_string()),
                (header::CONTENT_TYPE, JSON.to_string()),
            ],
            json!({"error": format!("rate limit exceeded for /{endpoint}; retry after {after} s")})
                .to_string(),
        )
            .into_response());
    }
    Ok(())
}

/// Every indexing endpoint, in the order of Glean's reference: documents, then people and
/// groups, then status checks.
async fn endpoint(
    State(app): State<App>,
    headers: HeaderMap,
    Path(endpoint): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&app, &headers, &endpoint, &body).await {
        return r;
    }
    let name = endpoint.as_str();
    documents_endpoint(&app, name, &body)
        .or_else(|| identity_endpoint(&app, name, &body))
        .or_else(|| status_endpoint(&app, name, &body))
        .unwrap_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("no endpoint /api/index/v1/{endpoint}"),
            )
        })
}

/// Parses the body as `T` and answers with `f`, or answers 400 saying why it is not one.
fn with<T: DeserializeOwned>(body: &Bytes, f: impl FnOnce(T) -> Response) -> Response {
    match parse::<T>(body) {
        Ok(request) => f(request),
        Err(r) => r,
    }
}

/// The datasource and document endpoints; `None` for any other name.
fn documents_endpoint(app: &App, endpoint: &str, body: &Bytes) -> Option<Response> {
    Some(match endpoint {
        "adddatasource" => with(body, |c: CustomDatasourceConfig| {
            done(lock(app).add_datasource(c))
        }),
        "getdatasourceconfig" => with(body, |r: GetDatasourceConfigRequest| {
            match lock(app).datasource(&r.datasource) {
                Some(c) => json_ok(serde_json::to_value(c).unwrap_or_default()),
                None => error(
                    StatusCode::BAD_REQUEST,
                    format!("Datasource `{}` doesn't exist", r.datasource),
                ),
            }
        }),
        "indexdocument" => with(body, |r: IndexDocumentRequest| {
            let ds = r.document.datasource.clone();
            done(lock(app).index_documents(&ds, vec![r.document]))
        }),
        "indexdocuments" => with(body, |r: IndexDocumentsRequest| {
            done(lock(app).index_documents(&r.datasource, r.documents))
        }),
        "bulkindexdocuments" => with(body, |r: BulkIndexDocumentsRequest| {
            let page = Page {
                first: r.is_first_page == Some(true),
                last: r.is_last_page == Some(true),
                force_restart: r.force_restart_upload == Some(true),
                disable_stale_check: r.disable_stale_document_deletion_check == Some(true),
            };
            done(lock(app).bulk_documents(&r.datasource, &r.upload_id, page, r.documents))
        }),
        "deletedocument" => with(body, |r: DeleteDocumentRequest| {
            done(lock(app).delete_document(&r.datasource, &r.object_type, &r.id))
        }),
        // Processing is immediate in the mock; the call is accepted as Glean accepts it.
        "processalldocuments" | "processallmemberships" => StatusCode::OK.into_response(),
        _ => return None,
    })
}

/// The user, group and membership endpoints; `None` for any other name.
fn identity_endpoint(app: &App, endpoint: &str, body: &Bytes) -> Option<Response> {
    Some(match endpoint {
        "indexuser" => with(body, |r: IndexUserRequest| {
            done(lock(app).index_user(&r.datasource, r.user))
        }),
        "bulkindexusers" => with(body, |r: BulkIndexUsersRequest| {
            let page = Page {
                first: r.is_first_page == Some(true),
                last: r.is_last_page == Some(true),
                force_restart: r.force_restart_upload == Some(true),
                disable_stale_check: r.disable_stale_data_deletion_check == Some(true),
            };
            done(lock(app).bulk_users(&r.datasource, &r.upload_id, page, r.users))
        }),
        "deleteuser" => with(body, |r: DeleteUserRequest| {
            done(lock(app).delete_user(&r.datasource, &r.email))
        }),
        "indexgroup" => with(body, |r: IndexGroupRequest| {
            done(lock(app).index_groups(&r.datasource, vec![r.group.name], false))
        }),
        "bulkindexgroups" => with(body, |r: BulkGroupsRequest| {
            // Pages accumulate; a single-page upload (first and last) replaces the groups.
            let _ = &r.upload_id;
            let replace = r.is_first_page == Some(true) && r.is_last_page == Some(true);
            done(lock(app).index_groups(
                &r.datasource,
                r.groups.into_iter().map(|g| g.name).collect(),
                replace,
            ))
        }),
        "deletegroup" => with(body, |r: DeleteGroupRequest| {
            done(lock(app).delete_group(&r.datasource, &r.group_name))
        }),
        "indexmembership" => with(body, |r: IndexMembershipRequest| {
            let group = r.membership.group_name.clone().unwrap_or_default();
            match member(&r.membership) {
                Ok(m) => done(lock(app).index_memberships(&r.datasource, &group, vec![m], false)),
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            }
        }),
        "bulkindexmemberships" => with(body, |r: BulkMembershipsRequest| bulk_memberships(app, r)),
        _ => return None,
    })
}

/// `bulkindexmemberships`: one group's members, the first page replacing what it had.
fn bulk_memberships(app: &App, r: BulkMembershipsRequest) -> Response {
    let _ = &r.upload_id;
    let Some(group) = r.group.clone() else {
        return error(StatusCode::BAD_REQUEST, "bulk memberships need `group`");
    };
    match r
        .memberships
        .iter()
        .map(member)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(ms) => done(lock(app).index_memberships(
            &r.datasource,
            &group,
            ms,
            r.is_first_page == Some(true),
        )),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// The access and status checks; `None` for any other name.
fn status_endpoint(app: &App, endpoint: &str, body: &Bytes) -> Option<Response> {
    Some(match endpoint {
        "checkdocumentaccess" => with(body, |r: CheckDocumentAccessRequest| {
            let has =
                lock(app).check_access(&r.datasource, &r.object_type, &r.doc_id, &r.user_email);
            json_ok(json!({"hasAccess": has}))
        }),
        // Deprecated, still served.
        "getdocumentcount" => with(body, |r: DatasourceOnly| {
            match lock(app).documents_if_exists(&r.datasource) {
                Some(n) => json_ok(json!({"documentCount": n})),
                None => error(
                    StatusCode::BAD_REQUEST,
                    format!("Datasource `{}` doesn't exist", r.datasource),
                ),
            }
        }),
        "getdocumentstatus" => with(body, |r: DocumentStatusRequest| {
            match lock(app).debug_document(&r.datasource, &r.object_type, &r.doc_id) {
                Some((at, _)) => json_ok(json!({
                    "uploadStatus": "UPLOADED", "lastUploadedAt": at,
                    "indexingStatus": "INDEXED", "lastIndexedAt": at
                })),
                None => json_ok(
                    json!({"uploadStatus": "NOT_UPLOADED", "indexingStatus": "NOT_INDEXED"}),
                ),
            }
        }),
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DebugDocument {
    object_type: String,
    doc_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DebugDocuments {
    debug_documents: Vec<DebugDocument>,
}

#[derive(Deserialize)]
struct DebugUser {
    email: String,
}

fn document_status(index: &Index, ds: &str, object_type: &str, doc_id: &str) -> Value {
    match index.debug_document(ds, object_type, doc_id) {
        Some((at, perms)) => json!({
            "status": {"uploadStatus": "UPLOADED", "lastUploadedAt": iso(at), "indexingStatus": "INDEXED", "lastIndexedAt": iso(at), "permissionIdentityStatus": "UPLOADED"},
            "uploadedPermissions": perms,
        }),
        None => {
            json!({"status": {"uploadStatus": "NOT_UPLOADED", "indexingStatus": "NOT_INDEXED"}})
        }
    }
}

async fn debug(
    State(app): State<App>,
    headers: HeaderMap,
    Path((ds, what)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    if let Err(after) = app.limiter.admit("debug", 0) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, after.to_string())],
            "",
        )
            .into_response();
    }
    let index = lock(&app);
    if index.datasource(&ds).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("Datasource `{ds}` doesn't exist"),
        );
    }
    match what.as_str() {
        // The official client sends this one with no body at all.
        "status" => match index.status(&ds) {
            Some((history, counts, users)) => {
                let history: Vec<Value> = history
                    .iter()
                    .map(|e| {
                        json!({
                            "uploadId": e.upload_id,
                            "startTime": iso(e.start_time),
                            "endTime": e.end_time.map(iso).unwrap_or_else(|| "NA".into()),
                            "status": e.status,
                            "processingState": e.processing_state,
                        })
                    })
                    .collect();
                let counts: Vec<Value> = counts
                    .iter()
                    .map(|(t, n)| json!({"objectType": t, "count": n}))
                    .collect();
                json_ok(json!({
                    "documents": {"bulkUploadHistory": history, "counts": {"uploaded": counts, "indexed": counts}, "processingHistory": []},
                    "identity": {"processingHistory": [], "users": {"bulkUploadHistory": [], "counts": {"uploaded": users}}},
                    "datasourceVisibility": "ENABLED_FOR_ALL",
                }))
            }
            None => error(StatusCode::BAD_REQUEST, "no such datasource"),
        },
        "document" => match parse::<DebugDocument>(&body) {
            Ok(r) => json_ok(document_status(&index, &ds, &r.object_type, &r.doc_id)),
            Err(r) => r,
        },
        "documents" => match parse::<DebugDocuments>(&body) {
            Ok(r) => json_ok(
                json!({"documentStatuses": r.debug_documents.iter().map(|d| json!({
                "docId": d.doc_id, "objectType": d.object_type, "debugInfo": document_status(&index, &ds, &d.object_type, &d.doc_id),
            })).collect::<Vec<_>>()}),
            ),
            Err(r) => r,
        },
        "user" => match parse::<DebugUser>(&body) {
            Ok(r) => match index.debug_user(&ds, &r.email) {
                Some((active, groups)) => json_ok(json!({
                    "status": {"isActiveUser": active, "uploadStatus": if active { "UPLOADED" } else { "NOT_UPLOADED" }},
                    "uploadedGroups": groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
                })),
                None => error(StatusCode::BAD_REQUEST, "no such datasource"),
            },
            Err(r) => r,
        },
        _ => error(StatusCode::NOT_FOUND, format!("no debug endpoint `{what}`")),
    }
}

async fn search(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    let Some(user) = headers
        .get("x-glean-actas")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "name the user to search as in the X-Glean-ActAs header",
        );
    };
    match parse::<SearchRequest>(&body) {
        Ok(req) => json_ok(
            serde_json::to_value(crate::search::search(&lock(&app), &req, &user))
                .unwrap_or_default(),
        ),
        Err(r) => r,
    }
}

/// The datasource's identity store (a mock-only view: the real indexing API has no listing).
async fn dump_users(
    State(app): State<App>,
    headers: HeaderMap,
    Path(ds): Path<String>,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    json_ok(serde_json::to_value(lock(&app).users(&ds)).unwrap_or_default())
}

async fn dump_documents(
    State(app): State<App>,
    headers: HeaderMap,
    Path(ds): Path<String>,
) -> Response {
    if let Err(r) = authorized(&app, &headers) {
        return r;
    }
    json_ok(serde_json::to_value(lock(&app).documents(&ds)).unwrap_or_default())
}
