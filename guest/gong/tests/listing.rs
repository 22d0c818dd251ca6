//! `list-changes` against a scripted Gong: slices, pages, empty windows, expired cursors,
//! errors, and the incremental window.

mod common;

use common::*;
use connector_sdk::http::{Method, Request, Response};
use connector_sdk::testkit::TestHost;
use connector_sdk::time::parse_iso8601_ms;
use connector_sdk::{
    ChangePage, ChangeState, Connector, CrawlMode, Error, Level, ListingNext, Visibility,
};
use gong_connector::Gong;
use gong_connector::listing::REQUEST_BUDGET;
use serde_json::{Value, json};

const CURSOR_1: &str = "eyJhbGciOiJIUzI1NiJ9.eyJjYWxsSWQiOjQ5NTM3MDc2MDE3NzYyMzgzNjB9.a+b/c=";
const ID_2: &str = "7782342274025937001";

fn list(host: &TestHost, mode: CrawlMode, cursor: Option<&str>) -> Result<ChangePage, Error> {
    let ctx = host.ctx();
    Gong::new(&ctx)?.list_changes(&ctx, mode, cursor)
}

fn next_cursor(page: &ChangePage) -> (&'static str, String) {
    match &page.next {
        ListingNext::More(c) => ("more", c.clone()),
        ListingNext::Done(c) => ("done", c.clone()),
    }
}

fn calls(r: &Request) -> bool {
    r.method == Method::Get && r.upstream == "gong" && r.path == "/v2/calls"
}

/// A host whose only slice (7 days of history) has two pages.
fn two_pages(private_2: Value) -> TestHost {
    TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms())
        .handle(move |r| {
            if !calls(r) {
                return None;
            }
            Some(Ok(match query(r, "cursor") {
                None => calls_page(
                    vec![basic_call(
                        CALL_ID,
                        "2026-10-30T14:00:00.123-07:00",
                        json!(false),
                    )],
                    Some(CURSOR_1),
                    0,
                ),
                Some(c) if c == CURSOR_1 => calls_page(
                    vec![basic_call(
                        ID_2,
                        "2026-10-31T09:30:00+02:00",
                        private_2.clone(),
                    )],
                    None,
                    1,
                ),
                Some(_) => gong_error(400, "Bad request"),
            }))
        })
}

#[test]
fn one_slice_of_two_pages() {
    let host = two_pages(json!(true));
    let first = list(&host, CrawlMode::Full, None).unwrap();
    let (kind, cursor) = next_cursor(&first);
    assert_eq!(kind, "more");
    assert_eq!(first.changes.len(), 1);
    let c = &first.changes[0];
    assert_eq!(c.id, CALL_ID);
    assert!(matches!(
        c.state,
        ChangeState::Ready(Visibility::Restricted)
    ));
    assert_eq!(c.modified_at, parse_iso8601_ms("2026-10-30T21:00:00.123Z"));
    assert_eq!(c.fingerprint.as_deref().map(str::len), Some(16));

    let second = list(&host, CrawlMode::Full, Some(&cursor)).unwrap();
    assert_eq!(next_cursor(&second).0, "done");
    assert_eq!(second.changes.len(), 1);
    assert_eq!(second.changes[0].id, ID_2);

    let sent: Vec<String> = host.requests().iter().map(|r| r.path_and_query()).collect();
    assert_eq!(
        sent,
        vec![
            "/v2/calls?fromDateTime=2026-10-25T00%3A00%3A00Z&toDateTime=2026-11-01T00%3A00%3A00Z"
                .to_string(),
            format!(
                "/v2/calls?fromDateTime=2026-10-25T00%3A00%3A00Z&toDateTime=2026-11-01T00%3A00%3A00Z&cursor={}",
                "eyJhbGciOiJIUzI1NiJ9.eyJjYWxsSWQiOjQ5NTM3MDc2MDE3NzYyMzgzNjB9.a%2Bb%2Fc%3D"
            ),
        ]
    );
}

#[test]
fn everyone_rule_makes_non_private_calls_public_in_the_listing() {
    let host = two_pages(Value::Null).setting("non_private_calls", "everyone");
    let first = list(&host, CrawlMode::Full, None).unwrap();
    assert!(matches!(
        first.changes[0].state,
        ChangeState::Ready(Visibility::Public)
    ));
    let (_, cursor) = next_cursor(&first);
    let second = list(&host, CrawlMode::Full, Some(&cursor)).unwrap();
    // isPrivate null: unknown, so restricted whatever the rule.
    assert!(matches!(
        second.changes[0].state,
        ChangeState::Ready(Visibility::Restricted)
    ));
    // The rule is part of the fingerprint: changing it makes the host fetch again.
    let participants = list(&two_pages(Value::Null), CrawlMode::Full, None).unwrap();
    assert_ne!(
        first.changes[0].fingerprint,
        participants.changes[0].fingerprint
    );
}

#[test]
fn an_empty_window_is_an_empty_done_page() {
    let host = TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms())
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    let page = list(&host, CrawlMode::Full, None).unwrap();
    assert!(page.changes.is_empty());
    assert_eq!(next_cursor(&page).0, "done");
    assert_eq!(host.requests().len(), 1);
}

#[test]
fn empty_slices_are_stepped_over_oldest_first() {
    let host = TestHost::new()
        .setting("history_days", "20")
        .at_ms(now_ms())
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    let page = list(&host, CrawlMode::Full, None).unwrap();
    assert_eq!(next_cursor(&page).0, "done");
    let windows: Vec<(String, String)> = host
        .requests()
        .iter()
        .map(|r| {
            (
                query(r, "fromDateTime").unwrap().to_string(),
                query(r, "toDateTime").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("2026-10-12T00:00:00Z", "2026-10-19T00:00:00Z"),
            ("2026-10-19T00:00:00Z", "2026-10-26T00:00:00Z"),
            ("2026-10-26T00:00:00Z", "2026-11-01T00:00:00Z"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn a_long_empty_history_hands_back_a_cursor_after_the_request_budget() {
    let host = TestHost::new()
        .at_ms(now_ms())
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        calls += 1;
        let page = list(&host, CrawlMode::Full, cursor.as_deref()).unwrap();
        assert!(page.changes.is_empty());
        match next_cursor(&page) {
            ("more", c) => cursor = Some(c),
            _ => break,
        }
    }
    // 180 days = 26 slices (25 of 7 days, one of 5).
    assert_eq!(host.requests().len(), 26);
    assert_eq!(calls, 26usize.div_ceil(REQUEST_BUDGET));
}

#[test]
fn other_404s_and_400s_are_errors() {
    for (answer, wanted) in [
        (gong_error(404, "Not Found"), "Not Found"),
        (
            gong_error(400, "filter.fromDateTime: must be before toDateTime"),
            "must be before",
        ),
    ] {
        let host = TestHost::new()
            .setting("history_days", "7")
            .at_ms(now_ms())
            .on(Method::Get, "gong", "/v2/calls", answer);
        match list(&host, CrawlMode::Full, None) {
            Err(Error::System(m)) => assert!(m.contains(wanted), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn refused_credentials_are_a_config_error() {
    let host = TestHost::new().at_ms(now_ms()).on(
        Method::Get,
        "gong",
        "/v2/calls",
        gong_error(401, "Access denied"),
    );
    match list(&host, CrawlMode::Full, None) {
        Err(Error::Config(m)) => {
            assert!(
                m.contains("Access denied") && m.contains("access key and secret"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rate_limits_are_transient_with_retry_after() {
    let host = TestHost::new().at_ms(now_ms()).on(
        Method::Get,
        "gong",
        "/v2/calls",
        gong_error(429, "Too many requests").with_header("Retry-After", "30"),
    );
    match list(&host, CrawlMode::Full, None) {
        Err(Error::Transient {
            message,
            retry_after_ms,
        }) => {
            assert_eq!(retry_after_ms, Some(30_000));
            assert!(
                message.contains("Too many requests") && message.contains("HTTP 429"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let host = TestHost::new().at_ms(now_ms()).on(
        Method::Get,
        "gong",
        "/v2/calls",
        Response::new(503, "<html>Service Unavailable</html>"),
    );
    assert!(matches!(
        list(&host, CrawlMode::Full, None),
        Err(Error::Transient {
            retry_after_ms: None,
            ..
        })
    ));
}

/// A listing cursor part-way through the only slice of a 7-day window.
fn cursor_at_page_two(host: &TestHost) -> String {
    let first = list(host, CrawlMode::Full, None).unwrap();
    next_cursor(&first).1
}

#[test]
fn an_expired_gong_cursor_restarts_the_slice() {
    let host = two_pages(json!(false));
    let cursor = cursor_at_page_two(&host);
    let expired = TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms() + 2 * 3_600_000)
        .handle(|r| {
            Some(Ok(match query(r, "cursor") {
                Some(_) => gong_error(400, "cursor has expired"),
                None => calls_page(
                    vec![basic_call(
                        CALL_ID,
                        "2026-10-30T14:00:00.123-07:00",
                        json!(false),
                    )],
                    None,
                    0,
                ),
            }))
        });
    let page = list(&expired, CrawlMode::Full, Some(&cursor)).unwrap();
    assert_eq!(next_cursor(&page).0, "done");
    assert_eq!(page.changes.len(), 1);
    let sent = expired.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(query(&sent[0], "cursor"), Some(CURSOR_1));
    assert_eq!(query(&sent[1], "cursor"), None);
    assert_eq!(
        query(&sent[1], "fromDateTime"),
        Some("2026-10-25T00:00:00Z")
    );
    assert!(
        expired
            .logs()
            .iter()
            .any(|(l, m)| *l == Level::Warn && m.contains("expired"))
    );
}

#[test]
fn a_second_expiry_in_one_call_is_transient() {
    let host = two_pages(json!(false));
    let cursor = cursor_at_page_two(&host);
    let always = TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms())
        .handle(|r| {
            Some(Ok(match query(r, "cursor") {
                Some(_) => gong_error(400, "The cursor has expired"),
                // The restarted first page holds no calls but has more pages.
                None => calls_page(Vec::new(), Some("eyJuZXh0IjoxfQ.x.y"), 0),
            }))
        });
    match list(&always, CrawlMode::Full, Some(&cursor)) {
        Err(Error::Transient { message, .. }) => assert!(message.contains("expired"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(always.requests().len(), 3);
}

#[test]
fn incremental_lists_again_from_the_checkpoint_minus_the_overlap() {
    let host = TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms())
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    // Never crawled: the full window.
    let first = list(&host, CrawlMode::Incremental, None).unwrap();
    let (kind, checkpoint) = next_cursor(&first);
    assert_eq!(kind, "done");
    assert_eq!(
        query(&host.requests()[0], "fromDateTime"),
        Some("2026-10-25T00:00:00Z")
    );
    // A day later: from the checkpoint (2026-11-01T00:00Z) minus 48 hours, to now.
    host.set_now_ms(now_ms() + 86_400_000);
    let page = list(&host, CrawlMode::Incremental, Some(&checkpoint)).unwrap();
    assert_eq!(next_cursor(&page).0, "done");
    let r = &host.requests()[1];
    assert_eq!(query(r, "fromDateTime"), Some("2026-10-30T00:00:00Z"));
    assert_eq!(query(r, "toDateTime"), Some("2026-11-02T00:00:00Z"));
    // A full crawl ignores the checkpoint.
    list(&host, CrawlMode::Full, Some(&checkpoint)).unwrap();
    assert_eq!(
        query(&host.requests()[2], "fromDateTime"),
        Some("2026-10-26T00:00:00Z")
    );
}

#[test]
fn the_workspace_filter_is_sent() {
    let host = TestHost::new()
        .setting("history_days", "7")
        .setting("workspace_id", "623457276584334")
        .at_ms(now_ms())
        .on(Method::Get, "gong", "/v2/calls", no_calls());
    list(&host, CrawlMode::Full, None).unwrap();
    assert_eq!(
        query(&host.requests()[0], "workspaceId"),
        Some("623457276584334")
    );
}

#[test]
fn calls_without_a_usable_id_are_left_out_with_a_warning() {
    let host = TestHost::new()
        .setting("history_days", "7")
        .at_ms(now_ms())
        .on(
            Method::Get,
            "gong",
            "/v2/calls",
            calls_page(
                vec![
                    basic_call("not-a-number", "2026-10-30T14:00:00Z", json!(false)),
                    json!({"title": "no id"}),
                    basic_call(CALL_ID, "2026-10-30T14:00:00Z", json!(false)),
                    json!({"id": "123456789012345678901"}),
                ],
                None,
                0,
            ),
        );
    let page = list(&host, CrawlMode::Full, None).unwrap();
    let ids: Vec<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [CALL_ID]);
    let warnings = host
        .logs()
        .iter()
        .filter(|(l, _)| *l == Level::Warn)
        .count();
    assert_eq!(warnings, 3);
}

#[test]
fn a_foreign_cursor_asks_for_a_full_crawl() {
    let host = TestHost::new().at_ms(now_ms());
    assert!(matches!(
        list(&host, CrawlMode::Incremental, Some("{\"v\":9,\"s\":{}}")),
        Err(Error::Config(m)) if m.contains("full crawl")
    ));
    assert!(host.requests().is_empty());
}
