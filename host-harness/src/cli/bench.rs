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
}

pub fn run(a: Args) -> anyhow::Result<()> {
    crate::bench::run(&crate::bench::BenchOptions {
        calls: a.calls,
        rate: a.rate,
        latency: std::time::Duration::from_millis(a.latency_ms),
        concurrency: a.concurrency,
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
    crate::bench::checkpoint(&a.docs, a.checkpoints)
}
