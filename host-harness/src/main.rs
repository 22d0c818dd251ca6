//! `harness`: the command line of the connector host harness.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use host_harness::config::Config;
use host_harness::crawl::Crawler;
use host_harness::crawl::types::CrawlMode;
use host_harness::egress::Tape;
use host_harness::egress::tape::{Player, Recorder};
use host_harness::runtime::GuestClock;
use host_harness::{demo, setup};

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Run sandboxed connectors, crawl into a Glean index, and serve mock Clari Copilot and Glean APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Crawl a generated workspace on embedded mock servers, end to end, and print the results.
    Demo {
        /// Calls in the generated workspace.
        #[arg(long, default_value_t = 300)]
        calls: usize,
        /// Seed of the generated workspace.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The crawl benchmark: a full crawl on the mock at Clari's rate limit, with added latency.
    Bench {
        #[arg(long, default_value_t = 1000)]
        calls: usize,
        /// Requests per second the mock allows and the harness uses.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Latency the mock adds to every answer, in milliseconds.
        #[arg(long, default_value_t = 100)]
        latency_ms: u64,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// One crawl with the connector and index named in a configuration file.
    Crawl {
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
        /// Record the connector's HTTP traffic (no secrets) to this file.
        #[arg(long, conflicts_with = "replay")]
        record: Option<PathBuf>,
        /// Answer the connector's HTTP requests from a recording: no network, no credentials.
        #[arg(long)]
        replay: Option<PathBuf>,
        /// Write documents as JSON files to this directory instead of the Glean API.
        #[arg(long)]
        output_dir: Option<PathBuf>,
    },
    /// Stay up and crawl on the configured schedule; stop gracefully on SIGINT or SIGTERM.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// What the last crawls did, what failed and why, held deletions, API budget.
    Status {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check the configuration and the connector's credentials, without crawling.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print what a connector component declares (name, upstreams, object types).
    Describe {
        /// The component file; default: the Clari Copilot connector built with the harness.
        #[arg(long)]
        component: Option<PathBuf>,
    },
    /// Serve the mock Clari Copilot API.
    MockClari {
        #[arg(long, default_value = "127.0.0.1:8081")]
        addr: SocketAddr,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 300)]
        calls: usize,
        #[arg(long, default_value_t = 12)]
        users: usize,
        /// The generator's "now" (RFC 3339); default: now.
        #[arg(long)]
        anchor: Option<String>,
        /// Fault: answer 429 above this many requests a second (Clari: 10).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Fault: answer 429 after this many requests (Clari: 100,000 a week).
        #[arg(long)]
        weekly_quota: Option<u64>,
        /// Fault: answer 502 when a body would exceed this many bytes (Clari: about 6 MB).
        #[arg(long)]
        max_response_bytes: Option<usize>,
        /// Fault: share of requests answered 500, 502 or 504 (0 to 1).
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Fault: milliseconds added to every answer.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Fault: `/call-details` answers broken JSON for this call id (repeatable).
        #[arg(long)]
        malformed_call: Vec<String>,
    },
    /// Serve the mock Glean indexing API.
    MockGlean {
        #[arg(long, default_value = "127.0.0.1:8082")]
        addr: SocketAddr,
        /// Keep the index in this file across restarts.
        #[arg(long)]
        state_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Full,
    Incremental,
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(host_harness::render::color_enabled())
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { calls, seed } => demo::run(&demo::DemoOptions {
            calls,
            seed,
            ..demo::DemoOptions::default()
        }),
        Command::Bench {
            calls,
            rate,
            latency_ms,
            concurrency,
        } => host_harness::bench::run(&host_harness::bench::BenchOptions {
            calls,
            rate,
            latency: std::time::Duration::from_millis(latency_ms),
            concurrency,
        }),
        Command::Crawl {
            config,
            mode,
            allow_mass_delete,
            json,
            record,
            replay,
            output_dir,
        } => {
            // A replay needs no credentials: nothing reaches the network.
            let replaying = replay.is_some();
            let env = move |k: &str| {
                env(k).or_else(|| replaying.then(|| "replay-needs-no-secret".into()))
            };
            let config = Config::load(&config, &env)?;
            let runtime = host_harness::cached_runtime()?;
            let now = chrono::Utc::now().timestamp();
            let tape = match (&record, &replay) {
                (Some(path), _) => Tape::Record(Recorder::create(path, now)?),
                (_, Some(path)) => Tape::Replay(Player::open(path)?),
                _ => Tape::Off,
            };
            // A recording fixes the guest clock so that a replay asks the very same questions.
            let clock = if record.is_some() {
                GuestClock::Fixed(now)
            } else {
                GuestClock::System
            };
            let mut p = setup::prepare_with(
                &runtime,
                &config,
                setup::RunOptions {
                    clock,
                    tape,
                    output_dir,
                },
            )?;
            p.options.allow_mass_delete = allow_mass_delete;
            let mode = match mode {
                Mode::Full => CrawlMode::Full,
                Mode::Incremental => CrawlMode::Incremental,
            };
            let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
                .with_hooks(host_harness::progress::hooks())
                .run(mode)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            if !report.completed {
                anyhow::bail!(
                    "the crawl stopped before its end; the next run resumes from the last checkpoint"
                );
            }
            Ok(())
        }
        Command::Run { config } => {
            let config = Config::load(&config, &env)?;
            let runtime = host_harness::cached_runtime()?;
            let mut p = setup::prepare(&runtime, &config, GuestClock::System)?;
            let stop = host_harness::schedule::stop_on_signals();
            println!(
                "running {}: incremental crawls every {} min, full crawls every {} h; Ctrl-C to stop",
                config.name, config.schedule.incremental_minutes, config.schedule.full_hours
            );
            host_harness::schedule::run(&mut p, &config.schedule, stop)
        }
        Command::Status { config } => {
            // Status needs no secrets: it only reads state.
            let env = |k: &str| env(k).or_else(|| Some("status-needs-no-secret".into()));
            let config = Config::load(&config, &env)?;
            let store =
                host_harness::crawl::state::SqliteStore::open(&config.state_dir, &config.name)?;
            print!(
                "{}",
                host_harness::status::render(
                    &config.name,
                    &store.path().display().to_string(),
                    &store,
                    store.current_budget()?,
                    config.crawl.weekly_request_budget,
                    chrono::Utc::now().timestamp(),
                )?
            );
            Ok(())
        }
        Command::Check { config } => {
            let config = Config::load(&config, &env)?;
            let runtime = host_harness::cached_runtime()?;
            let p = setup::prepare(&runtime, &config, GuestClock::System)?;
            p.connector
                .check()
                .context("the connector's check failed")?;
            println!(
                "ok: {} can reach its upstreams with the configured credentials",
                p.info.display_name
            );
            Ok(())
        }
        Command::Describe { component } => {
            let path = match component {
                Some(p) => p,
                None => host_harness::clari_copilot_component()?,
            };
            let runtime = host_harness::cached_runtime()?;
            let compiled = runtime.load_file(&path)?;
            let instance = host_harness::runtime::ConnectorInstance::new(
                compiled,
                std::sync::Arc::new(host_harness::egress::Egress::new(
                    Vec::new(),
                    Default::default(),
                    Default::default(),
                )),
                Default::default(),
                Default::default(),
                GuestClock::System,
                "describe",
            );
            let info = host_harness::crawl::Source::describe(&instance)?;
            println!("{}", host_harness::describe_json(&info));
            Ok(())
        }
        Command::MockClari {
            addr,
            seed,
            calls,
            users,
            anchor,
            rate_limit,
            weekly_quota,
            max_response_bytes,
            error_rate,
            latency_ms,
            malformed_call,
        } => {
            if !(0.0..=1.0).contains(&error_rate) {
                anyhow::bail!("--error-rate must be between 0 and 1");
            }
            let anchor = match anchor {
                Some(a) => chrono::DateTime::parse_from_rfc3339(&a)
                    .with_context(|| format!("--anchor `{a}` is not an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            let config = mock_clari::MockClariConfig {
                seed,
                calls,
                users,
                anchor,
                faults: mock_clari::Faults {
                    rate_limit_per_sec: rate_limit,
                    weekly_quota,
                    max_response_bytes,
                    error_rate,
                    latency: std::time::Duration::from_millis(latency_ms),
                    malformed_call_ids: malformed_call,
                    ..Default::default()
                },
                ..Default::default()
            };
            println!(
                "mock Clari Copilot API on http://{addr} ({calls} calls, seed {seed}); send X-Api-Key: {} and X-Api-Password: {}",
                config.api_key, config.api_password
            );
            serve(addr, |l| mock_clari::serve(l, config))
        }
        Command::MockGlean { addr, state_file } => {
            let config = mock_glean::MockGleanConfig {
                state_file,
                ..Default::default()
            };
            println!(
                "mock Glean indexing API on http://{addr}; send Authorization: Bearer {}",
                config.token
            );
            serve(addr, |l| mock_glean::serve(l, config))
        }
    }
}

fn serve<F, Fut>(addr: SocketAddr, f: F) -> anyhow::Result<()>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr}"))?;
        tokio::select! {
            r = f(listener) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
