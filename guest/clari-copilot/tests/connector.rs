//! The connector's other exports against the fake Clari: `describe`, `check`,
//! `list-users`, and the errors of `fetch-item`.

mod common;

use clari_copilot_connector::config::Settings;
use clari_copilot_connector::{ClariCopilot, describe};
use common::{FakeClari, json_response};
use connector_sdk::{Connector as _, Ctx};
use connector_sdk::{Error, PropertyKind, Visibility};
use serde_json::json;

fn connector() -> ClariCopilot {
    ClariCopilot::with_settings(Settings::default())
}

#[test]
fn describe_declares_the_datasource() {
    let info = describe();
    assert_eq!(info.name, "claricopilot");
    assert!(info.name.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(info.display_name, "Clari Copilot");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.url_pattern, r"https://copilot\.clari\.com/call/.*");
    assert_eq!(info.upstreams.len(), 1);
    assert_eq!(info.upstreams[0].name, "clari");
    assert_eq!(
        info.upstreams[0].default_base_url,
        "https://rest-api.copilot.clari.com"
    );
    assert_eq!(
        info.upstreams[0].auth_headers,
        vec!["X-Api-Key", "X-Api-Password"]
    );
    assert_eq!(info.object_types.len(), 1);
    let call = &info.object_types[0];
    assert_eq!(call.name, "call");
    let kind = |name: &str| {
        call.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.kind, p.facet))
            .unwrap_or_else(|| panic!("property {name} is declared"))
    };
    assert!(matches!(
        kind("participant"),
        (PropertyKind::TextList, true)
    ));
    assert!(matches!(kind("organizer"), (PropertyKind::User, _)));
    assert!(matches!(kind("account"), (PropertyKind::Picklist, true)));
    assert!(matches!(kind("opportunity"), (PropertyKind::Text, true)));
    assert!(matches!(kind("topic"), (PropertyKind::TextList, true)));
    assert!(matches!(kind("callDate"), (PropertyKind::Date, true)));
    assert!(matches!(kind("callType"), (PropertyKind::Picklist, true)));
    assert!(matches!(
        kind("durationMinutes"),
        (PropertyKind::Integer, _)
    ));
    assert!(matches!(kind("dealStage"), (_, true)));
    assert!(matches!(kind("competitor"), (PropertyKind::TextList, true)));
    for p in &call.properties {
        assert!(
            p.name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{} is camelCase",
            p.name
        );
        assert!(
            p.name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
        );
    }
}

#[test]
fn every_property_an_item_carries_is_declared() {
    let declared: Vec<String> = describe().object_types[0]
        .properties
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let id = body["call"]["id"].as_str().unwrap().to_string();
        let fake = FakeClari::default();
        fake.details.borrow_mut().insert(id.clone(), body);
        let item = connector()
            .fetch_item(&Ctx::new(&fake).at_ms(0), &id, Visibility::Public)
            .unwrap();
        for p in &item.properties {
            assert!(
                declared.contains(&p.name),
                "{} on {id} is not declared",
                p.name
            );
        }
    }
}

#[test]
fn check_and_users() {
    let fake = FakeClari::default();
    *fake.users.borrow_mut() = json!({"users": [
        {"id": "e04483dd", "email": "April@Acme.com", "name": "April", "role": "MANAGER", "is_recording": true},
        {"id": "f1a2", "email": "se@acme.com", "name": null, "role": "ADMIN"},
        {"id": "dup", "email": "april@acme.com", "name": "April again"},
        {"id": "no-email", "name": "Ghost"},
        {"email": "noid@acme.com", "name": "  "},
        "junk"
    ]});
    connector().check(&Ctx::new(&fake).at_ms(0)).unwrap();
    let page = connector()
        .list_users(&Ctx::new(&fake).at_ms(0), None)
        .unwrap();
    assert_eq!(page.next_cursor, None);
    let got: Vec<(String, String, String, bool)> = page
        .users
        .into_iter()
        .map(|u| (u.id, u.email, u.name, u.active))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "e04483dd".into(),
                "april@acme.com".into(),
                "April".into(),
                true
            ),
            (
                "f1a2".into(),
                "se@acme.com".into(),
                "se@acme.com".into(),
                true
            ),
            (
                "noid@acme.com".into(),
                "noid@acme.com".into(),
                "noid@acme.com".into(),
                true
            ),
        ]
    );
    assert!(
        fake.requests
            .borrow()
            .iter()
            .all(|r| r.path == "/users" && r.query.is_empty())
    );
}

#[test]
fn check_maps_refused_credentials_to_config() {
    let fake = FakeClari::default();
    fake.set_fault(|_| {
        Some(Ok(json_response(
            401,
            json!({"errorMessage": "Credentials not provided!, see documentation: https://api-doc.copilot.clari.com"}),
        )))
    });
    match connector().check(&Ctx::new(&fake).at_ms(0)).unwrap_err() {
        Error::Config(m) => {
            assert!(m.contains("check the Clari Copilot API key and password (Workspace Settings > Integrations > Clari Copilot API)"), "{m}");
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        connector().list_users(&Ctx::new(&fake).at_ms(0), None),
        Err(Error::Config(_))
    ));
    let fake = FakeClari::default();
    fake.set_fault(|_| Some(Ok(json_response(200, json!({"people": []})))));
    assert!(matches!(
        connector().list_users(&Ctx::new(&fake).at_ms(0), None),
        Err(Error::System(_))
    ));
}

#[test]
fn fetch_errors() {
    let fake = FakeClari::default();
    fake.details.borrow_mut().insert(
        "other".into(),
        json!({"call": {"id": "someone-else", "time": "2025-01-01T00:00:00Z"}}),
    );
    fake.details.borrow_mut().insert(
        "badtime".into(),
        json!({"call": {"id": "badtime", "time": "the day after"}}),
    );
    fake.details
        .borrow_mut()
        .insert("nowrap".into(), json!({"id": "nowrap"}));
    fake.details
        .borrow_mut()
        .insert("notobject".into(), json!({"call": ["x"]}));
    fake.details
        .borrow_mut()
        .insert("minimal".into(), json!({"call": {}}));
    let c = connector();
    let fetch = |id: &str| c.fetch_item(&Ctx::new(&fake).at_ms(0), id, Visibility::Public);
    assert!(matches!(fetch("missing"), Err(Error::NotFound(_))));
    for (id, field) in [
        ("other", "`id`"),
        ("badtime", "`time`"),
        ("nowrap", "`call`"),
        ("notobject", "`call`"),
    ] {
        match fetch(id) {
            Err(Error::System(m)) => assert!(m.contains(id) && m.contains(field), "{id}: {m}"),
            other => panic!("{id}: {other:?}"),
        }
    }
    // A call object with nothing in it still maps, with fallbacks.
    let item = fetch("minimal").unwrap();
    assert_eq!(item.title, "Untitled call");
    assert_eq!(item.url, "https://copilot.clari.com/call/minimal");
    assert_eq!(item.access.members, None);
    assert_eq!(item.created_at, None);
    // The id is percent-encoded in the request.
    assert!(
        fake.requests
            .borrow()
            .iter()
            .any(|r| r.path_and_query() == "/call-details?id=missing")
    );
    let odd = "a b/ü?";
    let _ = fetch(odd);
    assert!(
        fake.requests
            .borrow()
            .iter()
            .any(|r| r.path_and_query() == "/call-details?id=a%20b%2F%C3%BC%3F")
    );
}

#[test]
fn fetch_http_errors_keep_their_category() {
    for (status, retry, expect) in [
        (401, None, "config"),
        (403, None, "config"),
        (404, None, "not-found"),
        (429, Some("7"), "transient"),
        (502, None, "transient"),
        (504, None, "transient"),
        (400, None, "system"),
    ] {
        let fake = FakeClari::default();
        fake.set_fault(move |_| {
            let mut r = json_response(status, json!({"errorMessage": "nope"}));
            if let Some(s) = retry {
                r.headers.push(("Retry-After".into(), s.into()));
            }
            Some(Ok(r))
        });
        let e = connector()
            .fetch_item(&Ctx::new(&fake).at_ms(0), "x", Visibility::Public)
            .unwrap_err();
        let ok = match (&e, expect) {
            (Error::Config(_), "config") | (Error::NotFound(_), "not-found") => true,
            (Error::System(m), "system") => m.contains("nope"),
            (Error::Transient { retry_after_ms, .. }, "transient") => {
                *retry_after_ms == retry.map(|_| 7000)
            }
            _ => false,
        };
        assert!(ok, "HTTP {status}: expected {expect}, got {e:?}");
    }
}

#[test]
fn a_call_older_than_the_history_window_is_not_found() {
    let fake = FakeClari::default();
    fake.details.borrow_mut().insert(
        "old".into(),
        json!({"call": {"id": "old", "title": "Old", "time": "2025-01-01T00:00:00Z"}}),
    );
    fake.details.borrow_mut().insert(
        "recent".into(),
        json!({"call": {"id": "recent", "title": "Recent", "time": "2026-10-01T00:00:00Z"}}),
    );
    // 2026-11-25T00:00:00Z; the default window is 12 months.
    let now_ms = 1_795_564_800_000;
    let c = connector();
    let old = c.fetch_item(&Ctx::new(&fake).at_ms(now_ms), "old", Visibility::Public);
    assert!(
        matches!(&old, Err(Error::NotFound(m)) if m.contains("history window")),
        "{old:?}"
    );
    assert!(
        c.fetch_item(&Ctx::new(&fake).at_ms(now_ms), "recent", Visibility::Public)
            .is_ok()
    );
}
