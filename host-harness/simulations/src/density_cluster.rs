//! `harness bench-density --replicas N`: the density benchmark on PostgreSQL. The same tenants
//! and mocks as [`crate::density`], served by N `harness serve` replicas (child processes of
//! this binary, default settings) sharing a throwaway PostgreSQL (Debian's package, started
//! here as the tests start it). Scheduler lag comes from the replicas' own
//! `harness_scheduler_lag_seconds` histograms (merged, quantiles interpolated within a bucket
//! as Prometheus' `histogram_quantile` does); memory and CPU from `/proc`, per part.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::density::{cpu_seconds_of, status_kib};

/// The admin token the replicas are started with (a benchmark's, not a secret).
const TOKEN: &str = "density-cluster-admin-token";

/// What the benchmark is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ClusterRun {
    pub tenants: usize,
    pub minutes: u64,
    pub replicas: usize,
    pub calls: usize,
    pub backfilled: bool,
}

/// Runs the benchmark and prints its figures.
pub fn density_cluster(run: ClusterRun) -> anyhow::Result<()> {
    crate::density::density_secrets(run.tenants, 0);
    let pg = pg_state::testing::TempPostgres::start()?;
    let url = pg.database("density")?;
    // SAFETY: set before this process starts any thread (the replicas inherit them).
    unsafe {
        std::env::set_var("DENSITY_DATABASE_URL", &url);
        std::env::set_var("DENSITY_ADMIN_TOKEN", TOKEN);
    }
    let (clari, glean) = crate::density::spawn_mocks(run.calls)?;
    let dir = std::env::temp_dir().join(format!("harness-density-{}", std::process::id()));
    let tenants_dir =
        crate::density::density_tenants(&dir, run.tenants, 0, &clari.url, &glean.url)?;
    let started = Instant::now();
    let replicas = (0..run.replicas)
        .map(|i| Replica::spawn(i, &tenants_dir, &dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut db = pg_state::connect(&url)?;
    let measured = measure(run, &replicas, &mut db, &pg, started)?;
    println!(
        "density benchmark on PostgreSQL: {} tenants, {} calls each, incremental every minute, {} replicas (default settings), {} min",
        run.tenants, run.calls, run.replicas, run.minutes
    );
    measured.print(run);
    for (name, mock) in [("Clari Copilot", &clari), ("Glean", &glean)] {
        println!(
            "  mock {name} (not counted above): peak {} MiB, CPU {:.0} s",
            status_kib(mock.pid(), "VmHWM:") / 1024,
            cpu_seconds_of(&mock.pid().to_string())
        );
    }
    drop(replicas);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// One `harness serve` replica, a child process.
struct Replica {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    admin: String,
}

impl Replica {
    fn spawn(i: usize, tenants: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("this binary's path")?;
        let log = std::fs::File::create(dir.join(format!("replica-{i}.log")))?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--tenants")
            .arg(tenants)
            .args([
                "--admin",
                "127.0.0.1:0",
                "--token-env",
                "DENSITY_ADMIN_TOKEN",
            ])
            .args(["--database-url-env", "DENSITY_DATABASE_URL"])
            .args(["--replica", &format!("r{i}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting a `harness serve` replica")?;
        let mut stdout = BufReader::new(child.stdout.take().context("the replica's stdout")?);
        let mut banner = String::new();
        stdout.read_line(&mut banner)?;
        let admin = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_string)
            .with_context(|| format!("replica {i} printed no admin address: {banner}"))?;
        Ok(Replica {
            child,
            _stdout: stdout,
            admin,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The replica's metrics, in the Prometheus text format.
    fn metrics(&self) -> anyhow::Result<String> {
        let mut resp = ureq::get(&format!("{}/metrics", self.admin))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .context("reading a replica's metrics")?;
        Ok(resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()?)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the run measured, from the start of the window (after the backfill, with
/// `--backfilled`) to its end.
struct Measured {
    backfill: Option<Duration>,
    wall: f64,
    replica_cpu: f64,
    /// The peak of the replicas' summed resident memory, sampled every second.
    replica_peak_rss_kib: u64,
    pg_cpu: f64,
    /// The peak of PostgreSQL's summed proportional set size (shared buffers counted once).
    pg_peak_pss_kib: u64,
    sessions_peak: i64,
    lag_all: Histogram,
    /// After the window's first minute.
    lag_warm: Option<Histogram>,
    outcomes: std::collections::BTreeMap<String, u64>,
    db_size: i64,
}

fn measure(
    run: ClusterRun,
    replicas: &[Replica],
    db: &mut postgres::Client,
    pg: &pg_state::testing::TempPostgres,
    started: Instant,
) -> anyhow::Result<Measured> {
    let postmaster = postmaster_pid(pg)?;
    let backfill = if run.backfilled {
        Some(wait_backfill(db, run.tenants, started)?)
    } else {
        None
    };
    let t0 = Instant::now();
    let snap =
        |rs: &[Replica]| -> anyhow::Result<(Histogram, std::collections::BTreeMap<String, u64>)> {
            let texts = rs
                .iter()
                .map(Replica::metrics)
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((
                Histogram::merged(&texts, "harness_scheduler_lag_seconds"),
                outcomes(&texts),
            ))
        };
    let (lag0, out0) = snap(replicas)?;
    let cpu0: f64 = replicas
        .iter()
        .map(|r| cpu_seconds_of(&r.pid().to_string()))
        .sum();
    let pg_cpu0 = pg_cpu(postmaster);
    let (mut rss_peak, mut pss_peak, mut sessions_peak) = (0, 0, 0);
    let mut at_minute = None;
    let end = t0 + Duration::from_secs(run.minutes * 60);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        let rss: u64 = replicas.iter().map(|r| status_kib(r.pid(), "VmRSS:")).sum();
        rss_peak = rss_peak.max(rss);
        pss_peak = pss_peak.max(pg_pss_kib(postmaster));
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
                &[],
            )?
            .get(0);
        sessions_peak = sessions_peak.max(n);
        if at_minute.is_none() && t0.elapsed() >= Duration::from_secs(60) && run.minutes > 1 {
            at_minute = Some(snap(replicas)?.0);
        }
    }
    let (lag1, out1) = snap(replicas)?;
    let cpu1: f64 = replicas
        .iter()
        .map(|r| cpu_seconds_of(&r.pid().to_string()))
        .sum();
    let db_size: i64 = db
        .query_one("SELECT pg_database_size(current_database())", &[])?
        .get(0);
    Ok(Measured {
        backfill,
        wall: t0.elapsed().as_secs_f64(),
        replica_cpu: cpu1 - cpu0,
        replica_peak_rss_kib: rss_peak,
        pg_cpu: pg_cpu(postmaster) - pg_cpu0,
        pg_peak_pss_kib: pss_peak,
        sessions_peak,
        lag_warm: at_minute.map(|m| lag1.minus(&m)),
        lag_all: lag1.minus(&lag0),
        outcomes: out1
            .into_iter()
            .map(|(k, v)| {
                let before = out0.get(&k).copied().unwrap_or(0);
                (k, v.saturating_sub(before))
            })
            .collect(),
        db_size,
    })
}

/// Waits until every tenant's first full crawl is checkpointed as done (at most an hour).
fn wait_backfill(
    db: &mut postgres::Client,
    tenants: usize,
    started: Instant,
) -> anyhow::Result<Duration> {
    let want = i64::try_from(tenants).unwrap_or(i64::MAX);
    while started.elapsed() < Duration::from_secs(3600) {
        let done: i64 = db
            .query_one(
                "SELECT count(*) FROM tenant_meta
                 WHERE coalesce((meta->>'full_crawls')::bigint, 0) >= 1",
                &[],
            )?
            .get(0);
        if done >= want {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    anyhow::bail!("the backfill did not finish within an hour")
}

impl Measured {
    fn print(&self, run: ClusterRun) {
        if let Some(took) = self.backfill {
            println!(
                "  backfill first (not measured): every tenant's first full crawl done {:.0} s after the replicas started",
                took.as_secs_f64()
            );
        }
        let crawls = self.lag_all.count();
        println!("  crawls dispatched {crawls}; outcomes {:?}", self.outcomes);
        println!(
            "  replicas' resident memory: peak of the sum {} MiB ({:.2} MiB a tenant)",
            self.replica_peak_rss_kib / 1024,
            self.replica_peak_rss_kib as f64 / 1024.0 / run.tenants.max(1) as f64
        );
        println!(
            "  replicas' CPU: {:.0} s over {:.0} s ({:.0}% of one core), {:.1} ms a crawl",
            self.replica_cpu,
            self.wall,
            self.replica_cpu / self.wall * 100.0,
            self.replica_cpu * 1000.0 / crawls.max(1) as f64
        );
        println!(
            "  PostgreSQL: CPU {:.0} s ({:.1} ms a crawl), peak PSS {} MiB, peak sessions {}, database {} MiB",
            self.pg_cpu,
            self.pg_cpu * 1000.0 / crawls.max(1) as f64,
            self.pg_peak_pss_kib / 1024,
            self.sessions_peak,
            self.db_size / (1 << 20)
        );
        let line = |what: &str, h: &Histogram| {
            println!(
                "  scheduler lag, {what}: p50 {}, p95 {}, p99 {} ({} crawls; from the replicas' histograms)",
                h.shown(0.5),
                h.shown(0.95),
                h.shown(0.99),
                h.count()
            )
        };
        line("whole window", &self.lag_all);
        if let Some(warm) = &self.lag_warm {
            line("after the first minute", warm);
        }
    }
}

/// A Prometheus histogram's cumulative buckets: (upper bound, count), the last `+Inf`.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// The sum of histogram `name` over every exposition in `texts`.
    fn merged(texts: &[String], name: &str) -> Histogram {
        // `name_bucket{le="…`; the brace as a char keeps brace-counting tools in step.
        let prefix = format!("{name}_bucket{}le=\"", '\x7b');
        let mut sums: Vec<(f64, u64)> = Vec::new();
        for line in texts.iter().flat_map(|t| t.lines()) {
            let Some(rest) = line.strip_prefix(&prefix) else {
                continue;
            };
            let Some((le, count)) = rest.split_once("\"} ") else {
                continue;
            };
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::NAN)
            };
            let count: u64 = count.trim().parse().unwrap_or(0);
            match sums.iter_mut().find(|(b, _)| *b == le) {
                Some((_, c)) => *c += count,
                None => sums.push((le, count)),
            }
        }
        sums.sort_by(|a, b| a.0.total_cmp(&b.0));
        Histogram { buckets: sums }
    }

    /// What was observed after `earlier`.
    fn minus(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, c)| {
                let before = earlier
                    .buckets
                    .iter()
                    .find(|(b, _)| b == le)
                    .map_or(0, |x| x.1);
                (*le, c.saturating_sub(before))
            })
            .collect();
        Histogram { buckets }
    }

    fn count(&self) -> u64 {
        self.buckets.last().map_or(0, |b| b.1)
    }

    /// The `q` quantile for a reader: beyond the last finite bound it is only known to be
    /// more than that.
    fn shown(&self, q: f64) -> String {
        let v = self.quantile(q);
        let top = self
            .buckets
            .iter()
            .rev()
            .find(|(le, _)| le.is_finite())
            .map_or(f64::INFINITY, |b| b.0);
        if v >= top {
            format!("> {top:.2} s")
        } else {
            format!("{v:.2} s")
        }
    }

    /// The `q` quantile, linear within its bucket (the last finite bound when it falls in
    /// `+Inf`), as `histogram_quantile` computes it.
    fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let rank = q * total as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for &(le, cum) in &self.buckets {
            if cum as f64 >= rank {
                if le.is_infinite() {
                    return lower;
                }
                let inside = cum.saturating_sub(below).max(1) as f64;
                return lower + (le - lower) * (rank - below as f64) / inside;
            }
            (lower, below) = (le, cum);
        }
        lower
    }
}

/// Crawls by outcome, summed over tenants and replicas.
fn outcomes(texts: &[String]) -> std::collections::BTreeMap<String, u64> {
    let mut by = std::collections::BTreeMap::new();
    for line in texts.iter().flat_map(|t| t.lines()) {
        if !line.starts_with("harness_crawls_total{") {
            continue;
        }
        let outcome = line
            .split_once("outcome=\"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(o, _)| o.to_string());
        let count = line
            .rsplit_once(' ')
            .and_then(|(_, c)| c.parse::<u64>().ok());
        if let (Some(o), Some(c)) = (outcome, count) {
            *by.entry(o).or_insert(0) += c;
        }
    }
    by
}

/// The postmaster's pid (the first line of `postmaster.pid`).
fn postmaster_pid(pg: &pg_state::testing::TempPostgres) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(pg.data_dir().join("data").join("postmaster.pid"))
        .context("reading postmaster.pid")?;
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .context("postmaster.pid names no process")
}

/// The postmaster's live children.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// CPU seconds of PostgreSQL: the postmaster, its live children, and those it reaped.
fn pg_cpu(postmaster: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{postmaster}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let own = f.get(11..15).map_or(0.0, |x| x.iter().sum::<f64>()) / 100.0;
    own + children(postmaster)
        .into_iter()
        .map(|c| cpu_seconds_of(&c.to_string()))
        .sum::<f64>()
}

/// PostgreSQL's proportional set size (its shared memory counted once), in KiB.
fn pg_pss_kib(postmaster: u32) -> u64 {
    std::iter::once(postmaster)
        .chain(children(postmaster))
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/smaps_rollup"))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}
