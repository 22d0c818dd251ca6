//! `harness bench` and `harness bench-checkpoint`: the benchmarks.

#[derive(clap::Args)]
pub struct Args {
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
    /// Random delay, 0 to this many milliseconds, added to each request on its way to the mock
    /// (a loopback proxy), as a network with jitter would.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Runs a CPU hog on every core beside the crawl (a saturated machine).
    #[arg(long)]
    load: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    harness_sims::bench::run(&harness_sims::bench::BenchOptions {
        calls: a.calls,
        rate: a.rate,
        latency: std::time::Duration::from_millis(a.latency_ms),
        concurrency: a.concurrency,
        jitter: std::time::Duration::from_millis(a.jitter_ms),
        load: a.load,
    })
}

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// Index sizes to measure at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    docs: Vec<u64>,
    /// Checkpoints measured at each size.
    #[arg(long, default_value_t = 200)]
    checkpoints: usize,
}

pub fn run_checkpoint(a: CheckpointArgs) -> anyhow::Result<()> {
    harness_sims::bench::checkpoint(&a.docs, a.checkpoints)
}

#[derive(clap::Args)]
pub struct ItemsArgs {
    /// Calls in each generated workspace.
    #[arg(long, default_value_t = 300)]
    calls: usize,
    /// Which built-in connectors (clari, gong); default: both.
    #[arg(long = "source")]
    sources: Vec<String>,
}

/// `harness bench-items`: the per-item cost of each built-in connector, from a replayed tape.
pub fn run_items(a: ItemsArgs) -> anyhow::Result<()> {
    let sources = if a.sources.is_empty() {
        vec!["clari".to_string(), "gong".to_string()]
    } else {
        a.sources
    };
    let mut costs = Vec::new();
    for s in &sources {
        costs.push(harness_sims::bench_items::measure(s, a.calls)?);
    }
    print!("{}", harness_sims::bench_items::report(&costs));
    Ok(())
}

#[derive(clap::Args)]
pub struct InstanceArgs {
    /// Component files to compare (default: the embedded probe built for the current contract
    /// and the embedded frozen 0.1.0 probe).
    components: Vec<std::path::PathBuf>,
    /// Items fetched per component.
    #[arg(long, default_value_t = 1000)]
    items: usize,
}

pub fn run_instance(a: InstanceArgs) -> anyhow::Result<()> {
    let mut components = Vec::new();
    if a.components.is_empty() {
        components.push((
            "probe_connector.wasm".to_string(),
            tenant_instance::probe_wasm()?.to_vec(),
        ));
        components.push((
            "probe-0.1.0.wasm".to_string(),
            tenant_instance::PROBE_0_1_0_WASM.to_vec(),
        ));
    }
    for p in a.components {
        let bytes =
            std::fs::read(&p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        components.push((name, bytes));
    }
    harness_sims::bench::instance(&components, a.items.max(1))
}

#[derive(clap::Args)]
pub struct DensityArgs {
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    #[arg(long, default_value_t = 3)]
    minutes: u64,
    /// As `harness serve --workers` (same default).
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Calls in each tenant's workspace.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// More tenants whose source accepts connections and never answers (each of their
    /// crawls hangs until its timeouts); the lag figures stay the healthy tenants'.
    #[arg(long, default_value_t = 0)]
    failing: usize,
    /// Measure the steady state: first run until every tenant's first (full) crawl is done,
    /// unmeasured, then the minutes asked for.
    #[arg(long)]
    backfilled: bool,
    /// Serve the tenants with this many `harness serve` replicas on a throwaway PostgreSQL
    /// (Debian's `postgresql` package), each with default settings, instead of one service
    /// in this process. Not with `--failing` or `--workers`.
    #[arg(long, conflicts_with_all = ["failing", "workers"])]
    replicas: Option<usize>,
}

pub fn run_density(a: DensityArgs) -> anyhow::Result<()> {
    if let Some(replicas) = a.replicas {
        if !(1..=16).contains(&replicas) {
            anyhow::bail!("--replicas must be between 1 and 16 (found {replicas})");
        }
        return harness_sims::density_cluster::density_cluster(
            harness_sims::density_cluster::ClusterRun {
                tenants: a.tenants,
                minutes: a.minutes,
                replicas,
                calls: a.calls,
                backfilled: a.backfilled,
            },
        );
    }
    harness_sims::density::density(
        a.tenants,
        a.minutes,
        a.workers.max(1),
        a.calls,
        a.failing,
        a.backfilled,
    )
}

#[derive(clap::Args)]
pub struct WeekArgs {
    /// Calls in the workspace at the start (spread over 12 months).
    #[arg(long, default_value_t = 50_000)]
    calls: usize,
    /// Calls recorded each working day (in two time zones).
    #[arg(long, default_value_t = 400)]
    per_day: usize,
    /// Days simulated, from Sunday 00:00 GMT.
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Percent of Clari's answers during the week that take 3 s longer (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    slow_percent: u32,
    /// Percent of Clari's answers during the week that are 500, 502 or 504 (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    error_percent: u32,
    /// Which source's week: `clari` (the defaults above) or `gong` (a Gong company at Gong's
    /// limits: --calls defaults to 20,000 and --per-day to 120 there).
    #[arg(long, default_value = "clari", value_parser = ["clari", "gong"])]
    source: String,
}

pub fn run_week(a: WeekArgs) -> anyhow::Result<()> {
    if a.source == "gong" {
        if a.slow_percent > 0 || a.error_percent > 0 {
            anyhow::bail!("--slow-percent and --error-percent apply to the Clari week only");
        }
        let d = harness_sims::week_gong::GongWeekOptions::default();
        // The Clari defaults stand for "not given": Gong's own apply.
        let calls = if a.calls == 50_000 { d.calls } else { a.calls };
        let per_day = if a.per_day == 400 {
            d.per_day
        } else {
            a.per_day
        };
        return harness_sims::week_gong::run(&harness_sims::week_gong::GongWeekOptions {
            calls,
            per_day,
            days: a.days.clamp(1, 28),
            seed: a.seed,
        })
        .map(|_| ());
    }
    harness_sims::week::run(&harness_sims::week::WeekOptions {
        calls: a.calls,
        per_day: a.per_day,
        days: a.days.clamp(1, 28),
        seed: a.seed,
        slow_percent: a.slow_percent,
        error_percent: a.error_percent,
    })
    .map(|_| ())
}
