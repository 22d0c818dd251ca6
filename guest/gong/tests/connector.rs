//! The connector's other exports against a scripted Gong: `describe`, settings, `check` and
//! `list-users`.

mod common;

use common::*;
use connector_sdk::http::{Method, Response};
use connector_sdk::testkit::TestHost;
use connector_sdk::{Connector, Error, PropertyKind, User, UserPage};
use gong_connector::{Gong, describe};
use serde_json::json;

#[test]
fn describe_declares_the_datasource() {
    let info = describe();
    assert_eq!(info.name, "gong");
    assert_eq!(info.display_name, "Gong");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        info.url_pattern,
        r"^https://([a-z0-9-]+\.)?app\.gong\.io/call\?id=[0-9]{1,20}$"
    );
    assert_eq!(info.upstreams.len(), 1);
    let up = &info.upstreams[0];
    assert_eq!(
        (up.name.as_str(), up.default_base_url.as_str()),
        ("gong", "https://api.gong.io")
    );
    assert_eq!(up.auth_headers, ["Authorization"]);
    let call = &info.object_types[0];
    assert_eq!(
        (call.name.as_str(), call.display_label.as_str()),
        ("call", "Call")
    );
    let kind = |name: &str| {
        let p = call.properties.iter().find(|p| p.name == name).unwrap();
        (p.kind, p.facet)
    };
    use PropertyKind::*;
    for (name, expected) in [
        ("participants", (TextList, true)),
        ("account", (Text, true)),
        ("opportunity", (Text, false)),
        ("direction", (Picklist, true)),
        ("system", (Picklist, true)),
        ("language", (Picklist, false)),
        ("scope", (Picklist, true)),
        ("purpose", (Text, false)),
        ("outcome", (Picklist, true)),
        ("topics", (TextList, true)),
        ("trackers", (TextList, true)),
        ("durationMinutes", (Integer, false)),
        ("callDate", (Date, false)),
    ] {
        assert_eq!(kind(name), expected, "{name}");
    }
    assert_eq!(call.properties.len(), 13);
    for p in &call.properties {
        assert!(
            p.name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{}",
            p.name
        );
    }
}

#[test]
fn bad_settings_are_config_errors() {
    for (key, value) in [
        ("history_days", "0"),
        ("history_days", "2000"),
        ("overlap_hours", "a day"),
        ("workspace_id", "main"),
        ("non_private_calls", "public"),
    ] {
        let host = TestHost::new().setting(key, value);
        match Gong::new(&host.ctx()) {
            Err(Error::Config(m)) => assert!(m.contains(key) && m.contains(value), "{m}"),
            Err(other) => panic!("{key}={value}: {other:?}"),
            Ok(_) => panic!("{key}={value} was accepted"),
        }
    }
    assert!(Gong::new(&TestHost::new().ctx()).is_ok());
}

fn users(host: &TestHost, cursor: Option<&str>) -> Result<UserPage, Error> {
    let ctx = host.ctx();
    Gong::new(&ctx)?.list_users(&ctx, cursor)
}

fn flat(users: &[User]) -> Vec<(String, String, String, bool)> {
    users
        .iter()
        .map(|u| (u.id.clone(), u.email.clone(), u.name.clone(), u.active))
        .collect()
}

#[test]
fn users_pages_map_and_follow_the_cursor() {
    let page_1 = json!({"requestId": "1", "records": {"totalRecords": 4, "currentPageSize": 3, "currentPageNumber": 0, "cursor": "eyJwYWdlIjoxfQ=="},
    "users": [
        {"id": "234599484848423", "emailAddress": "Ann.Rep@Acme.com", "created": "2026-06-10T21:50:07.428+02:00",
         "active": true, "emailAliases": [], "trustedEmailAddress": null, "firstName": "Ann", "lastName": "Rep",
         "title": null, "phoneNumber": null, "managerId": null, "conferencingProviders": null, "spokenLanguages": []},
        {"id": "1309263961237846110", "emailAddress": null, "firstName": "No", "lastName": "Email", "active": true},
        {"id": "1309263961237846111", "emailAddress": "left@acme.com", "firstName": null, "lastName": "  ", "active": false}
    ]});
    let page_2 = json!({"requestId": "2", "records": {"totalRecords": 4, "currentPageSize": 1, "currentPageNumber": 1},
        "users": [{"id": "1309263961237846112", "emailAddress": "sam.se@acme.com", "firstName": "Sam", "lastName": "Engineer"}]});
    let host = TestHost::new().at_ms(now_ms()).handle(move |r| {
        (r.method == Method::Get && r.path == "/v2/users").then(|| {
            Ok(match query(r, "cursor") {
                None => Response::of_json(200, &page_1),
                Some("eyJwYWdlIjoxfQ==") => Response::of_json(200, &page_2),
                Some(_) => gong_error(400, "Bad request"),
            })
        })
    });
    let first = users(&host, None).unwrap();
    assert_eq!(
        flat(&first.users),
        [
            (
                "234599484848423".into(),
                "ann.rep@acme.com".into(),
                "Ann Rep".into(),
                true
            ),
            (
                "1309263961237846111".into(),
                "left@acme.com".into(),
                "left@acme.com".into(),
                false
            ),
        ]
    );
    let next = first.next_cursor.expect("a second page");
    let second = users(&host, Some(&next)).unwrap();
    assert_eq!(
        flat(&second.users),
        [(
            "1309263961237846112".into(),
            "sam.se@acme.com".into(),
            "Sam Engineer".into(),
            true
        )]
    );
    assert_eq!(second.next_cursor, None);
    assert_eq!(
        host.requests()[1].path_and_query(),
        "/v2/users?cursor=eyJwYWdlIjoxfQ%3D%3D"
    );
}

#[test]
fn no_users_is_an_empty_last_page() {
    let host = TestHost::new().at_ms(now_ms()).on(
        Method::Get,
        "gong",
        "/v2/users",
        gong_error(404, "No users found corresponding to the provided filters"),
    );
    let page = users(&host, None).unwrap();
    assert!(page.users.is_empty() && page.next_cursor.is_none());
}

#[test]
fn check_lists_users_and_the_last_day_of_calls() {
    let host = TestHost::new()
        .setting("workspace_id", "623457276584334")
        .at_ms(now_ms())
        .on(
            Method::Get,
            "gong",
            "/v2/users",
            Response::of_json(200, &json!({"users": []})),
        )
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    let ctx = host.ctx();
    Gong::new(&ctx).unwrap().check(&ctx).unwrap();
    let sent = host.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(query(&sent[1], "workspaceId"), Some("623457276584334"));

    let refused = TestHost::new().at_ms(now_ms()).on(
        Method::Get,
        "gong",
        "/v2/users",
        gong_error(401, "Access denied"),
    );
    let ctx = refused.ctx();
    assert!(matches!(
        Gong::new(&ctx).unwrap().check(&ctx),
        Err(Error::Config(m)) if m.contains("access key and secret")
    ));
}
