//! The mock's behaviour, over real HTTP: pagination, filters, privacy, omitted keys, life over
//! time, faults, and determinism.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mock_clari::{Faults, MockClari, MockClariConfig, NewCall};
use serde_json::Value;

fn mock(calls: usize, faults: Faults) -> MockClari {
    MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            seed: 9,
            calls,
            faults,
            ..MockClariConfig::default()
        },
    )
    .unwrap()
}

fn get(m: &MockClari, path: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let d = MockClariConfig::default();
    let mut resp = agent
        .get(format!("{}{path}", m.base_url()))
        .header("X-Api-Key", &d.api_key)
        .header("X-Api-Password", &d.api_password)
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn ids(body: &Value) -> Vec<String> {
    body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn pages_with_skip_and_limit_and_omits_next_on_the_last_page() {
    let m = mock(60, Faults::default());
    let public = m.control().calls().iter().filter(|c| !c.private).count();
    let (_, first) = get(&m, "/calls");
    assert_eq!(ids(&first).len(), 25, "limit defaults to 25");
    assert_eq!(first["pagination"]["matched"], public);
    assert_eq!(first["pagination"]["hasMore"], true);
    assert_eq!(first["pagination"]["nextPageSkip"], 25);
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let (_, page) = get(&m, &format!("/calls?skip={skip}&limit=10"));
        seen.extend(ids(&page));
        match page["pagination"].get("nextPageSkip") {
            Some(n) => skip = n.as_u64().unwrap() as usize,
            None => {
                assert_eq!(page["pagination"]["hasMore"], false);
                break;
            }
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), public);
    assert_eq!(seen.len(), public, "the default order is stable");
    let (_, none) = get(&m, "/calls?includePagination=false");
    assert!(none.get("pagination").is_none());
}

#[test]
fn private_calls_are_listed_only_on_request() {
    let m = mock(80, Faults::default());
    let facts = m.control().calls();
    let private: Vec<&String> = facts.iter().filter(|c| c.private).map(|c| &c.id).collect();
    assert!(!private.is_empty());
    let (_, default) = get(&m, "/calls?limit=100");
    let (_, all) = get(&m, "/calls?limit=100&includePrivate=true");
    assert!(ids(&default).iter().all(|id| !private.contains(&id)));
    assert_eq!(ids(&all).len(), facts.len());
    // Private calls are fetchable by id.
    let (status, _) = get(&m, &format!("/call-details?id={}", private[0]));
    assert_eq!(status, 200);
}

#[test]
fn filters_are_strict_and_repeatable() {
    let m = mock(80, Faults::default());
    let facts = m.control().calls();
    let pivot = &facts[10];
    let t = pivot.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let (_, after) = get(
        &m,
        &format!("/calls?includePrivate=true&limit=100&filterTimeGt={t}"),
    );
    let expected = facts.iter().filter(|c| c.time > pivot.time).count();
    assert_eq!(ids(&after).len(), expected);
    assert!(!ids(&after).contains(&pivot.id), "Gt is strict");
    let (_, two) = get(
        &m,
        "/calls?includePrivate=true&limit=100&filterStatus=POST_PROCESSING_DONE&filterStatus=PROCESSING",
    );
    let expected = facts
        .iter()
        .filter(|c| c.status == "POST_PROCESSING_DONE" || c.status == "PROCESSING")
        .count();
    assert_eq!(ids(&two).len(), expected);
    let (_, sorted) = get(&m, "/calls?includePrivate=true&limit=100&sortTime=asc");
    let times: Vec<&str> = sorted["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn absent_data_is_an_omitted_key() {
    let m = mock(80, Faults::default());
    let (_, all) = get(&m, "/calls?includePrivate=true&limit=100");
    let calls = all["calls"].as_array().unwrap();
    let no_crm = calls
        .iter()
        .find(|c| c.get("deal_name").is_none())
        .expect("a call without CRM");
    for key in [
        "crm_info",
        "account_name",
        "deal_value",
        "deal_stage_before_call",
    ] {
        assert!(no_crm.get(key).is_none(), "{key} is omitted");
    }
    assert!(
        calls
            .iter()
            .all(|c| c["audio_url"].is_null() && c["video_url"].is_null())
    );
    let recording = calls
        .iter()
        .find(|c| c["type"] == "RECORDING")
        .expect("a RECORDING call");
    assert!(recording.get("calendar_id").is_none());
    let (_, media) = get(&m, "/calls?includePrivate=true&limit=1&includeAudio=true");
    assert!(
        media["calls"][0]["audio_url"]
            .as_str()
            .is_some_and(|u| u.contains("X-Amz-Expires=14400"))
    );
}

#[test]
fn status_changes_bump_modified_time_edits_do_not() {
    let m = mock(30, Faults::default());
    let c = m.control();
    let call = c
        .calls()
        .into_iter()
        .find(|x| x.status != "POST_PROCESSING_DONE")
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    c.set_title(&call.id, "Renamed").unwrap();
    let after_title = c.calls().into_iter().find(|x| x.id == call.id).unwrap();
    assert_eq!(after_title.last_modified_time, call.last_modified_time);
    assert_eq!(after_title.title, "Renamed");
    c.set_status(&call.id, "POST_PROCESSING_DONE").unwrap();
    let after_status = c.calls().into_iter().find(|x| x.id == call.id).unwrap();
    assert!(after_status.last_modified_time > call.last_modified_time);
    // A CRM relink does not move it either.
    c.set_deal(&call.id, Some("Initech - Expansion")).unwrap();
    let (_, details) = get(&m, &format!("/call-details?id={}", call.id));
    assert_eq!(details["call"]["deal_name"], "Initech - Expansion");
    let relinked = c.calls().into_iter().find(|x| x.id == call.id).unwrap();
    assert_eq!(relinked.last_modified_time, after_status.last_modified_time);
    c.set_deal(&call.id, None).unwrap();
    let (_, details) = get(&m, &format!("/call-details?id={}", call.id));
    assert!(details["call"].get("crm_info").is_none());
    let after_status = c.calls().into_iter().find(|x| x.id == call.id).unwrap();
    // The same status again changes nothing.
    c.set_status(&call.id, "POST_PROCESSING_DONE").unwrap();
    assert_eq!(
        c.calls().into_iter().find(|x| x.id == call.id).unwrap(),
        after_status
    );
    // Deleted: gone from the list, 404 on details.
    c.delete_call(&call.id).unwrap();
    let (status, body) = get(&m, &format!("/call-details?id={}", call.id));
    assert_eq!(status, 404, "{body}");
    let id = c.add_call(NewCall::default());
    let (status, body) = get(&m, &format!("/call-details?id={id}"));
    assert_eq!(status, 200);
    assert!(!body["call"]["transcript"].as_array().unwrap().is_empty());
}

#[test]
fn faults_are_injected_as_configured() {
    let m = mock(
        20,
        Faults {
            rate_limit_per_sec: Some(3),
            ..Faults::default()
        },
    );
    let statuses: Vec<u16> = (0..5).map(|_| get(&m, "/users").0).collect();
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert_eq!(m.control().throttled_count(), 2);

    let m = mock(
        20,
        Faults {
            weekly_quota: Some(2),
            ..Faults::default()
        },
    );
    let (s1, _) = get(&m, "/users");
    let (_, _) = get(&m, "/users");
    let (s3, body) = get(&m, "/users");
    assert_eq!((s1, s3), (200, 429));
    assert_eq!(body["message"], "Limit Exceeded");

    let m = mock(
        20,
        Faults {
            max_response_bytes: Some(2_000),
            ..Faults::default()
        },
    );
    assert_eq!(get(&m, "/calls?limit=100&includePrivate=true").0, 502);

    let m = mock(
        20,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    assert!([500, 502, 504].contains(&get(&m, "/users").0));

    let m = mock(
        20,
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
    );
    let t = Instant::now();
    get(&m, "/users");
    assert!(t.elapsed() >= Duration::from_millis(150));

    let m = mock(20, Faults::default());
    let id = m.control().calls()[0].id.clone();
    m.control().set_faults(Faults {
        malformed_call_ids: vec![id.clone()],
        ..Faults::default()
    });
    let (status, body) = get(&m, &format!("/call-details?id={id}"));
    assert_eq!(status, 200);
    assert!(body.is_string(), "the body is not JSON: {body}");

    let m = mock(
        5,
        Faults {
            wrong_credentials_status: 403,
            ..Faults::default()
        },
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .get(format!("{}/users", m.base_url()))
        .header("X-Api-Key", "wrong")
        .header("X-Api-Password", "wrong")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[test]
fn the_same_seed_gives_byte_identical_data() {
    let anchor = MockClariConfig::default().anchor;
    let a = mock_clari::generate::workspace(77, 120, 10, anchor);
    let b = mock_clari::generate::workspace(77, 120, 10, anchor);
    let now = anchor;
    let dump = |w: &mock_clari::model::Workspace| {
        w.calls
            .iter()
            .map(|c| c.details_json(&w.users, now).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(dump(&a), dump(&b));
    let c = mock_clari::generate::workspace(78, 120, 10, anchor);
    assert_ne!(dump(&a), dump(&c));
    // Variety: every lifecycle corner is present.
    let statuses: std::collections::BTreeSet<&str> =
        a.calls.iter().map(|c| c.status.as_str()).collect();
    assert!(statuses.len() >= 6, "{statuses:?}");
    assert!(a.calls.iter().any(|c| c.private) && a.calls.iter().any(|c| c.crm.is_none()));
    assert!(a.calls.iter().any(|c| c.transcript.len() > 300));
}

#[test]
fn each_tenant_key_gets_its_own_workspace() {
    let mock = MockClari::spawn(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            calls: 20,
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let d = MockClariConfig::default();
    let ids = |key: &str| -> Vec<String> {
        let mut resp = ureq::get(&format!("{}/calls?limit=100", mock.base_url()))
            .header("X-Api-Key", key)
            .header("X-Api-Password", &d.api_password)
            .call()
            .unwrap();
        let v: serde_json::Value = resp.body_mut().read_json().unwrap();
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let main = ids(&d.api_key);
    let t1 = ids(&format!("{}-1", d.api_key));
    let t2 = ids(&format!("{}-2", d.api_key));
    assert!(!main.is_empty() && !t1.is_empty());
    assert_ne!(main, t1);
    assert_ne!(t1, t2);
    assert_eq!(
        t1,
        ids(&format!("{}-1", d.api_key)),
        "the same key, the same workspace"
    );
    let status = ureq::get(&format!("{}/calls", mock.base_url()))
        .config()
        .http_status_as_error(false)
        .build()
        .header("X-Api-Key", &format!("{}-x", d.api_key))
        .header("X-Api-Password", &d.api_password)
        .call()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);
}
