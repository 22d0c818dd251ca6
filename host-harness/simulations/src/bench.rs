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

use crate::demo::demo_config_toml;
use tenant_instance::config::{Config, parse_file};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub calls: usize,
    pub rate: u32,
    pub latency: Duration,
    pub concurrency: usize,
    /// Random delay (0 to this) on each request's way to the mock.
    pub jitter: Duration,
    /// A CPU hog on every core beside the crawl.
    pub load: bool,
}

/// Busy threads, one per core, until dropped.
struct Hogs(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl Hogs {
    fn start(on: bool) -> Hogs {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..if on { cores } else { 0 })
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..100_000 {
                            x = std::hint::black_box(
                                x.wrapping_mul(6364136223846793005).wrapping_add(1),
                            );
                        }
                    }
                })
            })
            .collect();
        Hogs(stop, threads)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        self.1.drain(..).for_each(|t| drop(t.join()));
    }
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
    let proxy = (!o.jitter.is_zero())
        .then(|| mock_clari::proxy::DelayProxy::spawn(clari.addr(), o.jitter, 1000))
        .transpose()?;
    let source = proxy
        .as_ref()
        .map_or_else(|| clari.base_url(), |p| p.base_url());
    let dir = std::env::temp_dir().join(format!("harness-bench-{}", std::process::id()));
    let text = demo_config_toml(
        &source,
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
    let runtime = tenant_instance::cached_runtime()?;
    let mut p = tenant_instance::setup::prepare(&runtime, &config, GuestClock::System)?;

    let hogs = Hogs::start(o.load);
    let started = Instant::now();
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .with_hooks(tenant_instance::progress::hooks())
        .run(CrawlMode::Full)
        .context("the benchmark crawl")?;
    let wall = started.elapsed();
    drop(hogs);
    std::fs::remove_dir_all(&dir).ok();

    print_crawl(o, &report, &clari, wall);
    Ok(())
}

/// The crawl benchmark's figures against the rate-limit floor and the minimum needed.
fn print_crawl(
    o: &BenchOptions,
    report: &crawl_engine::CrawlReport,
    clari: &MockClari,
    wall: Duration,
) {
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
        "benchmark: {} calls, {} req/s limit, {:?} added latency, concurrency {}, jitter 0-{:?} on the way in, {}",
        o.calls,
        o.rate,
        o.latency,
        o.concurrency,
        o.jitter,
        if o.load {
            "a CPU hog on every core"
        } else {
            "no added load"
        }
    );
    println!(
        "  requests sent       {:>6}   (served by the mock: {served}, answered 429: {throttled})",
        report.requests
    );
    println!(
        "  most arrivals at the mock in any one second: {} (limit {})",
        clari.control().max_in_window(Duration::from_secs(1)),
        o.rate
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
}

/// The checkpoint benchmark: for each index size, fills a fresh SQLite state store with that
/// many documents, then times `checkpoints` checkpoints of one listing page each (25 changed
/// documents at spread-out places in the index, 25 listed ids, the meta), as a full crawl
/// writes them. Prints the median and the
/// 90th percentile per size and their ratio to the smallest size's median.
pub fn checkpoint(sizes: &[u64], checkpoints: usize) -> anyhow::Result<()> {
    use crawl_engine::{Checkpoint, DocRecord, FullPosition, StateMeta, StateStore};
    let page = |from: u64, n: u64, tag: &str| -> Vec<(String, DocRecord)> {
        (from..from + n)
            .map(|i| {
                (
                    format!("call-{i:09}"),
                    DocRecord {
                        object_type: "call".into(),
                        hash: format!("{tag}-{i:058}"),
                        indexed_at: 1_795_611_600,
                        fingerprint: None,
                        fetched_because: None,
                    },
                )
            })
            .collect()
    };
    println!(
        "checkpoint benchmark: {checkpoints} checkpoints of 25 changed documents each, SQLite state store"
    );
    let mut base: Option<f64> = None;
    for &size in sizes {
        let dir =
            std::env::temp_dir().join(format!("harness-bench-cp-{}-{size}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let mut store = state_store::SqliteStore::open(&dir, "bench")?;
        let meta = StateMeta {
            full_in_progress: Some(FullPosition::default()),
            ..StateMeta::default()
        };
        let mut filled = 0;
        while filled < size {
            let n = (size - filled).min(5000);
            store.commit(Checkpoint {
                upserts: page(filled, n, "a"),
                meta: meta.clone(),
                ..Checkpoint::default()
            })?;
            filled += n;
        }
        // The fill is setup, not measured: start from a settled database, as a store that
        // has been in use for a while is.
        store.settle()?;
        let mut times = Vec::with_capacity(checkpoints);
        for c in 0..checkpoints as u64 {
            // Changed documents sit anywhere in the index, as in a real crawl.
            let start = c.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % size.max(25);
            let upserts = page(start, 25, "b");
            let listed = upserts.iter().map(|(id, _)| id.clone()).collect();
            let t = Instant::now();
            store.commit(Checkpoint {
                upserts,
                listed,
                meta: meta.clone(),
                ..Checkpoint::default()
            })?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p90 = times[times.len() * 9 / 10];
        let ratio = median / *base.get_or_insert(median);
        println!(
            "  {size:>7} documents: median {median:.3} ms, p90 {p90:.3} ms, median vs smallest {ratio:.2}x"
        );
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}

/// The per-item cost of the sandbox: for each component, `n` times, a fresh instance (two for a
/// 0.1.0 component, which maps permissions in a second call) answering one item with its
/// permissions, through the pooling allocator and the cached pre-instance. Prints p50 and p99.
pub fn instance(components: &[(String, Vec<u8>)], n: usize) -> anyhow::Result<()> {
    let runtime = tenant_instance::cached_runtime()?;
    println!(
        "instance benchmark: {n} items each, fresh instance per call, {} pooling allocator",
        if runtime.is_pooling() {
            "with"
        } else {
            "without"
        }
    );
    for (name, bytes) in components {
        let compiled = runtime.load(bytes)?;
        let version = compiled.contract_version().clone();
        let settings = [("hostile", "log-flood"), ("log_lines", "0")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let source = wasm_runtime::WasmSource::offline(
            compiled,
            settings,
            GuestClock::Fixed(1_795_611_600),
            "bench",
        );
        // Warm up once, then measure.
        source.fetch_with_permissions("log-1", wasm_runtime::types::Visibility::Public)?;
        let before = source.instances_created();
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            source.fetch_with_permissions("log-1", wasm_runtime::types::Visibility::Public)?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let per_item = (source.instances_created() - before) as f64 / n as f64;
        times.sort_by(f64::total_cmp);
        println!(
            "  {name} (contract {version}): {per_item:.0} instance(s) per item, p50 {:.1} µs, p99 {:.1} µs",
            times[n / 2],
            times[(n * 99 / 100).min(n - 1)]
        );
    }
    Ok(())
}
