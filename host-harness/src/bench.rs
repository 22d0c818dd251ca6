//! `harness bench`: the crawl-throughput benchmark. A full crawl of a generated workspace on the
//! mock Clari Copilot API limited to Clari's 10 requests/s with added latency, reporting the
//! requests used against the minimum the crawl needs and the wall time against the rate-limit
//! floor (requests ÷ rate).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use mock_clari::{Faults, MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

use crawl_engine::Crawler;
use crawl_engine::types::CrawlMode;
use wasm_runtime::GuestClock;

use crate::config::{Config, parse_file};
use crate::demo::demo_config_toml;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub calls: usize,
    pub rate: u32,
    pub latency: Duration,
    pub concurrency: usize,
}

/// Runs the benchmark and prints its figures.
pub fn run(o: &BenchOptions) -> anyhow::Result<()> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: 1000,
            calls: o.calls,
            anchor: chrono::Utc::now(),
            faults: Faults {
                rate_limit_per_sec: Some(o.rate),
                latency: o.latency,
                ..Faults::default()
            },
            ..MockClariConfig::default()
        },
    )?;
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default())?;
    let dir = std::env::temp_dir().join(format!("harness-bench-{}", std::process::id()));
    let text = demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &dir.display().to_string(),
        f64::from(o.rate),
    )
    .replace(
        "concurrency = 4",
        &format!("concurrency = {}", o.concurrency),
    );
    let env = |k: &str| match k {
        "CLARI_API_KEY" => Some(MockClariConfig::default().api_key),
        "CLARI_API_PASSWORD" => Some(MockClariConfig::default().api_password),
        _ => Some(MockGleanConfig::default().token),
    };
    let config = Config::from_file(parse_file(&text)?, std::path::Path::new("."), &env)?;
    let runtime = crate::cached_runtime()?;
    let mut p = crate::setup::prepare(&runtime, &config, GuestClock::System)?;

    let started = Instant::now();
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .with_hooks(crate::progress::hooks())
        .run(CrawlMode::Full)
        .context("the benchmark crawl")?;
    let wall = started.elapsed();
    std::fs::remove_dir_all(&dir).ok();

    let served = clari.control().request_count();
    let throttled = clari.control().throttled_count();
    let page = 25u64;
    let listing_pages = report.listed.div_ceil(page).max(1);
    // users + one listing request and one public-listing request per page + one detail per
    // eligible call.
    let minimum = 1 + 2 * listing_pages + report.fetched;
    let floor = Duration::from_secs_f64(report.requests as f64 / f64::from(o.rate));
    println!("{report}");
    println!(
        "benchmark: {} calls, {} req/s limit, {:?} added latency, concurrency {}",
        o.calls, o.rate, o.latency, o.concurrency
    );
    println!(
        "  requests sent       {:>6}   (served by the mock: {served}, answered 429: {throttled})",
        report.requests
    );
    println!(
        "  minimum needed      {minimum:>6}   (at most: 1 users + {listing_pages} listing pages x 2 for the privacy pass + {} details)  ratio {:.3}",
        report.fetched,
        report.requests as f64 / minimum as f64
    );
    println!(
        "  wall time        {:>8.1}s   rate-limit floor {:.1}s  ratio {:.3}",
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64().max(0.001)
    );
    Ok(())
}
