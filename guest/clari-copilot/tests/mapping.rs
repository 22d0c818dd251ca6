//! Snapshots of the items mapped from the fixture corpus (`tests/fixtures/*.json`, answers
//! of `/call-details` written from the reference's real shapes): the item without its body
//! as JSON, with the permissions it maps to, and the body as text.

mod common;

use clari_copilot_connector::config::Settings;
use clari_copilot_connector::{ClariCopilot, permissions};
use common::FakeClari;
use connector_sdk::{Connector as _, Ctx};
use connector_sdk::{Item, Permissions, PropertyValue, Visibility};
use serde_json::{Value, json};

fn fetch(fixture: &str, visibility: Visibility) -> Item {
    let path = format!(
        "{}/tests/fixtures/{fixture}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let id = body["call"]["id"].as_str().unwrap().to_string();
    let fake = FakeClari::default();
    fake.details.borrow_mut().insert(id.clone(), body);
    let item = ClariCopilot::with_settings(Settings::default())
        .fetch_item(&Ctx::new(&fake).at_ms(0), &id, visibility)
        .unwrap();
    assert_eq!(item.id, id);
    item
}

fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Restricted => "restricted",
        Visibility::Unknown => "unknown",
    }
}

/// The item as JSON (body left out: it has its own snapshot) with its permissions.
fn item_json(item: &Item) -> Value {
    let properties: Vec<Value> = item
        .properties
        .iter()
        .map(|p| {
            let value = match &p.value {
                PropertyValue::Text(s) => json!({"text": s}),
                PropertyValue::TextList(l) => json!({"textList": l}),
                PropertyValue::Date(d) => json!({"date": d}),
                PropertyValue::Integer(i) => json!({"integer": i}),
            };
            json!({"name": p.name, "value": value})
        })
        .collect();
    let perms = match permissions::map(&item.access) {
        Permissions::AllUsers => json!("all-users"),
        Permissions::Users(u) => json!({"users": u}),
        Permissions::Nobody => json!("nobody"),
    };
    json!({
        "id": item.id,
        "objectType": item.object_type,
        "title": item.title,
        "url": item.url,
        "summary": item.summary,
        "author": item.author.as_ref().map(|a| json!({"email": a.email, "name": a.name})),
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
        "container": item.container,
        "tags": item.tags,
        "properties": properties,
        "access": {"visibility": visibility_name(item.access.visibility), "members": item.access.members},
        "permissions": perms,
    })
}

macro_rules! fixture_test {
    ($name:ident, $file:literal, $visibility:expr) => {
        #[test]
        fn $name() {
            let item = fetch($file, $visibility);
            insta::assert_json_snapshot!(concat!($file, "-item"), item_json(&item));
            insta::assert_snapshot!(concat!($file, "-body"), item.body);
            // Every URL matches the url-pattern `describe` declares.
            assert!(
                item.url.starts_with("https://copilot.clari.com/call/"),
                "{}",
                item.url
            );
        }
    };
}

fixture_test!(full_call, "full", Visibility::Public);
fixture_test!(call_without_crm, "no-crm", Visibility::Public);
fixture_test!(private_call, "private", Visibility::Restricted);
fixture_test!(
    recording_with_numeric_timestamps,
    "recording",
    Visibility::Public
);
fixture_test!(
    missing_person_ids_and_unknown_speakers,
    "speakers",
    Visibility::Public
);
fixture_test!(unicode_everywhere, "unicode", Visibility::Public);
fixture_test!(empty_transcript, "empty-transcript", Visibility::Public);
fixture_test!(nulls_everywhere, "nulls", Visibility::Restricted);
fixture_test!(unknown_enum_values, "unknown-enums", Visibility::Public);
fixture_test!(
    private_call_without_users_list,
    "no-users",
    Visibility::Restricted
);
fixture_test!(
    numbers_sent_as_strings,
    "numbers-as-strings",
    Visibility::Unknown
);

#[test]
fn the_visibility_given_is_the_visibility_kept() {
    for v in [
        Visibility::Public,
        Visibility::Restricted,
        Visibility::Unknown,
    ] {
        assert_eq!(fetch("full", v).access.visibility, v);
    }
}
