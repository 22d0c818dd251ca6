//! `harness demo`: a demo crawl on embedded mocks.

#[derive(clap::Args)]
pub struct Args {
    /// Calls in the generated workspace.
    #[arg(long, default_value_t = 300)]
    calls: usize,
    /// Seed of the generated workspace.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    crate::demo::run(&crate::demo::DemoOptions {
        calls: a.calls,
        seed: a.seed,
        ..crate::demo::DemoOptions::default()
    })
}
