//! One side of a canary: a full crawl of the recording by one component, on fresh state in
//! memory, documents written to a scratch directory, with its declaration and its cost.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use crawl_engine::Crawler;
use crawl_engine::types::{ConnectorInfo, CrawlMode};
use serde_json::Value;

use tenant_instance::config::{ComponentRef, Config};
use tenant_instance::egress::Tape;
use tenant_instance::egress::tape::Player;
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{RunOptions, prepare_with};

/// What a side's crawl did, for the report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SideSummary {
    pub component: String,
    pub contract: String,
    pub listed: u64,
    pub fetched: u64,
    pub indexed: u64,
    pub failed: u64,
    /// Process CPU time of the crawl per fetched item, in microseconds.
    pub cpu_us_per_item: u64,
    /// Memory per call: the mean of each instance's largest linear memory, and the largest,
    /// in bytes (0 in reports saved before they were measured).
    #[serde(default)]
    pub mean_memory_bytes: u64,
    #[serde(default)]
    pub peak_memory_bytes: u64,
}

/// A side's output.
pub struct Side {
    pub summary: SideSummary,
    pub info: ConnectorInfo,
    /// Documents as the index would receive them, by id.
    pub documents: BTreeMap<String, Value>,
}

/// Crawls `tape` with `component` in `config`'s settings.
pub fn crawl(
    config: &Config,
    component: ComponentRef,
    tape: &Path,
    out: &Path,
) -> anyhow::Result<Side> {
    let mut config = config.clone();
    let label = tenant_instance::setup::component_label(&component);
    config.component = component;
    let player = Player::open(tape)?;
    let clock = player.clock();
    let runtime = tenant_instance::cached_runtime()?;
    let options = RunOptions::new()
        .with_clock(GuestClock::Fixed(clock))
        .with_tape(Tape::Replay(player))
        .with_output_dir(out.to_path_buf());
    let mut p =
        prepare_with(&runtime, &config, options).with_context(|| format!("loading {label}"))?;
    let cpu_before = process_cpu_us();
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .run(CrawlMode::Full)
        .with_context(|| format!("crawling the recording with {label}"))?;
    let cpu = process_cpu_us().saturating_sub(cpu_before);
    let documents = read_documents(&out.join("documents"))?;
    let failed = report.errors.values().sum();
    Ok(Side {
        summary: SideSummary {
            component: label,
            contract: p.connector.contract_version().to_string(),
            listed: report.listed,
            fetched: report.fetched,
            indexed: report.indexed,
            failed,
            cpu_us_per_item: cpu.checked_div(report.fetched).unwrap_or(0),
            mean_memory_bytes: p.connector.mean_memory_bytes(),
            peak_memory_bytes: p.connector.peak_memory_bytes(),
        },
        info: p.info.clone(),
        documents,
    })
}

/// Every `documents/*.json` the crawl wrote, by the document's `id`.
fn read_documents(dir: &Path) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry?.path();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        out.insert(id, doc);
    }
    Ok(out)
}

/// User plus system CPU time of this process, in microseconds.
fn process_cpu_us() -> u64 {
    // SAFETY: getrusage writes into the struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let us = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    us(usage.ru_utime) + us(usage.ru_stime)
}
