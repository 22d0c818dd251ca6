//! No guest text forges a host line: every refusal egress gives quotes a hostile guest's
//! upstream, path, header name or declared URL as one escaped, bounded line.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::budget::{BudgetUsage, WeeklyBudget};
use crate::grant::{Configured, Declared, grant};
use crate::tape::{Player, Recorder};
use crate::{
    BaseUrl, Egress, EgressLimits, Method, OutboundRequest, Redactor, Secret, Tape, UpstreamRoute,
};

/// The longest refusal a test accepts: the prose plus two quotes of at most 120 characters.
const MAX_REFUSAL_BYTES: usize = 1024;

/// Guest strings that would forge, clear or flood the host's output if printed raw.
pub(crate) fn hostile() -> Vec<String> {
    vec![
        "/x\r\nINFO crawl: full crawl completed".into(),
        "/x\u{1b}[2J\u{1b}[31mERROR".into(),
        "/x\0nul".into(),
        format!("/{}", "a".repeat(10_000)),
        format!("/{}", "\n".repeat(10_000)),
        "/x\u{202e}desrever".into(),
    ]
}

/// Fails, naming `what`, when `message` holds a line break, an escape, a NUL or is too long.
pub(crate) fn assert_one_bounded_line(what: &str, message: &str, max: usize) {
    for bad in ['\r', '\n', '\u{1b}', '\0', '\u{202e}'] {
        assert!(
            !message.contains(bad),
            "{what}: {bad:?} got through: {message:?}"
        );
    }
    assert!(
        message.len() <= max,
        "{what}: {} bytes (at most {max}): {}…",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
}

fn route(name: &str) -> UpstreamRoute {
    UpstreamRoute {
        name: name.into(),
        base: BaseUrl::parse("http://127.0.0.1:9/api").expect("a valid base URL"),
        credentials: vec![("X-Api-Key".into(), Secret::new("hunter2-value"))],
        auth_headers: vec!["X-Api-Key".into()],
        limiter: crate::upstream_limiter(1000.0),
        allow_private_network: true,
    }
}

fn request(upstream: &str, path: &str, headers: &[(&str, &str)]) -> OutboundRequest {
    OutboundRequest {
        upstream: upstream.into(),
        method: Method::Get,
        path_and_query: path.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: None,
    }
}

/// Every refusal `egress` gives for `text` used as upstream, path and header.
fn refusals(egress: &Egress, text: &str) -> Vec<(String, String)> {
    let tried = [
        ("unknown upstream", request(text, "/calls", &[])),
        ("path outside the upstream", request("clari", text, &[])),
        (
            "path above the base",
            request("clari", &format!("/..{text}"), &[]),
        ),
        (
            "credential header",
            request("clari", "/calls", &[("x-api-key", text)]),
        ),
        (
            "malformed header name",
            request("clari", "/calls", &[(text, "v")]),
        ),
        (
            "malformed header value",
            request("clari", "/calls", &[("x-trace", text)]),
        ),
    ];
    tried
        .into_iter()
        .filter_map(|(what, req)| {
            let err = egress.send(&req).err()?;
            Some((what.to_string(), err.to_string()))
        })
        .collect()
}

#[test]
fn no_refusal_quotes_guest_text_raw() {
    let egress = Egress::new(
        vec![route("clari")],
        EgressLimits::default(),
        Redactor::new(),
    );
    let mut seen = 0;
    for text in hostile() {
        for (what, message) in refusals(&egress, &text) {
            assert_one_bounded_line(&what, &message, MAX_REFUSAL_BYTES);
            seen += 1;
        }
    }
    // Every hostile string is refused at least as an upstream and as a path.
    assert!(seen >= 2 * hostile().len(), "{seen} refusals");
}

#[test]
fn a_spent_budget_and_a_replay_miss_quote_nothing_raw() {
    let spent = Arc::new(WeeklyBudget::new(0, BudgetUsage::default(), None));
    let egress = Egress::new(
        vec![route("clari")],
        EgressLimits::default(),
        Redactor::new(),
    )
    .with_budget(spent);
    let long = format!("/{}", "a".repeat(10_000));
    let err = egress.send(&request("clari", &long, &[])).unwrap_err();
    assert_one_bounded_line("spent budget", &err.to_string(), MAX_REFUSAL_BYTES);

    let path = std::env::temp_dir().join(format!("tape-hostile-{}.jsonl", std::process::id()));
    drop(Recorder::create(&path, 1_700_000_000).expect("a recording"));
    let player = Player::open(&path).expect("the recording");
    std::fs::remove_file(&path).ok();
    let egress = Egress::new(
        vec![route("clari")],
        EgressLimits::default(),
        Redactor::new(),
    )
    .with_tape(Tape::Replay(player));
    // Only paths the policy lets through reach the recording: long, but no control characters.
    for p in [long.as_str(), "/calls?q=%0D%0AINFO%20crawl", "/x\u{200f}y"] {
        let err = egress.send(&request("clari", p, &[])).unwrap_err();
        assert_one_bounded_line("replay miss", &err.to_string(), MAX_REFUSAL_BYTES);
    }
}

#[test]
fn grant_refusals_quote_the_declaration_escaped() {
    for text in hostile() {
        let declared = vec![Declared {
            name: text.clone(),
            default_base_url: text.clone(),
            auth_headers: vec![text.clone()],
        }];
        let err = grant(&declared, &BTreeMap::new(), crate::upstream_limiter).unwrap_err();
        assert_one_bounded_line("undeclared upstream", &err, MAX_REFUSAL_BYTES);

        let configured = |headers: Vec<String>| {
            let c = Configured {
                base: BaseUrl::parse("https://api.example.com").expect("a valid base URL"),
                rate_per_second: 1.0,
                allow_private_network: false,
                credentials: headers
                    .into_iter()
                    .map(|h| (h, Secret::new("value-1234")))
                    .collect(),
            };
            BTreeMap::from([(text.clone(), c)])
        };
        for (what, headers) in [
            ("missing credential header", vec![]),
            (
                "undeclared credential header",
                vec![text.clone(), "X-Other".into()],
            ),
        ] {
            let err = grant(&declared, &configured(headers), crate::upstream_limiter).unwrap_err();
            assert_one_bounded_line(what, &err, MAX_REFUSAL_BYTES);
        }
    }
}
