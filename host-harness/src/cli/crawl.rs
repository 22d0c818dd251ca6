//! `harness crawl`: one crawl from a configuration file, optionally recording or replaying the
//! connector's traffic, or writing documents to a directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use egress::Tape;
use egress::tape::{Player, Recorder};
use wasm_runtime::GuestClock;

use tenant_instance::config::Config;
use tenant_instance::setup;

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    Full,
    Incremental,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Apply deletions even above the brake (`max_delete_share`).
    #[arg(long)]
    allow_mass_delete: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Record the connector's HTTP traffic (no secrets) to this file. The recording crawls on
    /// fresh state (every item is fetched onto the tape) and leaves the instance's cursor,
    /// documents and crawl history alone; its requests count in the weekly budget.
    #[arg(long, conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer the connector's HTTP requests from a recording: no network, no credentials.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Write documents as JSON files to this directory instead of the Glean API.
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // Recordings and replays crawl fresh state, which has no cursor to start an incremental
    // crawl from.
    if matches!(a.mode, Mode::Incremental) && (a.record.is_some() || a.replay.is_some()) {
        anyhow::bail!(
            "--record and --replay crawl fresh state, so they need --mode full (an incremental crawl starts from the instance's cursor)"
        );
    }
    // A replay needs no credentials: nothing reaches the network.
    let replaying = a.replay.is_some();
    let env =
        move |k: &str| super::env(k).or_else(|| replaying.then(|| "replay-needs-no-secret".into()));
    let config = Config::load(&a.config, &env)?;
    // One writer per state: a replay writes none (it runs on fresh state in memory).
    let _lock = if replaying {
        None
    } else {
        Some(state_store::StateLock::acquire(
            &config.state_dir,
            &config.name,
        )?)
    };
    let runtime = tenant_instance::cached_runtime()?;
    let now = chrono::Utc::now().timestamp();
    let tape = match (&a.record, &a.replay) {
        (Some(path), _) => Tape::Record(Recorder::create(path, now)?),
        (_, Some(path)) => Tape::Replay(Player::open(path)?),
        _ => Tape::Off,
    };
    // A recording fixes the guest clock so that a replay asks the very same questions.
    let clock = if a.record.is_some() {
        GuestClock::Fixed(now)
    } else {
        GuestClock::System
    };
    let options = setup::RunOptions::new()
        .with_clock(clock)
        .with_tape(tape)
        .with_output_dir(a.output_dir);
    let mut p = setup::prepare_with(&runtime, &config, options)?;
    p.options.allow_mass_delete = a.allow_mass_delete;
    let mode = match a.mode {
        Mode::Full => CrawlMode::Full,
        Mode::Incremental => CrawlMode::Incremental,
    };
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .with_hooks(tenant_instance::progress::hooks())
        .run(mode)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("the report as JSON")?
        );
    } else {
        print!("{report}");
    }
    outcome(&report)
}

/// Exit codes of `harness crawl` beyond 0 (completed) and 1 (could not run: the message says
/// why), as the README documents them.
pub const EXIT_COMPLETED_WITH_FAILURES: i32 = 3;
pub const EXIT_STOPPED: i32 = 4;
pub const EXIT_FAILED: i32 = 5;

/// The crawl's outcome as the process's exit: `Ok` only when it completed with no failed item.
fn outcome(report: &crawl_engine::CrawlReport) -> anyhow::Result<()> {
    use crawl_engine::Ending;
    let failed = report.failures.len();
    let (code, message) = match (report.completed, report.ending) {
        (true, _) if failed == 0 => return Ok(()),
        (true, _) => (
            EXIT_COMPLETED_WITH_FAILURES,
            format!(
                "the crawl completed, but {failed} item(s) were not indexed (listed above); the next crawl tries them again"
            ),
        ),
        (false, Some(Ending::Limit | Ending::Interrupted)) => (
            EXIT_STOPPED,
            "the crawl stopped before its end (a crawl limit or a stop request); the next run resumes from the last checkpoint".to_string(),
        ),
        (false, _) => (
            EXIT_FAILED,
            "the crawl failed before its end (the source or the index, see above); the next run resumes from the last checkpoint".to_string(),
        ),
    };
    Err(crate::cli::Exit { code, message }.into())
}
