//! The mock Glean indexing API over real HTTP: wire rules, validation, bulk upload sessions and
//! the stale-deletion guard, permission evaluation, search as different users, rate limits and
//! body size — plus the `glean-api` client's error mapping against it.

use std::net::SocketAddr;

use glean_api::search::{FacetFilter, FacetFilterValue, SearchRequest, SearchRequestOptions};
use glean_api::{GleanClient, GleanError};
use mock_glean::{MockGlean, MockGleanConfig, RateLimits};
use serde_json::{Value, json};

const TOKEN: &str = "mock-glean-token";

fn spawn(limits: RateLimits) -> MockGlean {
    MockGlean::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockGleanConfig {
            rate_limits: limits,
            ..MockGleanConfig::default()
        },
    )
    .unwrap()
}

struct Raw {
    base: String,
    agent: ureq::Agent,
}

impl Raw {
    fn new(m: &MockGlean) -> Self {
        Raw {
            base: m.base_url(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
        }
    }

    /// POSTs `body` to `path`; answers (status, content type, retry-after, body text).
    fn post(
        &self,
        path: &str,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> (u16, String, Option<String>, String) {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("content-type", "application/json");
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(body.to_string().as_bytes()).unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let ra = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, ct, ra, text)
    }
}

fn datasource() -> Value {
    json!({
        "name": "calls",
        "displayName": "Calls",
        "datasourceCategory": "MESSAGING",
        "urlRegex": "https://calls\\.example\\.com/.*",
        "isUserReferencedByEmail": true,
        "objectDefinitions": [{"name": "call", "propertyDefinitions": [
            {"name": "account", "propertyType": "PICKLIST"},
            {"name": "topic", "propertyType": "TEXTLIST"},
            {"name": "durationMinutes", "propertyType": "INT", "hideUiFacet": true}
        ]}],
        "trustUrlRegexForViewActivity": true, "stripFragmentInCanonicalUrl": true,
        "isEntityDatasource": false, "isTestDatasource": false, "connectorType": "PUSH_API"
    })
}

fn doc(id: &str, title: &str, permissions: Value) -> Value {
    json!({
        "datasource": "calls", "objectType": "call", "id": id, "title": title,
        "viewURL": format!("https://calls.example.com/{id}"),
        "body": {"mimeType": "text/plain", "textContent": format!("{title} transcript about pricing and security")},
        "permissions": permissions, "createdAt": 1_780_000_000, "updatedAt": 1_780_000_100,
        "customProperties": [{"name": "account", "value": "Acme"}, {"name": "topic", "value": ["Pricing"]}]
    })
}

fn setup(raw: &Raw) {
    assert_eq!(
        raw.post("/api/index/v1/adddatasource", &datasource(), &[])
            .0,
        200
    );
    let users = json!({"uploadId": "u1", "isFirstPage": true, "isLastPage": true, "datasource": "calls", "users": [
        {"email": "ann@acme.com", "name": "Ann"}, {"email": "bob@acme.com", "name": "Bob"}, {"email": "cy@acme.com", "name": "Cy"}
    ]});
    assert_eq!(raw.post("/api/index/v1/bulkindexusers", &users, &[]).0, 200);
}

#[test]
fn wire_rules_writes_are_empty_200s_and_json_is_exact() {
    let m = spawn(RateLimits::off());
    let raw = Raw::new(&m);
    let (status, _, _, body) = raw.post("/api/index/v1/adddatasource", &datasource(), &[]);
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, ct, _, body) = raw.post(
        "/api/index/v1/getdatasourceconfig",
        &json!({"datasource": "calls"}),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json; charset=UTF-8");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["name"],
        "calls"
    );
    let unauth: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = unauth
        .post(format!("{}/api/index/v1/indexdocuments", m.base_url()))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // deletedocument succeeds when absent.
    let del = json!({"datasource": "calls", "objectType": "call", "id": "nope"});
    assert_eq!(raw.post("/api/index/v1/deletedocument", &del, &[]).0, 200);
}

#[test]
fn validation_errors_say_what_is_wrong() {
    let m = spawn(RateLimits::off());
    let raw = Raw::new(&m);
    setup(&raw);
    let cases = [
        (
            json!({"datasource": "nosuch", "documents": [doc("a", "A", json!({}))]}),
            "doesn't exist",
        ),
        (
            json!({"datasource": "calls", "documents": [json!({"datasource": "calls", "objectType": "meeting", "id": "a"})]}),
            "not declared",
        ),
        (
            json!({"datasource": "calls", "documents": [doc(&"x".repeat(201), "A", json!({}))]}),
            "200 characters",
        ),
        (
            json!({"datasource": "calls", "documents": [{"datasource": "calls", "objectType": "call", "id": "a", "viewURL": "https://elsewhere.com/a"}]}),
            "urlRegex",
        ),
        (
            json!({"datasource": "calls", "documents": [{"datasource": "calls", "objectType": "call", "id": "a", "createdAt": "yesterday"}]}),
            "not valid",
        ),
        (
            json!({"datasource": "calls", "documents": [{"datasource": "calls", "objectType": "call", "id": "a", "customProperties": [{"name": "bogus", "value": "x"}]}]}),
            "not declared",
        ),
        (
            json!({"datasource": "calls", "documents": [{"datasource": "calls", "objectType": "call", "id": "a", "customProperties": [{"name": "account", "value": true}]}]}),
            "boolean",
        ),
        (
            json!({"datasource": "calls", "documents": [{"datasource": "calls", "objectType": "call", "id": "a", "body": {"textContent": "x"}}]}),
            "mimeType",
        ),
    ];
    for (body, needle) in cases {
        let (status, _, _, text) = raw.post("/api/index/v1/indexdocuments", &body, &[]);
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(needle), "`{needle}` in {text}");
    }
    // Ids are case-insensitive.
    raw.post(
        "/api/index/v1/indexdocuments",
        &json!({"datasource": "calls", "documents": [doc("Call-1", "A", json!({}))]}),
        &[],
    );
    raw.post(
        "/api/index/v1/indexdocuments",
        &json!({"datasource": "calls", "documents": [doc("call-1", "B", json!({}))]}),
        &[],
    );
    assert_eq!(m.documents("calls").len(), 1);
    // Over 5 MiB: 413.
    let big = json!({"datasource": "calls", "documents": [doc("big", &"x".repeat(6 * 1024 * 1024), json!({}))]});
    assert_eq!(raw.post("/api/index/v1/indexdocuments", &big, &[]).0, 413);
}

#[test]
fn permissions_are_evaluated_exactly() {
    let m = spawn(RateLimits::off());
    let raw = Raw::new(&m);
    setup(&raw);
    raw.post(
        "/api/index/v1/indexgroup",
        &json!({"datasource": "calls", "group": {"name": "sales"}}),
        &[],
    );
    raw.post(
        "/api/index/v1/indexgroup",
        &json!({"datasource": "calls", "group": {"name": "emea"}}),
        &[],
    );
    raw.post("/api/index/v1/indexmembership", &json!({"datasource": "calls", "membership": {"groupName": "sales", "memberUserId": "ann@acme.com"}}), &[]);
    raw.post("/api/index/v1/indexmembership", &json!({"datasource": "calls", "membership": {"groupName": "sales", "memberUserId": "bob@acme.com"}}), &[]);
    raw.post("/api/index/v1/indexmembership", &json!({"datasource": "calls", "membership": {"groupName": "emea", "memberUserId": "bob@acme.com"}}), &[]);
    let docs = json!({"datasource": "calls", "documents": [
        doc("public", "Public", json!({"allowAllDatasourceUsersAccess": true})),
        doc("anon", "Anon", json!({"allowAnonymousAccess": true})),
        doc("private", "Private", json!({"allowedUsers": [{"email": "ann@acme.com"}, {"email": "ghost@acme.com"}]})),
        doc("nobody", "Nobody", json!({})),
        doc("group", "Group", json!({"allowedGroups": ["sales"]})),
        doc("both", "Both", json!({"allowedGroupIntersections": [{"requiredGroups": ["sales", "emea"]}]})),
    ]});
    assert_eq!(raw.post("/api/index/v1/indexdocuments", &docs, &[]).0, 200);
    let expect = [
        (
            "public",
            ["ann", "bob", "cy", "ghost"],
            [true, true, true, false],
        ),
        (
            "anon",
            ["ann", "bob", "cy", "ghost"],
            [true, true, true, true],
        ),
        (
            "private",
            ["ann", "bob", "cy", "ghost"],
            [true, false, false, false],
        ),
        (
            "nobody",
            ["ann", "bob", "cy", "ghost"],
            [false, false, false, false],
        ),
        (
            "group",
            ["ann", "bob", "cy", "ghost"],
            [true, true, false, false],
        ),
        (
            "both",
            ["ann", "bob", "cy", "ghost"],
            [false, true, false, false],
        ),
    ];
    for (id, users, want) in expect {
        for (u, w) in users.iter().zip(want) {
            let email = format!("{u}@acme.com");
            assert_eq!(
                m.check_access("calls", "call", id, &email),
                w,
                "{u} on {id}"
            );
            let (_, _, _, body) = raw.post(
                "/api/index/v1/checkdocumentaccess",
                &json!({"datasource": "calls", "objectType": "call", "docId": id, "userEmail": email}),
                &[],
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["hasAccess"],
                w,
                "{u} on {id} over HTTP"
            );
        }
    }
    // Deleting a user removes its access (and memberships).
    raw.post(
        "/api/index/v1/deleteuser",
        &json!({"datasource": "calls", "email": "bob@acme.com"}),
        &[],
    );
    assert!(!m.check_access("calls", "call", "group", "bob@acme.com"));
}

#[test]
fn bulk_uploads_replace_with_the_stale_deletion_guard() {
    let m = spawn(RateLimits::off());
    let raw = Raw::new(&m);
    setup(&raw);
    let page = |id: &str, first: bool, last: bool, docs: Vec<Value>, extra: Value| {
        let mut body = json!({"uploadId": id, "isFirstPage": first, "isLastPage": last, "datasource": "calls", "documents": docs});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        raw.post("/api/index/v1/bulkindexdocuments", &body, &[])
    };
    let ten: Vec<Value> = (0..10)
        .map(|i| doc(&format!("d{i}"), "D", json!({})))
        .collect();
    // First, concurrent-style middle pages out of order, then last.
    assert_eq!(page("up1", true, false, vec![], json!({})).0, 200);
    assert_eq!(
        page("up1", false, false, ten[5..].to_vec(), json!({})).0,
        200
    );
    assert_eq!(
        page("up1", false, false, ten[..5].to_vec(), json!({})).0,
        200
    );
    assert_eq!(page("up1", false, true, vec![], json!({})).0, 200);
    assert_eq!(m.documents("calls").len(), 10);
    // A page of an upload never started, and a second upload while one is open.
    assert_eq!(page("ghost", false, true, vec![], json!({})).0, 400);
    assert_eq!(
        page("up2", true, false, ten[..9].to_vec(), json!({})).0,
        200
    );
    assert_eq!(page("up3", true, false, vec![], json!({})).0, 400);
    // Finishing up2 would delete 1 of 10 (10%): deleted.
    assert_eq!(page("up2", false, true, vec![], json!({})).0, 200);
    assert_eq!(m.documents("calls").len(), 9);
    // Dropping 5 of 9 (over 20%): paused, visible in the debug status.
    assert_eq!(page("up4", true, true, ten[..4].to_vec(), json!({})).0, 200);
    assert_eq!(m.documents("calls").len(), 9);
    let (_, _, _, status) = raw.post("/api/index/v1/debug/calls/status", &json!({}), &[]);
    assert!(status.contains("DELETION PAUSED"), "{status}");
    // Unless the check is disabled (only on the last page) or the restart is forced.
    assert_eq!(
        page(
            "up5",
            true,
            false,
            vec![],
            json!({"disableStaleDocumentDeletionCheck": true})
        )
        .0,
        400
    );
    assert_eq!(
        page(
            "up5",
            true,
            true,
            ten[..4].to_vec(),
            json!({"disableStaleDocumentDeletionCheck": true})
        )
        .0,
        200
    );
    assert_eq!(m.documents("calls").len(), 4);
    assert_eq!(page("up6", true, false, vec![], json!({})).0, 200);
    assert_eq!(
        page(
            "up7",
            true,
            true,
            ten[..4].to_vec(),
            json!({"forceRestartUpload": true})
        )
        .0,
        200
    );
}

#[test]
fn search_sees_only_what_the_user_may_see() {
    let m = spawn(RateLimits::off());
    let raw = Raw::new(&m);
    setup(&raw);
    let docs = json!({"datasource": "calls", "documents": [
        doc("p1", "Acme pricing review", json!({"allowAllDatasourceUsersAccess": true})),
        doc("s1", "Acme secret pricing", json!({"allowedUsers": [{"email": "ann@acme.com"}]})),
        doc("n1", "Acme pricing nobody", json!({})),
    ]});
    raw.post("/api/index/v1/indexdocuments", &docs, &[]);
    let req = SearchRequest {
        query: "pricing acme".into(),
        page_size: Some(10),
        request_options: None,
    };
    let ids = |email: &str| -> Vec<String> {
        m.search(&req, email)
            .results
            .into_iter()
            .map(|r| r.document.id)
            .collect()
    };
    let mut ann = ids("ann@acme.com");
    ann.sort();
    assert_eq!(ann, vec!["p1", "s1"]);
    assert_eq!(ids("bob@acme.com"), vec!["p1"]);
    assert!(ids("stranger@else.com").is_empty());
    // Over HTTP, with a facet filter, as a user.
    let filtered = SearchRequest {
        query: "pricing".into(),
        page_size: None,
        request_options: Some(SearchRequestOptions {
            datasource_filter: Some("calls".into()),
            facet_filters: vec![FacetFilter {
                field_name: "account".into(),
                values: vec![FacetFilterValue {
                    value: "acme".into(),
                    relation_type: None,
                }],
            }],
        }),
    };
    let (status, ct, _, body) = raw.post(
        "/rest/api/v1/search",
        &serde_json::to_value(&filtered).unwrap(),
        &[("X-Glean-ActAs", "ann@acme.com")],
    );
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/json; charset=UTF-8")
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["totalCount"], 2);
    assert!(
        v["facetResults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["sourceName"] == "account")
    );
    assert_eq!(
        raw.post("/rest/api/v1/search", &json!({"query": "x"}), &[])
            .0,
        400,
        "the acting user is required"
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let m = spawn(RateLimits {
        documents_per_minute: Some(3),
        indexdocument_per_second: Some(1),
        other_per_second: Some(2),
    });
    let raw = Raw::new(&m);
    raw.post("/api/index/v1/adddatasource", &datasource(), &[]);
    raw.post(
        "/api/index/v1/getdatasourceconfig",
        &json!({"datasource": "calls"}),
        &[],
    );
    let (status, _, retry, _) = raw.post(
        "/api/index/v1/getdatasourceconfig",
        &json!({"datasource": "calls"}),
        &[],
    );
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)));
    let four: Vec<Value> = (0..4)
        .map(|i| doc(&format!("r{i}"), "R", json!({})))
        .collect();
    let (status, _, retry, _) = raw.post(
        "/api/index/v1/indexdocuments",
        &json!({"datasource": "calls", "documents": four}),
        &[],
    );
    assert_eq!(status, 429, "four documents exceed three a minute");
    assert!(retry.is_some());
    // The client maps it, with the advice.
    let client = GleanClient::new(&m.base_url(), TOKEN.into()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let docs: Vec<glean_api::DocumentDefinition> = (0..4)
        .map(|i| serde_json::from_value(doc(&format!("c{i}"), "C", json!({}))).unwrap())
        .collect();
    let e = client.index_documents("calls", &docs).unwrap_err();
    assert!(
        matches!(
            e,
            GleanError::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{e:?}"
    );
    assert!(e.is_transient());
}

#[test]
fn the_client_maps_errors_and_never_shows_the_token() {
    let m = spawn(RateLimits::off());
    let bad = GleanClient::new(&m.base_url(), "wrong-token".into()).unwrap();
    let e = bad
        .add_datasource(&serde_json::from_value(datasource()).unwrap())
        .unwrap_err();
    assert!(matches!(e, GleanError::Unauthorized(401)));
    assert!(!e.is_transient());
    let good = GleanClient::new(&m.base_url(), TOKEN.into()).unwrap();
    let e = good.delete_document("nosuch", "call", "x").unwrap_err();
    assert!(
        matches!(&e, GleanError::BadRequest { status: 400, message } if message.contains("doesn't exist")),
        "{e:?}"
    );
    assert!(!format!("{good:?} {e}").contains(TOKEN));
    let down = GleanClient::new("http://127.0.0.1:9", TOKEN.into()).unwrap();
    let e = down.delete_document("calls", "call", "x").unwrap_err();
    assert!(e.is_transient() && !e.to_string().contains(TOKEN), "{e}");
}

#[test]
fn a_state_file_keeps_the_index_across_restarts() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("mock-glean-state.json");
    let config = || MockGleanConfig {
        state_file: Some(file.clone()),
        rate_limits: RateLimits::off(),
        ..MockGleanConfig::default()
    };
    {
        let m = MockGlean::spawn(SocketAddr::from(([127, 0, 0, 1], 0)), config()).unwrap();
        let raw = Raw::new(&m);
        setup(&raw);
        let docs = json!({"datasource": "calls", "documents": [doc("kept", "Kept", json!({"allowAllDatasourceUsersAccess": true}))]});
        assert_eq!(raw.post("/api/index/v1/indexdocuments", &docs, &[]).0, 200);
    }
    let again = MockGlean::spawn(SocketAddr::from(([127, 0, 0, 1], 0)), config()).unwrap();
    let ids: Vec<String> = again
        .documents("calls")
        .into_iter()
        .filter_map(|d| d.id)
        .collect();
    assert_eq!(ids, vec!["kept"]);
    assert!(
        again.check_access("calls", "call", "kept", "ann@acme.com"),
        "users survive too"
    );
}
