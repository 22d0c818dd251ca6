//! `harness`: the command line of the connector host harness. Parses, sets up logging, and
//! dispatches to one module per command (`host_harness::cli`).

use clap::Parser;

fn main() {
    let cli = host_harness::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(harness_service::render::color_enabled())
        .init();
    if let Err(e) = host_harness::cli::dispatch(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(host_harness::cli::Exit::code_of(&e));
    }
}
