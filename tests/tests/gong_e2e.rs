//! The second connector on the same platform: the built-in Gong component crawls the mock
//! Gong (Basic auth composed by the host from two secrets, date-window listing with cursors,
//! POST reads, 404 for empty windows) into the mock Glean, with fail-closed permissions,
//! incremental crawls by window with an overlap, and deletions only on proof.

use std::collections::BTreeSet;

use mock_glean::{MockGlean, MockGleanConfig};
use mock_gong::{Faults, MockGong, MockGongConfig, NewCall, ScriptedFailure};
use tenant_instance::config::Config;
use tenant_instance::crawl::types::CrawlMode;
use tenant_instance::crawl::{CrawlReport, Crawler};
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{self, Prepared};

use crate::common::loopback;

const DATASOURCE: &str = "gong";

struct GongWorld {
    gong: MockGong,
    glean: MockGlean,
    prepared: Prepared,
    dir: std::path::PathBuf,
}

impl Drop for GongWorld {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn env(k: &str) -> Option<String> {
    let d = MockGongConfig::default();
    match k {
        "GONG_ACCESS_KEY" => Some(d.access_key),
        "GONG_ACCESS_KEY_SECRET" => Some(d.access_key_secret),
        _ => Some(MockGleanConfig::default().token),
    }
}

fn world(name: &str, calls: usize, faults: Faults, rate: Option<f64>) -> GongWorld {
    let gong = MockGong::spawn(
        loopback(),
        MockGongConfig {
            seed: 17,
            calls,
            anchor: chrono::Utc::now(),
            faults,
            ..MockGongConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(loopback(), MockGleanConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("e2e-gong-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut text = harness_sims::demo_gong::gong_config_toml(
        &gong.base_url(),
        &glean.base_url(),
        &dir.display().to_string(),
        rate.unwrap_or(1000.0),
    );
    if rate.is_none() {
        text = text.replace("rate_per_second = 1000\n", "");
    }
    let file = tenant_instance::config::parse_file(&text).unwrap();
    let config = Config::from_file(file, std::path::Path::new("."), &env).unwrap();
    let runtime = tenant_instance::cached_runtime().unwrap();
    let prepared = setup::prepare(&runtime, &config, GuestClock::System).unwrap();
    GongWorld {
        gong,
        glean,
        prepared,
        dir,
    }
}

impl GongWorld {
    fn crawl(&mut self, mode: CrawlMode) -> CrawlReport {
        let p = &mut self.prepared;
        Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
            .run(mode)
            .unwrap()
    }
}

#[test]
fn a_gong_company_is_indexed_and_each_call_is_visible_only_to_its_internal_participants() {
    let mut w = world("full", 120, Faults::default(), Some(1000.0));
    let report = w.crawl(CrawlMode::Full);
    let facts = w.gong.control().calls();
    assert_eq!(report.failures.len(), 0, "{report}");
    assert_eq!(report.listed, facts.len() as u64);
    let docs = w.glean.documents(DATASOURCE);
    assert_eq!(docs.len(), facts.len());
    let externals: BTreeSet<String> = facts
        .iter()
        .flat_map(|c| c.external_emails.clone())
        .collect();
    for fact in &facts {
        let doc = docs
            .iter()
            .find(|d| d.id.as_deref() == Some(fact.id.as_str()))
            .expect("every call indexed");
        let p = doc.permissions.as_ref().expect("permissions");
        assert_ne!(
            p.allow_all_datasource_users_access,
            Some(true),
            "default rule: participants only"
        );
        let allowed: BTreeSet<String> = p
            .allowed_users
            .iter()
            .flatten()
            .filter_map(|u| u.email.clone())
            .collect();
        let internal: BTreeSet<String> = fact
            .internal_emails
            .iter()
            .map(|e| e.to_lowercase())
            .collect();
        assert!(
            allowed.is_subset(&internal),
            "{}: {allowed:?} not within {internal:?}",
            fact.id
        );
        assert!(
            allowed.is_disjoint(&externals),
            "an external party was granted access"
        );
        assert_eq!(
            allowed.is_empty(),
            internal.is_empty(),
            "{}: with internal parties, they see it",
            fact.id
        );
        assert!(
            doc.view_url
                .as_deref()
                .unwrap_or_default()
                .contains(".app.gong.io/call?id=")
        );
    }
    // The transcript carries speaker names joined from the parties.
    let with_transcript = facts.iter().find(|c| c.has_transcript).unwrap();
    let doc = docs
        .iter()
        .find(|d| d.id.as_deref() == Some(with_transcript.id.as_str()))
        .unwrap();
    let body = doc
        .body
        .as_ref()
        .and_then(|b| b.text_content.clone())
        .unwrap_or_default();
    assert!(body.contains("Transcript"), "{body}");
    // Users went to the identity store; the request count matches the mock's.
    assert_eq!(
        w.glean.users(DATASOURCE).len(),
        w.gong.control().users().len()
    );
    assert_eq!(report.requests, w.gong.control().request_count());
}

#[test]
fn an_incremental_crawl_relists_the_overlap_and_a_full_crawl_deletes_only_on_proof() {
    let mut w = world("changes", 60, Faults::default(), Some(1000.0));
    let now = chrono::Utc::now();
    let recent = w.gong.control().add_call(NewCall {
        title: Some("Umbrella Health | renewal".into()),
        started: Some(now - chrono::Duration::hours(10)),
        ..NewCall::default()
    });
    w.crawl(CrawlMode::Full);
    let before = w.glean.documents(DATASOURCE).len();
    // A retitle within the overlap and a new call: the incremental crawl sees both.
    w.gong
        .control()
        .set_title(&recent, "Umbrella Health | renewal, signed")
        .unwrap();
    let new = w.gong.control().add_call(NewCall::default());
    let inc = w.crawl(CrawlMode::Incremental);
    assert_eq!(inc.failures.len(), 0, "{inc}");
    let docs = w.glean.documents(DATASOURCE);
    assert_eq!(docs.len(), before + 1);
    let title = |id: &str| {
        docs.iter()
            .find(|d| d.id.as_deref() == Some(id))
            .and_then(|d| d.title.clone())
    };
    assert_eq!(
        title(&recent).as_deref(),
        Some("Umbrella Health | renewal, signed")
    );
    assert!(title(&new).is_some());
    // Two deletions at the source; Gong cannot confirm one of them (502s): it stays.
    let ids: Vec<String> = w
        .gong
        .control()
        .calls()
        .iter()
        .take(2)
        .map(|c| c.id.clone())
        .collect();
    for id in &ids {
        w.gong.control().delete_call(id).unwrap();
    }
    w.gong.control().fail_next(ScriptedFailure {
        path: format!("/v2/calls/{}", ids[1]),
        status: 502,
        retry_after_secs: None,
        times: 50,
    });
    let full = w.crawl(CrawlMode::Full);
    assert_eq!(full.deleted, 1, "{full}");
    let left: Vec<String> = w
        .glean
        .documents(DATASOURCE)
        .iter()
        .filter_map(|d| d.id.clone())
        .collect();
    assert!(!left.contains(&ids[0]));
    assert!(left.contains(&ids[1]), "an unconfirmed deletion is kept");
}

#[test]
fn the_access_key_and_its_secret_never_reach_the_state_or_the_index() {
    let mut w = world("secrets", 30, Faults::default(), Some(1000.0));
    let r = w.crawl(CrawlMode::Full);
    assert_eq!(r.failures.len(), 0, "{r}");
    let d = MockGongConfig::default();
    let composed = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", d.access_key, d.access_key_secret))
    };
    let mut files = vec![w.dir.clone()];
    let mut seen = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for secret in [&d.access_key, &d.access_key_secret, &composed] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{} holds a secret",
                    p.display()
                );
            }
            seen += 1;
        }
    }
    assert!(seen > 0);
    let docs = serde_json::to_string(&w.glean.documents(DATASOURCE)).unwrap();
    assert!(!docs.contains(&d.access_key) && !docs.contains(&d.access_key_secret));
}

#[test]
fn the_sources_limits_come_from_the_connectors_declaration() {
    // No rate and no budget in the configuration: Gong's 3 a second and 10,000 a day, as the
    // component declares them, against a mock that enforces exactly those.
    let mut w = world("limits", 10, Faults::gong_limits(), None);
    let budget = w
        .prepared
        .connector
        .egress()
        .budget()
        .expect("a budget")
        .clone();
    assert_eq!(
        (budget.limit(), budget.period()),
        (10_000, tenant_instance::planner::BudgetPeriod::Day)
    );
    let r = w.crawl(CrawlMode::Full);
    assert_eq!(r.failures.len(), 0, "{r}");
    assert_eq!(
        w.gong.control().throttled_count(),
        0,
        "the declared rate keeps under Gong's"
    );
    assert_eq!(
        budget.usage_at(chrono::Utc::now().timestamp()).requests,
        r.requests
    );
}
