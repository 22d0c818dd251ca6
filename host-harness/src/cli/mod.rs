//! The `harness` command line: one module per command, each with its own arguments and `run`.
//! `main.rs` only parses and dispatches.

pub mod artifact;
pub mod bench;
pub mod build;
pub mod canary;
pub mod check;
pub mod crawl;
pub mod demo;
pub mod describe;
pub mod mock_tape;
pub mod mocks;
pub mod new;
pub mod rollout;
pub mod run;
pub mod serve;
pub mod status;

use clap::{Parser, Subcommand};

/// An error that ends the process with a particular exit code (any other error exits 1).
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

impl Exit {
    /// The exit code for `e`: its [`Exit`] code, or 1.
    pub fn code_of(e: &anyhow::Error) -> i32 {
        e.downcast_ref::<Exit>().map_or(1, |x| x.code)
    }
}

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Run sandboxed connectors, crawl into a Glean index, and serve mock Clari Copilot, Gong and Glean APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Crawl a generated workspace on embedded mock servers, end to end, and print the results.
    Demo(demo::Args),
    /// The crawl benchmark: a full crawl on the mock at Clari's rate limit, with added latency.
    Bench(bench::Args),
    /// The checkpoint benchmark: the cost of one checkpoint as the index grows.
    BenchCheckpoint(bench::CheckpointArgs),
    /// The instance benchmark: a fresh instance answering one item, per contract version.
    BenchInstance(bench::InstanceArgs),
    /// The per-item benchmark: what fetching one item costs in each built-in connector.
    BenchItems(bench::ItemsArgs),
    /// The density benchmark: many tenants in one service, on one mock with a workspace each.
    BenchDensity(bench::DensityArgs),
    /// The simulated week: one workspace on virtual time, with the budget planner deciding.
    BenchWeek(bench::WeekArgs),
    /// One crawl with the connector and index named in a configuration file.
    Crawl(crawl::Args),
    /// Stay up and crawl on the configured schedule; stop gracefully on SIGINT or SIGTERM.
    Run(run::Args),
    /// Host a directory of tenants: scheduled crawls, an admin API and metrics.
    Serve(serve::Args),
    /// What the last crawls did, what failed and why, held deletions, API budget.
    Status(status::Args),
    /// Check the configuration and the connector's credentials, without crawling.
    Check(check::Args),
    /// Print what a connector component declares (name, upstreams, object types).
    Describe(describe::Args),
    /// Run a candidate component beside the pinned one on a recording; compare, judge, promote.
    Canary(canary::Args),
    /// Roll a candidate out across a directory of tenants in waves, each tenant judged by its own canary
    Rollout(rollout::Args),
    /// Scaffold a connector crate: a working connector, its tests, a recording, a configuration.
    New(new::Args),
    /// Build a connector crate into an optimised, stamped component, and report its size.
    Build(build::Args),
    /// What a connector component is: contract, metadata, declarations, interface, digest.
    Inspect(artifact::InspectArgs),
    /// Write a component as an OCI image layout (the wasm artifact format).
    Package(artifact::PackageArgs),
    /// Push a component to an OCI registry.
    Push(artifact::PushArgs),
    /// Pull a component from an OCI registry.
    Pull(artifact::PullArgs),
    /// Serve the mock Clari Copilot API.
    MockClari(mocks::ClariArgs),
    /// Serve the mock Gong API.
    MockGong(mocks::GongArgs),
    /// Serve the mock Glean indexing API.
    MockGlean(mocks::GleanArgs),
    /// Serve a recording (`--record` file) as a stand-in for the source it was recorded from.
    MockTape(mock_tape::TapeArgs),
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
        Command::BenchCheckpoint(a) => bench::run_checkpoint(a),
        Command::BenchInstance(a) => bench::run_instance(a),
        Command::BenchItems(a) => bench::run_items(a),
        Command::BenchDensity(a) => bench::run_density(a),
        Command::BenchWeek(a) => bench::run_week(a),
        Command::Crawl(a) => crawl::run(a),
        Command::Run(a) => run::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Status(a) => status::run(a),
        Command::Check(a) => check::run(a),
        Command::Describe(a) => describe::run(a),
        Command::Canary(a) => canary::run(a),
        Command::Rollout(a) => rollout::run(a),
        Command::New(a) => new::run(a),
        Command::Build(a) => build::run(a),
        Command::Inspect(a) => artifact::inspect(a),
        Command::Package(a) => artifact::package(a),
        Command::Push(a) => artifact::push(a),
        Command::Pull(a) => artifact::pull(a),
        Command::MockClari(a) => mocks::run_clari(a),
        Command::MockGong(a) => mocks::run_gong(a),
        Command::MockGlean(a) => mocks::run_glean(a),
        Command::MockTape(a) => mock_tape::run_tape(a),
    }
}

/// An environment variable, if set.
pub fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}
