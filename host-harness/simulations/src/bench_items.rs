//! `harness bench-items`: what one item costs in each built-in connector, measured the same way
//! for both. A full crawl of a generated workspace on the connector's own mock is recorded to a
//! tape; the tape is then replayed (no network: every answer comes from memory) three times,
//! and every `fetch-item` call is timed: a fresh instance, the connector's requests answered
//! from the tape, parsing, mapping and permissions, the item handed back. Reported: the
//! component's size and the median and p95 of the per-item time, median of the three runs.

use std::time::Duration;

use anyhow::Context;
use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use egress::Tape;
use egress::tape::{Player, Recorder};
use wasm_runtime::GuestClock;

use tenant_instance::config::{Config, parse_file};

/// One connector's figures.
#[derive(Debug, Clone)]
pub struct ItemCost {
    pub connector: String,
    pub component_bytes: usize,
    pub items: u64,
    /// Median over the runs of each run's median and p95, microseconds.
    pub median_us: f64,
    pub p95_us: f64,
}

/// Measures `source` ("clari" or "gong") on a workspace of `calls`.
pub fn measure(source: &str, calls: usize) -> anyhow::Result<ItemCost> {
    let dir = tempfile::tempdir().context("a scratch directory")?;
    let tape = dir.path().join("crawl.tape");
    let (text, env, builtin) = workspace(source, calls, dir.path())?;
    let config = Config::from_file(parse_file(&text.0)?, dir.path(), &env)?;
    let runtime = tenant_instance::cached_runtime()?;
    let now = chrono::Utc::now().timestamp();
    let record = tenant_instance::setup::RunOptions::new()
        .with_clock(GuestClock::Fixed(now))
        .with_tape(Tape::Record(Recorder::create(&tape, now)?))
        .with_output_dir(dir.path().join("out-record"));
    let mut p = tenant_instance::setup::prepare_with(&runtime, &config, record)?;
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .run(CrawlMode::Full)?;
    drop(p);
    drop(text.1);
    let mut medians = Vec::new();
    let mut p95s = Vec::new();
    for run in 0..3 {
        let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
        let replay = tenant_instance::setup::RunOptions::new()
            .with_tape(Tape::Replay(Player::open(&tape)?))
            .with_output_dir(dir.path().join(format!("out-{run}")));
        let mut p = tenant_instance::setup::prepare_with(&runtime, &config, replay)?;
        let seen = times.clone();
        p.connector = p
            .connector
            .with_observer(std::sync::Arc::new(move |export, took| {
                if export == "fetch-item" {
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(took);
                }
            }));
        Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
            .run(CrawlMode::Full)?;
        let mut t = times.lock().unwrap_or_else(|e| e.into_inner()).clone();
        t.sort();
        let at = |q: f64| {
            t.get(((t.len() as f64 * q) as usize).min(t.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        medians.push(at(0.5));
        p95s.push(at(0.95));
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Ok(ItemCost {
        connector: builtin.display_name.to_string(),
        component_bytes: builtin.bytes()?.len(),
        items: report.fetched,
        median_us: mid(medians),
        p95_us: mid(p95s),
    })
}

/// The configuration text (and the mock it points at, kept alive), the secrets, and the
/// built-in component of `source`.
type Workspace = (
    (String, Box<dyn std::any::Any>),
    Box<dyn Fn(&str) -> Option<String>>,
    tenant_instance::builtin::Builtin,
);

fn workspace(source: &str, calls: usize, dir: &std::path::Path) -> anyhow::Result<Workspace> {
    let state = dir.join("state").display().to_string();
    let glean = "http://127.0.0.1:9";
    let anchor = chrono::Utc::now();
    let token = mock_glean::MockGleanConfig::default().token;
    match source {
        "clari" => {
            let c = mock_clari::MockClariConfig {
                calls,
                anchor,
                ..Default::default()
            };
            let (key, password) = (c.api_key.clone(), c.api_password.clone());
            let mock = mock_clari::MockClari::spawn(crate::demo::loopback(), c)?;
            let text = crate::demo::demo_config_toml(&mock.base_url(), glean, &state, 1000.0);
            let env = move |k: &str| match k {
                "CLARI_API_KEY" => Some(key.clone()),
                "CLARI_API_PASSWORD" => Some(password.clone()),
                _ => Some(token.clone()),
            };
            Ok((
                (text, Box::new(mock)),
                Box::new(env),
                tenant_instance::builtin::Builtin::named("claricopilot")?,
            ))
        }
        "gong" => {
            let c = mock_gong::MockGongConfig {
                calls,
                anchor,
                ..Default::default()
            };
            let (key, secret) = (c.access_key.clone(), c.access_key_secret.clone());
            let mock = mock_gong::MockGong::spawn(crate::demo::loopback(), c)?;
            let text = crate::demo_gong::gong_config_toml(&mock.base_url(), glean, &state, 1000.0);
            let env = move |k: &str| match k {
                "GONG_ACCESS_KEY" => Some(key.clone()),
                "GONG_ACCESS_KEY_SECRET" => Some(secret.clone()),
                _ => Some(token.clone()),
            };
            Ok((
                (text, Box::new(mock)),
                Box::new(env),
                tenant_instance::builtin::Builtin::named("gong")?,
            ))
        }
        other => anyhow::bail!("--source {other}: the built-in connectors are clari and gong"),
    }
}

/// The table `harness bench-items` prints.
pub fn report(costs: &[ItemCost]) -> String {
    let mut out = String::from("connector        component   items   fetch-item median   p95\n");
    for c in costs {
        out.push_str(&format!(
            "{:<16} {:>7} B {:>7}   {:>10.0} µs   {:>6.0} µs\n",
            c.connector, c.component_bytes, c.items, c.median_us, c.p95_us
        ));
    }
    out
}
