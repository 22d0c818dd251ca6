//! Conformance: requests shaped exactly as Glean's official Python client sends them (headers,
//! camelCase bodies with unset fields omitted, the defaults it injects, body-less POSTs for
//! `debug/{datasource}/status`; reference §11.2), and every answer checked against the official
//! indexing spec (`shared/specs/glean-indexing-openapi.yaml`): status 200 with an empty body for
//! writes, `application/json; charset=UTF-8` and a schema-valid body for JSON answers.

use std::net::SocketAddr;

use e2e_tests::openapi;
use mock_glean::{MockGlean, MockGleanConfig};
use serde_json::Value;

const TOKEN: &str = "test-token-123";

/// One request as the official client (glean-api-client 0.13 / 0.17) puts it on the wire.
struct Official {
    base: String,
    agent: ureq::Agent,
}

impl Official {
    fn post(&self, endpoint: &str, body: Option<&str>) -> (u16, String, String) {
        let url = format!("{}/api/index/v1/{endpoint}", self.base);
        let req = self
            .agent
            .post(&url)
            .header(
                "Accept",
                if body.is_some() {
                    "application/json"
                } else {
                    "*/*"
                },
            )
            .header(
                "user-agent",
                "speakeasy-sdk/python 0.13.0 2.893.0 0.9.0 glean-api-client",
            )
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Accept-Encoding", "gzip, deflate");
        let mut resp = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .send(b.as_bytes()),
            None => req.send_empty(),
        }
        .unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (
            status,
            ct,
            resp.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

#[test]
fn the_official_clients_requests_get_spec_valid_answers() {
    let spec = openapi::load_spec("glean-indexing-openapi.yaml");
    let mock = MockGlean::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockGleanConfig {
            token: TOKEN.into(),
            ..MockGleanConfig::default()
        },
    )
    .unwrap();
    let c = Official {
        base: mock.base_url(),
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    // Writes, in the client's field order, with the defaults it injects.
    let writes = [
        (
            "adddatasource",
            r#"{"name": "callsdemo", "displayName": "Calls Demo", "datasourceCategory": "MESSAGING", "urlRegex": "https://calls\\.example\\.com/calls/.*", "isUserReferencedByEmail": true, "objectDefinitions": [{"name": "Call", "displayLabel": "Call", "docCategory": "MESSAGING", "propertyDefinitions": [{"name": "durationMinutes", "displayLabel": "Duration (min)", "propertyType": "INT", "uiOptions": "SEARCH_RESULT", "hideUiFacet": true}]}], "trustUrlRegexForViewActivity": true, "stripFragmentInCanonicalUrl": true, "isEntityDatasource": false, "isTestDatasource": false, "connectorType": "PUSH_API"}"#,
        ),
        (
            "bulkindexusers",
            r#"{"uploadId": "users-1", "isFirstPage": true, "isLastPage": true, "datasource": "callsdemo", "users": [{"email": "alice@example.com", "name": "Alice"}]}"#,
        ),
        (
            "indexdocuments",
            r#"{"datasource": "callsdemo", "documents": [{"datasource": "callsdemo", "title": "Weekly sync with ACME", "objectType": "Call", "viewURL": "https://calls.example.com/calls/call-001", "id": "call-001", "body": {"mimeType": "text/plain", "textContent": "Transcript..."}, "author": {"email": "alice@example.com"}, "permissions": {"allowedUsers": [{"email": "alice@example.com"}], "allowAnonymousAccess": false}, "createdAt": 1735689600, "updatedAt": 1735693200, "customProperties": [{"name": "durationMinutes", "value": 42}]}]}"#,
        ),
        (
            "indexdocument",
            r#"{"document": {"datasource": "callsdemo", "objectType": "Call", "viewURL": "https://calls.example.com/calls/call-002", "id": "call-002", "title": "Second"}}"#,
        ),
        (
            "bulkindexdocuments",
            r#"{"uploadId": "docs-1", "isFirstPage": true, "isLastPage": true, "datasource": "callsdemo", "documents": [{"datasource": "callsdemo", "objectType": "Call", "viewURL": "https://calls.example.com/calls/call-001", "id": "call-001", "title": "Weekly sync with ACME", "permissions": {"allowAllDatasourceUsersAccess": true}}, {"datasource": "callsdemo", "objectType": "Call", "viewURL": "https://calls.example.com/calls/call-002", "id": "call-002"}], "disableStaleDocumentDeletionCheck": true}"#,
        ),
        (
            "indexuser",
            r#"{"datasource": "callsdemo", "user": {"email": "bob@example.com", "name": "Bob", "userId": "u-2", "isActive": true}}"#,
        ),
        (
            "indexgroup",
            r#"{"datasource": "callsdemo", "group": {"name": "sales"}}"#,
        ),
        (
            "indexmembership",
            r#"{"datasource": "callsdemo", "membership": {"groupName": "sales", "memberUserId": "bob@example.com"}}"#,
        ),
        (
            "bulkindexgroups",
            r#"{"uploadId": "g-1", "isFirstPage": true, "isLastPage": false, "datasource": "callsdemo", "groups": [{"name": "sales"}, {"name": "emea"}]}"#,
        ),
        (
            "bulkindexmemberships",
            r#"{"uploadId": "m-1", "isFirstPage": true, "isLastPage": true, "datasource": "callsdemo", "group": "emea", "memberships": [{"memberUserId": "alice@example.com"}]}"#,
        ),
        ("processalldocuments", r#"{"datasource": "callsdemo"}"#),
        (
            "deletedocument",
            r#"{"datasource": "callsdemo", "objectType": "Call", "id": "does-not-exist"}"#,
        ),
        (
            "deletegroup",
            r#"{"datasource": "callsdemo", "groupName": "emea"}"#,
        ),
        (
            "deleteuser",
            r#"{"datasource": "callsdemo", "email": "nobody@example.com"}"#,
        ),
    ];
    for (endpoint, body) in writes {
        let (status, _, text) = c.post(endpoint, Some(body));
        assert_eq!(status, 200, "/{endpoint}: {text}");
        assert!(
            text.is_empty(),
            "/{endpoint} answers an empty body, not {text}"
        );
    }
    // JSON answers: exact content type and spec-valid bodies.
    let reads = [
        (
            "getdatasourceconfig",
            "/getdatasourceconfig",
            Some(r#"{"datasource": "callsdemo"}"#),
        ),
        (
            "checkdocumentaccess",
            "/checkdocumentaccess",
            Some(
                r#"{"datasource": "callsdemo", "objectType": "Call", "docId": "call-001", "userEmail": "alice@example.com"}"#,
            ),
        ),
        (
            "getdocumentcount",
            "/getdocumentcount",
            Some(r#"{"datasource": "callsdemo"}"#),
        ),
        (
            "getdocumentstatus",
            "/getdocumentstatus",
            Some(r#"{"datasource": "callsdemo", "objectType": "Call", "docId": "call-001"}"#),
        ),
        ("debug/callsdemo/status", "/debug/{datasource}/status", None),
        (
            "debug/callsdemo/document",
            "/debug/{datasource}/document",
            Some(r#"{"objectType": "Call", "docId": "call-001"}"#),
        ),
        (
            "debug/callsdemo/documents",
            "/debug/{datasource}/documents",
            Some(
                r#"{"debugDocuments": [{"objectType": "Call", "docId": "call-001"}, {"objectType": "Call", "docId": "missing"}]}"#,
            ),
        ),
        (
            "debug/callsdemo/user",
            "/debug/{datasource}/user",
            Some(r#"{"email": "bob@example.com"}"#),
        ),
    ];
    for (endpoint, spec_path, body) in reads {
        let (status, ct, text) = c.post(endpoint, body);
        assert_eq!(status, 200, "/{endpoint}: {text}");
        assert_eq!(ct, "application/json; charset=UTF-8", "/{endpoint}");
        let value: Value = serde_json::from_str(&text).unwrap();
        let schema = openapi::response_schema(&spec, spec_path, "post", "200");
        assert!(
            !schema.is_null(),
            "the spec has a 200 schema for {spec_path}"
        );
        let errors = openapi::check(&spec, schema, &value);
        assert!(errors.is_empty(), "/{endpoint}: {errors:?}\n{text}");
    }
    // What the answers say is right, too.
    let (_, _, access) = c.post("checkdocumentaccess", Some(r#"{"datasource": "callsdemo", "objectType": "Call", "docId": "call-001", "userEmail": "bob@example.com"}"#));
    assert_eq!(
        serde_json::from_str::<Value>(&access).unwrap()["hasAccess"],
        true,
        "call-001 is public after the bulk upload"
    );
    let (_, _, count) = c.post("getdocumentcount", Some(r#"{"datasource": "callsdemo"}"#));
    assert_eq!(
        serde_json::from_str::<Value>(&count).unwrap()["documentCount"],
        2
    );
    // Errors keep their codes.
    assert_eq!(
        c.post(
            "indexdocuments",
            Some(r#"{"datasource": "nosuch", "documents": []}"#)
        )
        .0,
        400
    );
    let bad_token = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build();
    let agent: ureq::Agent = bad_token.into();
    let r = agent
        .post(format!(
            "{}/api/index/v1/getdatasourceconfig",
            mock.base_url()
        ))
        .header("Authorization", "Bearer nope")
        .send(&br#"{"datasource": "callsdemo"}"#[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
