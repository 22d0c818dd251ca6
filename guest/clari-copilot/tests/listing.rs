//! `list-changes` against the fake Clari: slicing past the skip cap, resuming from cursors,
//! the privacy pass, skipped statuses, malformed calls, and incremental crawls.

mod common;

use connector_sdk::{Connector as _, Ctx};
use std::collections::{BTreeMap, BTreeSet};

use clari_copilot_connector::ClariCopilot;
use clari_copilot_connector::config::Settings;
use clari_copilot_connector::time;
use common::{FakeCall, FakeClari, Rng, json_response};
use connector_sdk::{Change, ChangeState, CrawlMode, Error, ListingNext, Visibility};
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn now() -> i64 {
    time::parse_ms("2026-11-01T00:00:00Z").unwrap()
}

fn connector(page_size: u32) -> ClariCopilot {
    ClariCopilot::with_settings(Settings::default().with_page_size(page_size))
}

/// One crawl page by page from `cursor`: all changes, the pages' cursors, the done cursor.
struct Crawl {
    changes: Vec<Change>,
    cursors: Vec<String>,
    done: String,
}

fn crawl(
    c: &ClariCopilot,
    fake: &FakeClari,
    mode: CrawlMode,
    cursor: Option<String>,
    max_pages: usize,
) -> Crawl {
    let mut cursor = cursor;
    let mut out = Crawl {
        changes: vec![],
        cursors: vec![],
        done: String::new(),
    };
    for _ in 0..max_pages {
        let page = c
            .list_changes(&Ctx::new(fake).at_ms(now()), mode, cursor.as_deref())
            .unwrap();
        out.changes.extend(page.changes);
        match page.next {
            ListingNext::More(next) => {
                assert_ne!(Some(&next), cursor.as_ref(), "the cursor must move");
                out.cursors.push(next.clone());
                cursor = Some(next);
            }
            ListingNext::Done(done) => {
                out.done = done;
                return out;
            }
        }
    }
    panic!("the listing did not finish in {max_pages} pages");
}

fn ids(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| c.id.clone()).collect()
}

fn visibility(changes: &[Change], id: &str) -> Option<Visibility> {
    changes
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| match &c.state {
            ChangeState::Ready(v) => Some(*v),
            ChangeState::Skipped(_) => None,
        })
}

fn skipped_reason(changes: &[Change], id: &str) -> Option<String> {
    changes
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| match &c.state {
            ChangeState::Skipped(r) => Some(r.clone()),
            ChangeState::Ready(_) => None,
        })
}

/// More than 10,000 calls in one window, half of them crowded into one hour.
fn big_corpus() -> Vec<FakeCall> {
    let mut rng = Rng::new(42);
    let mut calls = Vec::new();
    let dense_start = now() - 40 * DAY;
    for i in 0..10_600 {
        let t = dense_start + rng.below(HOUR as u64) as i64;
        let mut c = FakeCall::done(format!("dense-{i:05}"), t);
        c.private = i % 7 == 0;
        calls.push(c);
    }
    for i in 0..1_500 {
        let t = now() - rng.below(360 * DAY as u64) as i64;
        let mut c = FakeCall::done(format!("spread-{i:04}"), t);
        if i % 10 == 0 {
            c.status = "PROCESSING".into();
        }
        calls.push(c);
    }
    // Ties: many calls at one millisecond, and calls on the window's edges.
    for i in 0..150 {
        calls.push(FakeCall::done(format!("tie-{i:03}"), dense_start + 1_234));
    }
    calls.push(FakeCall::done("at-now", now()));
    calls.push(FakeCall::done(
        "too-old",
        time::months_before(now(), 12) - 1,
    ));
    calls.push(FakeCall::done(
        "oldest-kept",
        time::months_before(now(), 12),
    ));
    calls.push(FakeCall::done("future", now() + 1));
    calls
}

#[test]
fn full_crawl_past_the_skip_cap_lists_every_call_exactly_once() {
    let fake = FakeClari::with_calls(big_corpus());
    let run = crawl(&connector(100), &fake, CrawlMode::Full, None, 2_000);

    let listed = ids(&run.changes);
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "no call is listed twice");
    let expected: BTreeSet<String> = fake
        .calls
        .borrow()
        .iter()
        .filter(|c| c.id != "too-old" && c.id != "future")
        .map(|c| c.id.clone())
        .collect();
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(
        listed, expected,
        "every call in the window, nothing outside it"
    );

    for c in fake
        .calls
        .borrow()
        .iter()
        .filter(|c| expected.contains(&c.id))
    {
        match (c.status.as_str(), c.private) {
            ("POST_PROCESSING_DONE", false) => assert_eq!(
                visibility(&run.changes, &c.id),
                Some(Visibility::Public),
                "{}",
                c.id
            ),
            ("POST_PROCESSING_DONE", true) => assert_eq!(
                visibility(&run.changes, &c.id),
                Some(Visibility::Restricted),
                "{}",
                c.id
            ),
            _ => assert_eq!(
                skipped_reason(&run.changes, &c.id).as_deref(),
                Some("status PROCESSING: not processed yet")
            ),
        }
    }
    // The fake answers 400 past the caps, so none was asked; and the first listing is wide.
    let requests = fake.calls_requests();
    assert!(
        requests
            .iter()
            .all(|r| r.query.iter().any(|(k, v)| k == "sortTime" && v == "asc"))
    );
    assert!(requests.iter().any(|r| {
        r.query
            .iter()
            .any(|(k, v)| k == "includePrivate" && v == "false")
    }));
    assert_eq!(
        run.done,
        format!(r#"{{"v":1,"state":"checkpoint","since":{}}}"#, now() + 1)
    );
}

#[test]
fn slices_are_contiguous_at_millisecond_resolution() {
    let fake = FakeClari::with_calls(big_corpus());
    crawl(&connector(100), &fake, CrawlMode::Full, None, 2_000);
    // Every main listing (includePrivate=true) at skip 0 opens a slice: (Gt, Lt) pairs.
    let mut slices: Vec<(i64, i64)> = fake
        .calls_requests()
        .iter()
        .filter(|r| {
            r.query
                .iter()
                .any(|(k, v)| k == "includePrivate" && v == "true")
        })
        .filter(|r| r.query.iter().any(|(k, v)| k == "skip" && v == "0"))
        .map(|r| {
            let get = |k: &str| {
                r.query
                    .iter()
                    .find(|(key, _)| key == k)
                    .and_then(|(_, v)| time::parse_ms(v))
                    .unwrap()
            };
            (get("filterTimeGt") + 1, get("filterTimeLt"))
        })
        .collect();
    slices.sort();
    slices.dedup();
    // The leaves of the split tree tile the window: keep slices not split further.
    let leaves: Vec<(i64, i64)> = slices
        .iter()
        .filter(|(a, b)| {
            !slices
                .iter()
                .any(|(c, d)| (c, d) != (a, b) && c >= a && d <= b)
        })
        .copied()
        .collect();
    assert_eq!(leaves.first().unwrap().0, time::months_before(now(), 12));
    assert_eq!(leaves.last().unwrap().1, now() + 1);
    for w in leaves.windows(2) {
        assert_eq!(
            w[0].1, w[1].0,
            "no gap and no overlap between {:?} and {:?}",
            w[0], w[1]
        );
    }
    assert!(leaves.len() > 2, "the window was split: {leaves:?}");
}

#[test]
fn resuming_from_any_cursor_loses_nothing() {
    let mut rng = Rng::new(7);
    let calls: Vec<FakeCall> = (0..600)
        .map(|i| {
            let mut c = FakeCall::done(
                format!("c{i:03}"),
                now() - rng.below(300 * DAY as u64) as i64,
            );
            c.private = i % 3 == 0;
            c
        })
        .collect();
    let fake = FakeClari::with_calls(calls);
    let c = connector(25);
    let whole = crawl(&c, &fake, CrawlMode::Full, None, 1_000);
    assert_eq!(BTreeSet::from_iter(ids(&whole.changes)).len(), 600);

    for stop in [0usize, 1, 5, 11, whole.cursors.len() - 1] {
        // A crawl that stopped after `stop + 1` pages, resumed by a fresh instance.
        let first = crawl(&c, &fake, CrawlMode::Full, None, 1_000);
        let before: Vec<Change> = {
            let mut cursor = None;
            let mut out = Vec::new();
            for _ in 0..=stop {
                let p = c
                    .list_changes(
                        &Ctx::new(&fake).at_ms(now()),
                        CrawlMode::Full,
                        cursor.as_deref(),
                    )
                    .unwrap();
                out.extend(p.changes);
                cursor = match p.next {
                    ListingNext::More(n) => Some(n),
                    ListingNext::Done(_) => None,
                };
            }
            out
        };
        let rest = crawl(
            &c,
            &fake,
            CrawlMode::Full,
            Some(first.cursors[stop].clone()),
            1_000,
        );
        let mut all = ids(&before);
        all.extend(ids(&rest.changes));
        assert_eq!(all.len(), 600, "stopped after page {stop}: no repeats");
        assert_eq!(
            BTreeSet::from_iter(all).len(),
            600,
            "stopped after page {stop}: nothing lost"
        );
        assert_eq!(rest.done, whole.done);
    }
}

#[test]
fn a_failed_public_pass_fails_the_page_and_a_retry_gets_it_right() {
    let calls: Vec<FakeCall> = (0..50)
        .map(|i| {
            let mut c = FakeCall::done(format!("c{i:02}"), now() - DAY + i * 60_000);
            c.private = i % 2 == 0;
            c
        })
        .collect();
    let fake = FakeClari::with_calls(calls);
    // The first public pass answers 502; later ones work.
    let failed = std::cell::Cell::new(false);
    fake.set_fault(move |req| {
        let public_pass = req
            .query
            .iter()
            .any(|(k, v)| k == "includePrivate" && v == "false");
        if public_pass && !failed.get() {
            failed.set(true);
            return Some(Ok(json_response(
                502,
                json!({"message": "Internal server error"}),
            )));
        }
        None
    });
    let c = connector(25);
    // The page fails as a whole, retryably: nothing of it is handed over as `unknown`.
    let e = c
        .list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, None)
        .unwrap_err();
    assert!(matches!(e, connector_sdk::Error::Transient { .. }), "{e:?}");
    assert!(format!("{e:?}").contains("public"), "{e:?}");
    // The host retries the same page: now every call gets its real visibility.
    let run = crawl(&c, &fake, CrawlMode::Full, None, 100);
    assert_eq!(run.changes.len(), 50);
    for ch in &run.changes {
        let expected = if ch.id[1..].parse::<i64>().unwrap() % 2 == 0 {
            Visibility::Restricted
        } else {
            Visibility::Public
        };
        assert_eq!(
            visibility(&run.changes, &ch.id),
            Some(expected),
            "{}",
            ch.id
        );
    }
}

#[test]
fn the_public_pass_covers_the_page_range_inclusively() {
    // Three calls in one millisecond on the page's edges; only their listing decides.
    let t = now() - DAY;
    let mut calls = vec![
        FakeCall::done("a", t),
        FakeCall::done("b", t),
        FakeCall::done("c", t + 5),
    ];
    calls[1].private = true;
    let fake = FakeClari::with_calls(calls);
    let run = crawl(&connector(25), &fake, CrawlMode::Full, None, 10);
    assert_eq!(visibility(&run.changes, "a"), Some(Visibility::Public));
    assert_eq!(visibility(&run.changes, "b"), Some(Visibility::Restricted));
    assert_eq!(visibility(&run.changes, "c"), Some(Visibility::Public));
    let pass = fake
        .calls_requests()
        .into_iter()
        .find(|r| {
            r.query
                .iter()
                .any(|(k, v)| k == "includePrivate" && v == "false")
        })
        .unwrap();
    let get = |k: &str| {
        pass.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("filterTimeGt"), time::format_query(t - 1));
    assert_eq!(get("filterTimeLt"), time::format_query(t + 6));
}

#[test]
fn statuses_and_malformed_calls_become_skipped_changes() {
    let t = now() - DAY;
    let mut calls = vec![
        FakeCall::done("ok", t),
        FakeCall {
            status: "PROCESSING".into(),
            ..FakeCall::done("processing", t + 1)
        },
        FakeCall {
            status: "NO_DATA_INCALL".into(),
            ..FakeCall::done("nodata", t + 2)
        },
        FakeCall {
            status: "QUANTUM_STATE".into(),
            ..FakeCall::done("weird", t + 3)
        },
        FakeCall::done("badtime", t + 4),
        FakeCall::done("nostatus", t + 5),
        FakeCall::done("noid", t + 6),
    ];
    calls[4].extra = json!({"time": "next tuesday"});
    calls[5].extra = json!({"status": null});
    calls[6].extra = json!({"id": null});
    let fake = FakeClari::with_calls(calls);
    let run = crawl(&connector(25), &fake, CrawlMode::Full, None, 10);
    let reasons: BTreeMap<String, String> = run
        .changes
        .iter()
        .map(|c| {
            let state = match &c.state {
                ChangeState::Ready(Visibility::Public) => "ready public".to_string(),
                ChangeState::Ready(v) => format!("ready {v:?}"),
                ChangeState::Skipped(r) => r.clone(),
            };
            (c.id.clone(), state)
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("ok", "ready public"),
        ("processing", "status PROCESSING: not processed yet"),
        ("nodata", "status NO_DATA_INCALL: no processed recording"),
        ("weird", "status QUANTUM_STATE: unknown status, not indexed"),
        ("badtime", "field `time` is missing or not a date-time"),
        ("nostatus", "field `status` is missing"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(reasons, expected, "the call without an id is left out");
    let modified = run
        .changes
        .iter()
        .find(|c| c.id == "processing")
        .unwrap()
        .modified_at;
    assert_eq!(modified, Some(t + 1 + 30 * 60_000));
}

#[test]
fn a_page_of_odd_entries_does_not_stop_the_crawl() {
    let fake = FakeClari::default();
    fake.set_fault(|req| {
        let public = req.query.iter().any(|(k, v)| k == "includePrivate" && v == "false");
        let body = if public {
            json!({"calls": [{"id": 17, "status": "POST_PROCESSING_DONE"}], "pagination": {"matched": 1, "hasMore": false}})
        } else {
            json!({"calls": [
                "not an object", null, 5, {"title": "no id"},
                {"id": 17, "status": "POST_PROCESSING_DONE", "time": "2026-10-01T00:00:00Z"},
                {"id": "p", "status": "POST_PROCESSING_DONE", "time": 1790000000000i64},
                {"id": "x", "status": 3, "time": "2026-10-01T00:00:00Z", "users": "??"}
            ], "pagination": {"matched": "7", "hasMore": "false"}})
        };
        Some(Ok(json_response(200, body)))
    });
    let run = crawl(&connector(25), &fake, CrawlMode::Full, None, 10);
    assert_eq!(ids(&run.changes), vec!["17", "p", "x"]);
    assert_eq!(visibility(&run.changes, "17"), Some(Visibility::Public));
    assert_eq!(visibility(&run.changes, "p"), Some(Visibility::Restricted));
    assert_eq!(
        skipped_reason(&run.changes, "x").as_deref(),
        Some("status 3: unknown status, not indexed")
    );
}

#[test]
fn a_listing_answer_without_calls_stops_the_crawl_instead_of_ending_it() {
    let fake = FakeClari::default();
    fake.set_fault(|_| Some(Ok(json_response(200, json!({"message": "maintenance"})))));
    let e = connector(25)
        .list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, None)
        .unwrap_err();
    assert!(
        matches!(&e, Error::System(m) if m.contains("`calls`")),
        "{e:?}"
    );
}

#[test]
fn listing_errors_keep_their_category() {
    for (status, body, check) in [
        (
            401,
            json!({"errorMessage": "Credentials not provided!"}),
            "config",
        ),
        (403, json!({}), "config"),
        (429, json!({"message": "Too Many Requests"}), "transient"),
        (502, json!({}), "transient"),
        (
            400,
            json!({"errorMessage": "invalid filterTimeGt"}),
            "system",
        ),
    ] {
        let fake = FakeClari::default();
        fake.set_fault(move |_| {
            let mut r = json_response(status, body.clone());
            r.headers.push(("Retry-After".into(), "2".into()));
            Some(Ok(r))
        });
        let e = connector(25)
            .list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, None)
            .unwrap_err();
        match (check, &e) {
            ("config", Error::Config(m)) => assert!(
                m.contains("Workspace Settings > Integrations > Clari Copilot API"),
                "{m}"
            ),
            ("transient", Error::Transient { retry_after_ms, .. }) => {
                assert_eq!(*retry_after_ms, Some(2000))
            }
            ("system", Error::System(m)) => assert!(m.contains("invalid filterTimeGt"), "{m}"),
            _ => panic!("HTTP {status}: expected {check}, got {e:?}"),
        }
    }
    let fake = FakeClari::default();
    fake.set_fault(|_| Some(Err(Error::transient("timed out: no answer"))));
    assert!(matches!(
        connector(25).list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, None),
        Err(Error::Transient { .. })
    ));
}

#[test]
fn incremental_starts_at_the_checkpoint_minus_the_overlap() {
    let since = now() - 6 * HOUR;
    let overlap = 10 * 60_000;
    let mk = |id: &str, modified: i64| FakeCall {
        modified_ms: modified,
        ..FakeCall::done(id, modified - HOUR)
    };
    let fake = FakeClari::with_calls(vec![
        mk("before-overlap", since - overlap - 1),
        mk("overlap-edge", since - overlap),
        mk("in-overlap", since - overlap + 1),
        mk("after", since + HOUR),
        FakeCall {
            private: true,
            ..mk("private", since + 2 * HOUR)
        },
        FakeCall {
            status: "PROCESSED".into(),
            ..mk("processed", since + 4 * HOUR)
        },
        mk("at-now", now()),
    ]);
    let checkpoint = format!(r#"{{"v":1,"state":"checkpoint","since":{since}}}"#);
    let run = crawl(
        &connector(25),
        &fake,
        CrawlMode::Incremental,
        Some(checkpoint),
        10,
    );
    assert_eq!(
        ids(&run.changes),
        vec![
            "overlap-edge",
            "in-overlap",
            "after",
            "private",
            "processed",
            "at-now"
        ]
    );
    assert_eq!(
        visibility(&run.changes, "private"),
        Some(Visibility::Restricted)
    );
    assert_eq!(visibility(&run.changes, "after"), Some(Visibility::Public));
    assert_eq!(
        skipped_reason(&run.changes, "processed").as_deref(),
        Some("status PROCESSED: not processed yet")
    );
    // The processed call is on its way: the checkpoint remembers it.
    assert_eq!(
        run.done,
        format!(
            r#"{{"v":1,"state":"checkpoint","since":{},"pending":"processed@{}"}}"#,
            now() + 1,
            since + 4 * HOUR
        )
    );
    let first = &fake.calls_requests()[0];
    let get = |k: &str| {
        first
            .query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get("filterModifiedGt"),
        Some(time::format_query(since - overlap - 1))
    );
    assert_eq!(get("filterModifiedLt"), Some(time::format_query(now() + 1)));
    assert_eq!(get("sortProcessed").as_deref(), Some("asc"));
    assert_eq!(get("filterTimeGt"), None);
    // The public pass runs on the modified-time range too.
    let pass = fake
        .calls_requests()
        .into_iter()
        .find(|r| {
            r.query
                .iter()
                .any(|(k, v)| k == "includePrivate" && v == "false")
        })
        .unwrap();
    assert!(pass.query.iter().any(|(k, _)| k == "filterModifiedGt"));
}

#[test]
fn incremental_survives_calls_changing_while_it_pages() {
    let since = now() - 10 * DAY;
    let calls: Vec<FakeCall> = (0..300)
        .map(|i| FakeCall {
            modified_ms: since + i * 60_000,
            ..FakeCall::done(format!("m{i:03}"), since - DAY)
        })
        .collect();
    let fake = FakeClari::with_calls(calls);
    // While the crawl pages, calls already listed change status again: they leave the
    // window (modified after its end), so later calls move down the listing.
    fake.set_mutation(|n, calls| {
        if n % 4 == 3 {
            for c in calls.iter_mut().filter(|c| c.modified_ms < now()).take(5) {
                c.modified_ms = now() + 10 * 60_000;
            }
        }
    });
    let checkpoint = format!(r#"{{"v":1,"state":"checkpoint","since":{since}}}"#);
    let run = crawl(
        &connector(25),
        &fake,
        CrawlMode::Incremental,
        Some(checkpoint),
        200,
    );
    let listed: BTreeSet<String> = ids(&run.changes).into_iter().collect();
    for i in 0..300 {
        assert!(listed.contains(&format!("m{i:03}")), "m{i:03} was lost");
    }
    let all = ids(&run.changes);
    assert_eq!(all.len(), listed.len(), "repeats are dropped by id");
}

#[test]
fn cursors_that_do_not_fit_the_mode() {
    let fake = FakeClari::with_calls(vec![FakeCall::done("a", now() - DAY)]);
    let c = connector(25);
    for cursor in [
        None,
        Some("garbage"),
        Some(r#"{"v":9,"state":"checkpoint","since":1}"#),
    ] {
        let e = c
            .list_changes(
                &Ctx::new(&fake).at_ms(now()),
                CrawlMode::Incremental,
                cursor,
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m.contains("full crawl")),
            "{cursor:?}: {e:?}"
        );
    }
    // A full crawl with an unusable or finished cursor starts over.
    for cursor in [
        Some("garbage"),
        Some(r#"{"v":1,"state":"checkpoint","since":5}"#),
    ] {
        let page = c
            .list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, cursor)
            .unwrap();
        assert_eq!(ids(&page.changes), vec!["a"]);
        assert!(matches!(page.next, ListingNext::Done(_)));
    }
    // An unfinished full crawl's cursor is not an incremental one.
    let run = crawl(
        &c,
        &FakeClari::with_calls(
            (0..60)
                .map(|i| FakeCall::done(format!("x{i}"), now() - DAY + i))
                .collect(),
        ),
        CrawlMode::Full,
        None,
        10,
    );
    let e = c
        .list_changes(
            &Ctx::new(&fake).at_ms(now()),
            CrawlMode::Incremental,
            Some(&run.cursors[0]),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)));
}

#[test]
fn empty_window_is_done_at_once() {
    let fake = FakeClari::default();
    let page = ClariCopilot::with_settings(Settings::default())
        .list_changes(&Ctx::new(&fake).at_ms(now()), CrawlMode::Full, None)
        .unwrap();
    assert!(page.changes.is_empty());
    assert!(matches!(page.next, ListingNext::Done(_)));
    let requests = fake.calls_requests();
    assert_eq!(requests.len(), 1, "no public pass without eligible calls");
    let get = |k: &str| {
        requests[0]
            .query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("limit").as_deref(), Some("25"), "the default page size");
    assert_eq!(get("skip").as_deref(), Some("0"));
    assert_eq!(get("includePrivate").as_deref(), Some("true"));
    // The default window: twelve months back from now, now included.
    assert_eq!(
        get("filterTimeGt"),
        Some(time::format_query(time::months_before(now(), 12) - 1))
    );
    assert_eq!(get("filterTimeLt"), Some(time::format_query(now() + 1)));
}

#[test]
fn more_calls_in_one_millisecond_than_the_cap_end_the_slice_without_error() {
    let t = now() - DAY;
    // Private, so that each page's public pass over that millisecond stays short.
    let mut calls: Vec<FakeCall> = (0..10_150)
        .map(|i| FakeCall {
            private: true,
            ..FakeCall::done(format!("same-{i:05}"), t)
        })
        .collect();
    calls.push(FakeCall::done("before", t - 1));
    calls.push(FakeCall::done("after", t + 1));
    let fake = FakeClari::with_calls(calls);
    let run = crawl(&connector(100), &fake, CrawlMode::Full, None, 2_000);
    let listed: BTreeSet<String> = ids(&run.changes).into_iter().collect();
    assert!(listed.contains("before") && listed.contains("after"));
    // What Clari can page to: skip 10,000 plus one page of 100.
    assert_eq!(
        listed.iter().filter(|id| id.starts_with("same-")).count(),
        10_100
    );
    assert_eq!(listed.len(), run.changes.len());
}

#[test]
fn a_502_for_a_large_page_halves_the_page_then_it_grows_back() {
    let calls: Vec<FakeCall> = (0..80)
        .map(|i| FakeCall::done(format!("c{i:02}"), now() - DAY + i * 60_000))
        .collect();
    let fake = FakeClari::with_calls(calls);
    // Clari caps answers at about 6 MB: here, any page over 10 calls, for the first 3 pages.
    let big_pages = std::cell::Cell::new(0);
    fake.set_fault(move |req| {
        let limit: u32 = req
            .query
            .iter()
            .find(|(k, _)| k == "limit")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if req.path == "/calls" && limit > 10 && big_pages.get() < 3 {
            big_pages.set(big_pages.get() + 1);
            return Some(Ok(json_response(
                502,
                json!({"message": "Internal server error"}),
            )));
        }
        None
    });
    let run = crawl(&connector(25), &fake, CrawlMode::Full, None, 100);
    // Nothing lost, nothing failed: every call listed once.
    let listed: std::collections::BTreeSet<String> = ids(&run.changes).into_iter().collect();
    assert_eq!(listed.len(), 80);
    let limits: Vec<String> = fake
        .calls_requests()
        .iter()
        .filter_map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "limit")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert!(
        limits.iter().any(|l| l == "6"),
        "the page was halved: {limits:?}"
    );
    assert_eq!(
        limits.last().map(String::as_str),
        Some("25"),
        "and grew back: {limits:?}"
    );
}

#[test]
fn calls_on_their_way_are_re_announced_until_they_finish() {
    let since = now() - 5 * 60_000;
    let mk = |id: &str, status: &str, modified: i64| FakeCall {
        modified_ms: modified,
        status: status.into(),
        ..FakeCall::done(id, modified - HOUR)
    };
    let fake = FakeClari::with_calls(vec![
        // Still recording, last changed long before the overlap: not listed again.
        mk("recording", "INPROGRESS", now() - 2 * HOUR),
        // Finished since the last crawl: listed ready.
        mk("finished", "POST_PROCESSING_DONE", now() - 60_000),
        // Newly processing: listed and remembered.
        mk("processing", "PROCESSING", now() - 30_000),
        // A meeting scheduled for later: skipped, not on its way.
        mk("scheduled", "SCHEDULED", now() - 20_000),
    ]);
    let checkpoint = format!(
        r#"{{"v":1,"state":"checkpoint","since":{since},"pending":"recording@{},finished@{},stale@{}"}}"#,
        now() - 2 * HOUR,
        now() - HOUR,
        now() - 4 * HOUR
    );
    let run = crawl(
        &connector(25),
        &fake,
        CrawlMode::Incremental,
        Some(checkpoint),
        10,
    );
    assert_eq!(
        ids(&run.changes),
        vec!["finished", "processing", "scheduled", "recording"]
    );
    assert_eq!(
        visibility(&run.changes, "finished"),
        Some(Visibility::Public)
    );
    assert_eq!(
        skipped_reason(&run.changes, "recording").as_deref(),
        Some("not processed yet (its status has not changed since it was last listed)")
    );
    // No request was spent on the carried call: one listing page and its privacy pass.
    assert_eq!(fake.calls_requests().len(), 2);
    // The checkpoint keeps the calls still on its way, and forgets the finished and the
    // stale (older than the horizon).
    assert_eq!(
        run.done,
        format!(
            r#"{{"v":1,"state":"checkpoint","since":{},"pending":"recording@{},processing@{}"}}"#,
            now() + 1,
            now() - 2 * HOUR,
            now() - 30_000
        )
    );
}
