//! `harness canary`: a candidate component next to the configuration's pinned one, on a
//! recording, compared and judged; `--promote` rewrites the pin when the verdict passes (or
//! with `--force`). Exit 0: within the thresholds; 6: rejected (the pin is untouched).

use std::path::PathBuf;

use anyhow::Context;

use harness_service::canary::{self, CanaryReport, Thresholds};
use tenant_instance::config::Config;

/// The exit code of a rejected canary.
pub const REJECTED: i32 = 6;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    config: PathBuf,
    /// The candidate component file.
    #[arg(long)]
    candidate: PathBuf,
    /// A recording of the tenant's source (`harness crawl --record FILE`): both versions crawl
    /// it, with no network and nothing uploaded.
    #[arg(
        long,
        required_unless_present = "sample_pages",
        conflicts_with = "sample_pages"
    )]
    tape: Option<PathBuf>,
    /// Instead of a recording, a live sample: the pinned version records the first N listing
    /// pages of the source with their items (charged to the tenant's budget, nothing uploaded),
    /// then both versions replay it.
    #[arg(long)]
    sample_pages: Option<u64>,
    /// The share of the tenant's request budget a live sample may spend, between 0 and 1.
    #[arg(long, default_value_t = 0.02, requires = "sample_pages")]
    sample_share: f64,
    /// Rewrite the configuration's pin to the candidate when the verdict passes.
    #[arg(long)]
    promote: bool,
    /// With --promote: rewrite the pin even when the verdict fails.
    #[arg(long, requires = "promote")]
    force: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The verdict's thresholds, shared by `canary` and `rollout`.
#[derive(clap::Args)]
pub struct ThresholdArgs {
    /// Documents whose permissions may change.
    #[arg(long, default_value_t = 0)]
    max_acl_changes: usize,
    /// Accept permissions that let in more people.
    #[arg(long)]
    allow_acl_widening: bool,
    /// Documents that may disappear.
    #[arg(long, default_value_t = 0)]
    max_removed: usize,
    /// The share of documents whose existing fields may change, between 0 and 1.
    #[arg(long, default_value_t = 0.1)]
    max_changed_share: f64,
    /// Accept a candidate that declares upstreams the pinned one does not.
    #[arg(long)]
    allow_new_upstreams: bool,
    /// The candidate's CPU per item against the pinned one's, at most.
    #[arg(long, default_value_t = 2.0)]
    max_cpu_ratio: f64,
    /// The candidate's memory per call against the pinned one's, at most.
    #[arg(long, default_value_t = 2.0)]
    max_memory_ratio: f64,
}

impl ThresholdArgs {
    /// The thresholds, or what is wrong with them.
    pub fn thresholds(&self) -> anyhow::Result<Thresholds> {
        let ratio_ok = |r: f64| r.is_finite() && r > 0.0;
        if !(0.0..=1.0).contains(&self.max_changed_share)
            || !ratio_ok(self.max_cpu_ratio)
            || !ratio_ok(self.max_memory_ratio)
        {
            anyhow::bail!(
                "--max-changed-share is a share between 0 and 1, --max-cpu-ratio and --max-memory-ratio positive ratios"
            );
        }
        Ok(Thresholds {
            max_acl_changes: self.max_acl_changes,
            allow_acl_widening: self.allow_acl_widening,
            max_removed: self.max_removed,
            max_changed_share: self.max_changed_share,
            allow_new_upstreams: self.allow_new_upstreams,
            max_cpu_ratio: self.max_cpu_ratio,
            max_memory_ratio: self.max_memory_ratio,
        })
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let thresholds = a.thresholds.thresholds()?;
    let candidate = canary::candidate_path(&a.candidate)
        .with_context(|| format!("the candidate {}", a.candidate.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("harness-sample-")
        .tempdir()?;
    let (config, tape, sampled) = recording(&a, scratch.path())?;
    let report = canary::run(&config, &candidate, &tape, &thresholds)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if let Some(s) = sampled {
        println!(
            "live sample: {} items listed, {} fetched, with {} requests (at most {}), charged to the tenant's budget; nothing uploaded",
            s.listed, s.fetched, s.requests, s.cap
        );
    }
    let promote = a.promote && (report.verdict.pass || a.force);
    let digest = tenant_instance::inspect::inspect(&std::fs::read(&candidate)?)?.digest;
    let pass = report.verdict.pass;
    let moved = if promote {
        canary::promote::rewrite_pin(&a.config, &candidate, &digest)
    } else {
        Ok(())
    };
    let saved = canary::saved::SavedCanary {
        finished_at: chrono::Utc::now().timestamp(),
        candidate: candidate.display().to_string(),
        candidate_digest: digest.clone(),
        source: match &a.tape {
            Some(t) => format!("the recording {}", t.display()),
            None => "a live sample".into(),
        },
        promoted: promote && moved.is_ok(),
        report,
    };
    // For `serve`'s admin API and console; a canary that cannot be saved still stands.
    if let Err(e) = canary::saved::save(&config, &saved) {
        eprintln!("warning: the canary's report could not be saved for the console: {e:#}");
    }
    moved?;
    if promote {
        println!(
            "promoted: {} now pins {} ({digest})",
            a.config.display(),
            candidate.display()
        );
    } else if a.promote {
        println!("not promoted: the pin is unchanged");
    }
    if pass || promote {
        Ok(())
    } else {
        Err(super::Exit {
            code: REJECTED,
            message: "the candidate is rejected: see the reasons above".into(),
        }
        .into())
    }
}

/// The configuration and the recording both sides crawl: the one given, or a live sample
/// recorded now (then the configuration lists no more than the sample did).
fn recording(
    a: &Args,
    scratch: &std::path::Path,
) -> anyhow::Result<(Config, PathBuf, Option<canary::sample::Sample>)> {
    match (&a.tape, a.sample_pages) {
        (Some(tape), _) => {
            // Both sides replay: nothing reaches the network, so no secret is needed.
            let env = |k: &str| super::env(k).or_else(|| Some("canary-needs-no-secret".into()));
            Ok((Config::load(&a.config, &env)?, tape.clone(), None))
        }
        (None, Some(pages)) => {
            if pages == 0 || !(0.0..=1.0).contains(&a.sample_share) {
                anyhow::bail!(
                    "--sample-pages is at least 1, --sample-share a share between 0 and 1"
                );
            }
            let mut config = Config::load(&a.config, &super::env)?;
            // The sample's requests are counted in the tenant's state: one writer at a time.
            let _lock = state_store::StateLock::acquire(&config.state_dir, &config.name)?;
            let spec = canary::sample::SampleSpec {
                pages,
                share: a.sample_share,
            };
            let sample = canary::sample::record(&config, &spec, scratch, None)?;
            config.crawl.limits.max_pages = pages;
            Ok((config, sample.tape.clone(), Some(sample)))
        }
        (None, None) => {
            anyhow::bail!("give --tape FILE (a recording) or --sample-pages N (a live sample)")
        }
    }
}

/// The report for people: verdict, ACL changes first, then documents, fields, declarations.
pub fn render(r: &CanaryReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let d = &r.diff;
    let verdict = if r.verdict.pass { "PASS" } else { "REJECT" };
    let _ = writeln!(out, "canary: {verdict}");
    for reason in &r.verdict.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    let _ = writeln!(
        out,
        "permissions: {} changed, {} widened",
        d.acl_changed, d.acl_widened
    );
    for c in &d.acl {
        let mark = if c.widened { "WIDENED" } else { "changed" };
        let _ = writeln!(out, "  {mark} {}: {} → {}", c.id, c.before, c.after);
    }
    let _ = writeln!(
        out,
        "documents: {} compared, {} added {:?}, {} removed {:?}, {} with changed fields",
        d.compared, d.added_count, d.added, d.removed_count, d.removed, d.changed_documents
    );
    for (name, f) in &d.fields {
        let _ = writeln!(
            out,
            "  {name}: {} added, {} changed, {} removed; e.g. {}",
            f.added,
            f.changed,
            f.removed,
            f.example.as_deref().unwrap_or("-")
        );
    }
    for line in &d.declaration {
        let _ = writeln!(out, "declaration: {line}");
    }
    for (side, s) in [("pinned", &r.pinned), ("candidate", &r.candidate)] {
        let _ = writeln!(
            out,
            "{side}: {} (contract {}): listed {}, fetched {}, indexed {}, failed {}, {} µs CPU per item, {} KiB memory per call (at most {} KiB)",
            s.component,
            s.contract,
            s.listed,
            s.fetched,
            s.indexed,
            s.failed,
            s.cpu_us_per_item,
            s.mean_memory_bytes / 1024,
            s.peak_memory_bytes / 1024
        );
    }
    out
}
