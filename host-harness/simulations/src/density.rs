//! `harness bench-density`: many tenants in one `harness serve` service. The mocks run as
//! child processes of this binary (`harness mock-clari`, `harness mock-glean`), so the memory
//! and CPU reported for the host are the host's alone; the mocks' are reported beside them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use mock_clari::MockClariConfig;
use mock_glean::MockGleanConfig;

/// A mock served by a child process of this binary: its address, and its memory and CPU
/// apart from the host's.
pub(crate) struct ChildMock {
    child: Child,
    /// Kept open: the mock may print again.
    _stdout: BufReader<ChildStdout>,
    pub(crate) url: String,
}

impl ChildMock {
    /// Runs `harness <args>` and waits for the banner naming the address it bound.
    pub(crate) fn spawn(args: &[String]) -> anyhow::Result<ChildMock> {
        let exe = std::env::current_exe().context("this binary's path")?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting `harness {}`", args.join(" ")))?;
        let mut stdout = BufReader::new(child.stdout.take().context("the mock's stdout")?);
        let mut banner = String::new();
        stdout.read_line(&mut banner)?;
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches([';', ',']).to_string())
            .with_context(|| {
                format!("`harness {}` printed no address: {banner}", args.join(" "))
            })?;
        Ok(ChildMock {
            child,
            _stdout: stdout,
            url,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The density benchmark: `tenants` Clari Copilot tenants, each against its own mock
/// workspace (one mock server, one workspace per API key), incremental crawls every minute,
/// run by `harness serve`'s service for `minutes`. Prints resident memory, CPU, start-up time
/// and scheduler lag (p50, p95), over the whole run and after the first round; with
/// `backfilled`, measured only once every tenant's first (full) crawl is done. `failing`
/// more tenants point at a black hole (a loopback listener that accepts and never answers),
/// so each of their crawls hangs until its timeouts; the lag figures are the healthy
/// tenants'.
pub fn density(
    tenants: usize,
    minutes: u64,
    workers: usize,
    calls: usize,
    failing: usize,
    backfilled: bool,
) -> anyhow::Result<()> {
    density_secrets(tenants, failing);
    let (clari, glean) = spawn_mocks(calls)?;
    let dir = std::env::temp_dir().join(format!("harness-density-{}", std::process::id()));
    let tenants_dir = density_tenants(&dir, tenants, failing, &clari.url, &glean.url)?;
    let run = density_run(tenants_dir, workers, minutes, backfilled)?;
    println!(
        "density benchmark: {tenants} tenants, {calls} calls each, incremental every minute, {workers} workers, {minutes} min"
    );
    if let Some(took) = run.backfill {
        println!(
            "  backfill first (not measured): every tenant's first full crawl took {:.0} s; the figures below are the {minutes} min after it",
            took.as_secs_f64()
        );
    }
    print_density(&run, failing, tenants);
    for (name, mock) in [("Clari Copilot", &clari), ("Glean", &glean)] {
        println!(
            "  mock {name} (a separate process, not counted above): peak {} MiB, CPU {:.0} s",
            status_kib(mock.pid(), "VmHWM:") / 1024,
            cpu_seconds_of(&mock.pid().to_string())
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Mock Clari Copilot (a workspace of `calls` per API key) and mock Glean (no rate limits),
/// each a child process of this binary.
pub(crate) fn spawn_mocks(calls: usize) -> anyhow::Result<(ChildMock, ChildMock)> {
    let clari = ChildMock::spawn(&[
        "mock-clari".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--calls".into(),
        calls.to_string(),
    ])?;
    let glean = ChildMock::spawn(&[
        "mock-glean".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--no-rate-limits".into(),
    ])?;
    Ok((clari, glean))
}

/// Each tenant's secrets in variables of its own (a tenant may not use another's).
pub(crate) fn density_secrets(tenants: usize, failing: usize) {
    let clari_defaults = MockClariConfig::default();
    // SAFETY: set before any thread of this process is started.
    unsafe {
        std::env::set_var("DENSITY_GLEAN_TOKEN", MockGleanConfig::default().token);
        for i in 0..tenants {
            std::env::set_var(
                format!("DENSITY_{i}_KEY"),
                format!("{}-{i}", clari_defaults.api_key),
            );
            std::env::set_var(
                format!("DENSITY_{i}_PASSWORD"),
                &clari_defaults.api_password,
            );
        }
        for i in 0..failing {
            std::env::set_var(format!("DENSITY_F{i}_KEY"), format!("failing-{i}"));
            std::env::set_var(format!("DENSITY_F{i}_PASSWORD"), "failing");
        }
    }
}

/// The tenant files under `dir/tenants`: `tenants` against the mock, `failing` against a black
/// hole (a loopback listener that accepts connections and holds them without a word).
pub(crate) fn density_tenants(
    dir: &std::path::Path,
    tenants: usize,
    failing: usize,
    clari: &str,
    glean: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let tenants_dir = dir.join("tenants");
    std::fs::create_dir_all(&tenants_dir)?;
    // One tenant file: its own name, datasource, secrets (variables `DENSITY_<secrets>KEY`
    // and `DENSITY_<secrets>PASSWORD`) and state, against `source`.
    let state = dir.join("state");
    let write_tenant = |name: &str, source: &str, secrets: &str| {
        std::fs::write(
            tenants_dir.join(format!("{name}.toml")),
            format!(
                "[connector]\nname = \"{name}\"\nstate_dir = \"{state}\"\n\
                 [connector.settings]\nhistory_months = 12\n\
                 [upstreams.clari]\nbase_url = \"{source}\"\nrate_per_second = 10\nallow_private_network = true\n\
                 [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"DENSITY_{secrets}KEY\" }}\nX-Api-Password = {{ env = \"DENSITY_{secrets}PASSWORD\" }}\n\
                 [glean]\nbase_url = \"{glean}\"\ntoken_env = \"DENSITY_GLEAN_TOKEN\"\ndatasource = \"{name}\"\n\
                 [schedule]\nincremental_minutes = 1\nfull_hours = 24\n",
                state = state.display(),
            ),
        )
    };
    for i in 0..tenants {
        write_tenant(&format!("t{i}"), clari, &format!("{i}_"))?;
    }
    let hole = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let hole_url = format!("http://{}", hole.local_addr()?);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hole.incoming().flatten() {
            held.push(s);
        }
    });
    for i in 0..failing {
        write_tenant(&format!("f{i}"), &hole_url, &format!("F{i}_"))?;
    }
    Ok(tenants_dir)
}

/// What one density run measured.
struct DensityRun {
    startup: Duration,
    crawls_done: usize,
    peak_rss_kib: u64,
    wall: f64,
    cpu: f64,
    views: Vec<harness_service::serve::TenantView>,
    /// (when dispatched, scheduler lag) of the healthy tenants' crawls.
    lags: Vec<(Instant, Duration)>,
    /// The scheduler lag of each healthy tenant's first crawl here, and of its later ones
    /// (polls), over the whole window.
    first_and_later: (Vec<f64>, Vec<f64>),
    started: Instant,
    /// CPU seconds from the end of the first minute to the end (`None` for a one-minute run).
    warm_cpu: Option<f64>,
    /// With `--backfilled`: how long every tenant's first crawl took, before the measured window.
    backfill: Option<Duration>,
}

/// Runs the service over `tenants_dir` for `minutes`, sampling resident memory every second.
fn density_run(
    tenants_dir: std::path::PathBuf,
    workers: usize,
    minutes: u64,
    backfilled: bool,
) -> anyhow::Result<DensityRun> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let service = harness_service::serve::Service::new(
        tenant_instance::cached_runtime()?,
        harness_service::serve::ServeOptions {
            workers,
            rescan: Duration::from_secs(10),
            ..harness_service::serve::ServeOptions::new(tenants_dir)
        },
        stop.clone(),
    );
    let mut cpu_start = cpu_seconds();
    let mut started = Instant::now();
    let runner = {
        let service = service.clone();
        std::thread::spawn(move || service.run())
    };
    while !service.is_ready() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let startup = started.elapsed();
    let backfill = backfilled.then(|| backfill(&service));
    if backfill.is_some() {
        // The measured window starts now: every tenant has its state, as in a service that
        // has run for a while.
        cpu_start = cpu_seconds();
        started = Instant::now();
    }
    let mut peak_rss_kib = 0;
    let end = started + Duration::from_secs(minutes * 60);
    let first_minute = started + Duration::from_secs(60);
    let mut cpu_at_minute = None;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        peak_rss_kib = peak_rss_kib.max(status_kib_self("VmRSS:"));
        if cpu_at_minute.is_none() && Instant::now() >= first_minute && end > first_minute {
            cpu_at_minute = Some(cpu_seconds());
        }
    }
    let crawls_done = service
        .views()
        .iter()
        .filter(|v| v.last_crawl.is_some())
        .count();
    stop.store(true, Ordering::SeqCst);
    let _ = runner.join();
    let lags = service
        .lags
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|d| d.tenant.starts_with('t') && d.at >= started)
        .map(|d| (d.at, d.lag))
        .collect();
    let first_and_later = first_and_later(&service, started);
    Ok(DensityRun {
        startup,
        crawls_done,
        peak_rss_kib,
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu_start,
        views: service.views(),
        lags,
        first_and_later,
        started,
        warm_cpu: cpu_at_minute.map(|at| cpu_seconds() - at),
        backfill,
    })
}

/// The lags (seconds) of each healthy tenant's first crawl and of its later ones, dispatched
/// from `started` on.
fn first_and_later(
    service: &harness_service::serve::Service,
    started: Instant,
) -> (Vec<f64>, Vec<f64>) {
    let all = service.lags.lock().unwrap_or_else(|e| e.into_inner());
    let mut seen = std::collections::HashSet::new();
    let (mut first, mut later) = (Vec::new(), Vec::new());
    for d in all.iter().filter(|d| d.tenant.starts_with('t')) {
        let fresh = seen.insert(d.tenant.clone());
        if d.at >= started {
            if fresh { &mut first } else { &mut later }.push(d.lag.as_secs_f64());
        }
    }
    (first, later)
}

/// Runs until every healthy tenant's first crawl completed (at most an hour); how long it took.
fn backfill(service: &harness_service::serve::Service) -> Duration {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3600) {
        let waiting = service
            .views()
            .iter()
            .filter(|v| v.name.starts_with('t'))
            .filter(|v| !v.last_crawl.as_ref().is_some_and(|l| l.completed))
            .count();
        if waiting == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    t0.elapsed()
}

/// The density run's figures.
fn print_density(run: &DensityRun, failing: usize, tenants: usize) {
    let quarantined = run
        .views
        .iter()
        .filter(|v| v.state == "quarantined")
        .count();
    let healthy_failed: Vec<&harness_service::serve::TenantView> = run
        .views
        .iter()
        .filter(|v| v.name.starts_with('t'))
        .filter(|v| {
            v.consecutive_failures > 0 || v.last_crawl.as_ref().is_some_and(|l| l.error.is_some())
        })
        .collect();
    // A percentile in seconds, or "none" when no crawl fell in the window (a 1-minute run has
    // nothing "after the first minute").
    let pct = |mut v: Vec<f64>, p: f64| -> String {
        if v.is_empty() {
            return "none".into();
        }
        v.sort_by(f64::total_cmp);
        format!("{:.2} s", v[((v.len() - 1) as f64 * p) as usize])
    };
    let all: Vec<f64> = run.lags.iter().map(|(_, l)| l.as_secs_f64()).collect();
    let warm: Vec<f64> = run
        .lags
        .iter()
        .filter(|(at, _)| at.duration_since(run.started) > Duration::from_secs(60))
        .map(|(_, l)| l.as_secs_f64())
        .collect();
    if failing > 0 {
        println!(
            "  plus {failing} failing tenants (a source that never answers); {quarantined} quarantined by the end; lags below are the healthy tenants'"
        );
    }
    println!(
        "  start-up (all tenant files checked)  {:.1} s",
        run.startup.as_secs_f64()
    );
    println!("  tenants crawled at least once       {}", run.crawls_done);
    println!("  crawls dispatched                   {}", run.lags.len());
    print_host_cost(run, tenants);
    println!(
        "  scheduler lag, all crawls:          p50 {}, p95 {}",
        pct(all.clone(), 0.5),
        pct(all, 0.95)
    );
    println!(
        "  scheduler lag after the first minute: p50 {}, p95 {}, p99 {}, max {} ({} crawls)",
        pct(warm.clone(), 0.5),
        pct(warm.clone(), 0.95),
        pct(warm.clone(), 0.99),
        pct(warm.clone(), 1.0),
        warm.len()
    );
    let (first, later) = &run.first_and_later;
    println!(
        "  scheduler lag by kind: first crawls here p50 {}, p95 {} ({}); later crawls (polls) p50 {}, p95 {}, p99 {} ({})",
        pct(first.clone(), 0.5),
        pct(first.clone(), 0.95),
        first.len(),
        pct(later.clone(), 0.5),
        pct(later.clone(), 0.95),
        pct(later.clone(), 0.99),
        later.len()
    );
    println!(
        "  healthy tenants whose last crawl failed: {}{}",
        healthy_failed.len(),
        healthy_failed
            .first()
            .and_then(|v| v.last_crawl.as_ref())
            .and_then(|l| l.error.clone())
            .map(|e| format!(" (e.g. {})", crawl_engine::text::truncate(&e, 200)))
            .unwrap_or_default()
    );
}

/// (VmRSS, VmHWM) of this process, in KiB.
/// The host's memory and CPU, whole and per tenant or crawl.
fn print_host_cost(run: &DensityRun, tenants: usize) {
    println!(
        "  host resident memory: peak {} MiB (VmHWM {} MiB), {:.2} MiB a tenant",
        run.peak_rss_kib / 1024,
        status_kib_self("VmHWM:") / 1024,
        run.peak_rss_kib as f64 / 1024.0 / tenants.max(1) as f64
    );
    println!(
        "  host CPU: {:.0} s over {:.0} s wall ({:.0}% of one core), {:.1} ms a crawl",
        run.cpu,
        run.wall,
        run.cpu / run.wall * 100.0,
        run.cpu * 1000.0 / run.lags.len().max(1) as f64
    );
    if let Some(cpu) = run.warm_cpu {
        let warm = run
            .lags
            .iter()
            .filter(|(at, _)| at.duration_since(run.started) > Duration::from_secs(60))
            .count();
        println!(
            "  host CPU after the first minute (incremental crawls, mostly unchanged): {:.1} ms a crawl ({warm} crawls)",
            cpu * 1000.0 / warm.max(1) as f64
        );
    }
}

/// A `/proc/<pid>/status` field in KiB (0 when unreadable).
pub(crate) fn status_kib(pid: u32, field: &str) -> u64 {
    status_field(&format!("/proc/{pid}/status"), field)
}

fn status_kib_self(field: &str) -> u64 {
    status_field("/proc/self/status", field)
}

fn status_field(path: &str, name: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of this process, in seconds.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

/// CPU time (user + system) of process `pid` ("self" for this one), in seconds.
pub(crate) fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the `)`.
    (ticks(11) + ticks(12)) / 100.0
}
