//! `fetch-item` against a scripted Gong: the mapping, who may see a call, and deletion only on
//! proof.

mod common;

use common::*;
use connector_sdk::http::{Method, Response};
use connector_sdk::testkit::TestHost;
use connector_sdk::time::parse_iso8601_ms;
use connector_sdk::{Connector, Error, Item, Permissions, PropertyValue, Visibility};
use gong_connector::Gong;
use serde_json::{Value, json};

fn host_for(call: Value) -> TestHost {
    TestHost::new()
        .at_ms(now_ms())
        .on(
            Method::Post,
            "gong",
            "/v2/calls/extensive",
            extensive_page(vec![call]),
        )
        .on(
            Method::Post,
            "gong",
            "/v2/calls/transcript",
            transcript(CALL_ID),
        )
}

fn fetch(host: &TestHost) -> Result<(Item, Permissions), Error> {
    let ctx = host.ctx();
    let item = Gong::new(&ctx)?.fetch_item(&ctx, CALL_ID, Visibility::Restricted)?;
    let permissions = Gong::map_permissions(&item.access);
    Ok((item, permissions))
}

fn property<'a>(item: &'a Item, name: &str) -> Option<&'a PropertyValue> {
    item.properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| &p.value)
}

fn text(item: &Item, name: &str) -> Option<String> {
    match property(item, name) {
        Some(PropertyValue::Text(t)) => Some(t.clone()),
        other => panic!("{name}: {other:?}"),
    }
}

fn list(item: &Item, name: &str) -> Vec<String> {
    match property(item, name) {
        Some(PropertyValue::TextList(l)) => l.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn maps_a_call_with_parties_crm_and_transcript() {
    let host = host_for(extensive_call(CALL_ID, json!(true), parties()));
    let (item, _) = fetch(&host).unwrap();
    assert_eq!(item.id, CALL_ID);
    assert_eq!(item.object_type, "call");
    assert_eq!(item.title, "Acme / Intro call");
    assert_eq!(
        item.url,
        format!("https://us-49467.app.gong.io/call?id={CALL_ID}")
    );
    assert_eq!(item.container.as_deref(), Some("Acme Corp"));
    let author = item.author.clone().unwrap();
    assert_eq!(author.name.as_deref(), Some("Ann Rep"));
    assert_eq!(author.email.as_deref(), Some("ann.rep@acme.com"));
    let started_s = parse_iso8601_ms("2026-10-30T21:00:00.123Z").unwrap() / 1000;
    assert_eq!(
        (item.created_at, item.updated_at),
        (Some(started_s), Some(started_s))
    );
    assert_eq!(
        item.summary.as_deref(),
        Some("Ann walked Bob through pricing; Bob wants a pilot.")
    );
    assert_eq!(item.tags, ["Pricing", "Next Steps"]);

    for expected in [
        "Date: 2026-10-30 21:00 UTC",
        "Duration: 30 min",
        "Direction: Conference",
        "Participants:\n- Ann Rep, AE (Internal)\n- Sam Engineer, SE (Internal)\n- Bob Buyer, CTO (External)\n\n",
        "Account: Acme Corp",
        "Opportunity: Acme - Expansion 2027 (stage: Discovery)",
        "Brief:\nAnn walked Bob through pricing; Bob wants a pilot.",
        "Key points:\n- Pilot in Q1",
        "Outline:\nIntro (00:00)\n- Introductions",
        "Highlights:\nNext steps\n- Send the pilot proposal",
        "Outcome: Meeting booked (Answered)",
        "Topics: Pricing, Next Steps",
        "Trackers: Competitors ×7, Budget",
        "Transcript:\n[00:12] Ann Rep: Thanks for joining, Bob. Shall we start with pricing?\n[07:40] Bob Buyer: No wait, I think we should check that out first.\n[75:03] Speaker: Bye.",
    ] {
        assert!(
            item.body.contains(expected),
            "missing {expected:?} in:\n{}",
            item.body
        );
    }
}

#[test]
fn maps_the_declared_properties() {
    let host = host_for(extensive_call(CALL_ID, json!(true), parties()));
    let (item, _) = fetch(&host).unwrap();
    let started_s = parse_iso8601_ms("2026-10-30T21:00:00.123Z").unwrap() / 1000;
    assert_eq!(text(&item, "account").as_deref(), Some("Acme Corp"));
    assert_eq!(
        text(&item, "opportunity").as_deref(),
        Some("Acme - Expansion 2027")
    );
    assert_eq!(text(&item, "direction").as_deref(), Some("Conference"));
    assert_eq!(text(&item, "system").as_deref(), Some("Zoom"));
    assert_eq!(text(&item, "language").as_deref(), Some("eng"));
    assert_eq!(text(&item, "scope").as_deref(), Some("External"));
    assert_eq!(text(&item, "purpose").as_deref(), Some("Discovery"));
    assert_eq!(text(&item, "outcome").as_deref(), Some("Meeting booked"));
    assert_eq!(
        list(&item, "participants"),
        ["Ann Rep", "Sam Engineer", "Bob Buyer"]
    );
    assert_eq!(list(&item, "topics"), ["Pricing", "Next Steps"]);
    assert_eq!(list(&item, "trackers"), ["Competitors", "Budget"]);
    assert!(matches!(
        property(&item, "durationMinutes"),
        Some(PropertyValue::Integer(30))
    ));
    assert!(matches!(property(&item, "callDate"), Some(PropertyValue::Date(s)) if *s == started_s));
    let declared: Vec<String> = gong_connector::describe().object_types[0]
        .properties
        .iter()
        .map(|p| p.name.clone())
        .collect();
    for p in &item.properties {
        assert!(declared.contains(&p.name), "{} is not declared", p.name);
    }
}

#[test]
fn sends_the_extensive_and_transcript_requests_gong_expects() {
    let host = host_for(extensive_call(CALL_ID, json!(true), parties()));
    fetch(&host).unwrap();
    let sent = host.requests();
    assert_eq!(sent.len(), 2);
    let body =
        |i: usize| -> Value { serde_json::from_slice(sent[i].body.as_deref().unwrap()).unwrap() };
    assert_eq!(
        body(0),
        json!({"filter": {"callIds": [CALL_ID]},
               "contentSelector": {"context": "Extended", "contextTiming": ["Now"],
                   "exposedFields": {"parties": true, "content": {"topics": true, "trackers": true, "brief": true,
                       "outline": true, "highlights": true, "callOutcome": true, "keyPoints": true}}}})
    );
    assert_eq!(body(1), json!({"filter": {"callIds": [CALL_ID]}}));
    for r in &sent {
        assert_eq!(r.upstream, "gong");
        assert!(r.query.is_empty());
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v == "application/json")
        );
        assert!(
            !r.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        );
    }
}

#[test]
fn a_private_call_is_restricted_to_its_internal_participants() {
    let host = host_for(extensive_call(CALL_ID, json!(true), parties()))
        .setting("non_private_calls", "everyone");
    let (item, permissions) = fetch(&host).unwrap();
    assert_eq!(item.access.visibility, Visibility::Restricted);
    // The external buyer has an email and is not a member; the phone-only party has none.
    assert!(
        matches!(&permissions, Permissions::Users(u) if u == &["ann.rep@acme.com", "sam.se@acme.com"]),
        "{permissions:?}"
    );
}

#[test]
fn unknown_privacy_is_treated_as_private() {
    let mut call = extensive_call(CALL_ID, json!(null), parties());
    for (is_private, expected) in [
        (json!(null), true),
        (json!("false"), true),
        (json!(false), false),
    ] {
        call["metaData"]["isPrivate"] = is_private.clone();
        let host = host_for(call.clone()).setting("non_private_calls", "everyone");
        let (_, permissions) = fetch(&host).unwrap();
        assert_eq!(
            matches!(permissions, Permissions::Users(_)),
            expected,
            "{is_private}"
        );
    }
    call["metaData"]
        .as_object_mut()
        .unwrap()
        .remove("isPrivate");
    let host = host_for(call).setting("non_private_calls", "everyone");
    assert!(matches!(fetch(&host).unwrap().1, Permissions::Users(u) if u.len() == 2));
}

#[test]
fn the_everyone_rule_makes_non_private_calls_public() {
    let call = extensive_call(CALL_ID, json!(false), parties());
    let host = host_for(call.clone()).setting("non_private_calls", "everyone");
    let (item, permissions) = fetch(&host).unwrap();
    assert_eq!(item.access.visibility, Visibility::Public);
    assert!(matches!(permissions, Permissions::AllUsers));
    // The default rule restricts the same call to its participants.
    let (_, permissions) = fetch(&host_for(call)).unwrap();
    assert!(matches!(permissions, Permissions::Users(u) if u.len() == 2));
}

#[test]
fn a_call_without_internal_parties_is_visible_to_nobody() {
    let externals = json!([
        {"id": "1", "emailAddress": "bob@customer.com", "name": "Bob Buyer", "affiliation": "External", "userId": null},
        {"id": "2", "emailAddress": "eve@other.com", "name": "Eve", "affiliation": "Unknown"}
    ]);
    let host = host_for(extensive_call(CALL_ID, json!(false), externals));
    let (item, permissions) = fetch(&host).unwrap();
    assert_eq!(item.access.visibility, Visibility::Unknown);
    assert!(matches!(permissions, Permissions::Nobody));
    assert!(item.author.is_none());
    let host = host_for(extensive_call(CALL_ID, json!(true), json!(null)));
    assert!(matches!(fetch(&host).unwrap().1, Permissions::Nobody));
}

#[test]
fn a_sparse_call_still_maps() {
    let call = json!({"metaData": {"id": CALL_ID, "title": null, "url": null, "started": null, "isPrivate": true}});
    let host = TestHost::new()
        .at_ms(now_ms())
        .on(
            Method::Post,
            "gong",
            "/v2/calls/extensive",
            extensive_page(vec![call]),
        )
        .on(Method::Post, "gong", "/v2/calls/transcript", no_calls());
    let (item, permissions) = fetch(&host).unwrap();
    assert_eq!(item.title, "Untitled Gong call");
    assert_eq!(item.url, format!("https://app.gong.io/call?id={CALL_ID}"));
    assert_eq!(
        (item.created_at, item.summary, item.container),
        (None, None, None)
    );
    assert!(item.properties.is_empty(), "{:?}", item.properties);
    assert!(!item.body.contains("Transcript"));
    assert!(matches!(permissions, Permissions::Nobody));
}

/// Extensive finds nothing; `GET /v2/calls/{id}` answers `by_id`.
fn vanished(by_id: Response) -> TestHost {
    TestHost::new()
        .at_ms(now_ms())
        .on(Method::Post, "gong", "/v2/calls/extensive", no_calls())
        .on(Method::Get, "gong", &format!("/v2/calls/{CALL_ID}"), by_id)
}

#[test]
fn deleted_only_on_proof() {
    let gone = vanished(gong_error(404, &format!("Call ID {CALL_ID} was not found")));
    match fetch(&gone) {
        Err(Error::NotFound(m)) => assert!(m.contains("was not found"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(gone.requests().len(), 2);

    let down = vanished(gong_error(500, "Internal error"));
    assert!(matches!(fetch(&down), Err(Error::Transient { .. })));
    let limited = vanished(gong_error(429, "Too many requests").with_header("Retry-After", "2"));
    assert!(matches!(
        fetch(&limited),
        Err(Error::Transient {
            retry_after_ms: Some(2000),
            ..
        })
    ));
    let odd = vanished(gong_error(404, "No such endpoint"));
    assert!(matches!(fetch(&odd), Err(Error::System(_))));

    let basic = json!({"requestId": "x", "call": common::basic_call(CALL_ID, "2026-10-30T14:00:00Z", json!(false))});
    let lagging = vanished(Response::of_json(200, &basic));
    match fetch(&lagging) {
        Err(Error::Transient { message, .. }) => assert!(
            message.contains("not by /v2/calls/extensive yet"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // An empty `calls` list is the same as Gong's empty-result 404.
    let empty = TestHost::new()
        .at_ms(now_ms())
        .on(
            Method::Post,
            "gong",
            "/v2/calls/extensive",
            extensive_page(Vec::new()),
        )
        .on(
            Method::Get,
            "gong",
            &format!("/v2/calls/{CALL_ID}"),
            gong_error(404, "Call ID 1 was not found"),
        );
    assert!(matches!(fetch(&empty), Err(Error::NotFound(_))));
}

#[test]
fn extensive_errors_never_delete() {
    for answer in [
        gong_error(500, "Internal error"),
        gong_error(404, "Not Found"),
        gong_error(403, "Access denied"),
    ] {
        let host =
            TestHost::new()
                .at_ms(now_ms())
                .on(Method::Post, "gong", "/v2/calls/extensive", answer);
        let e = fetch(&host).unwrap_err();
        assert!(!matches!(e, Error::NotFound(_)), "{e:?}");
        assert_eq!(host.requests().len(), 1, "no confirmation on an error");
    }
    let transcript_down = TestHost::new()
        .at_ms(now_ms())
        .on(
            Method::Post,
            "gong",
            "/v2/calls/extensive",
            extensive_page(vec![extensive_call(CALL_ID, json!(true), parties())]),
        )
        .on(
            Method::Post,
            "gong",
            "/v2/calls/transcript",
            gong_error(502, "Bad gateway"),
        );
    assert!(matches!(
        fetch(&transcript_down),
        Err(Error::Transient { .. })
    ));
}

#[test]
fn ids_that_are_not_gong_ids_are_refused_without_a_request() {
    let host = TestHost::new().at_ms(now_ms());
    let ctx = host.ctx();
    let e = Gong::new(&ctx)
        .unwrap()
        .fetch_item(&ctx, "../users", Visibility::Public)
        .unwrap_err();
    assert!(matches!(e, Error::System(_)));
    assert!(host.requests().is_empty());
}
