//! `harness rollout`: a candidate version across the tenants of a directory, in waves, each
//! tenant's pin moved only after its own canary passes; the first rejection stops the rollout
//! and puts back the pins it moved. Exit 0: every tenant it could move was promoted; 6: stopped
//! at a rejected tenant (the report says which, and what was put back).

use std::path::PathBuf;

use anyhow::Context;

use super::canary::{REJECTED, ThresholdArgs};
use harness_service::canary::rollout::{self, Rollout, RolloutReport};

#[derive(clap::Args)]
pub struct Args {
    /// The tenants directory (`harness serve --tenants`): one configuration per `NAME.toml`.
    #[arg(long)]
    tenants: PathBuf,
    /// The candidate component file.
    #[arg(long, required_unless_present = "oci", conflicts_with = "oci")]
    candidate: Option<PathBuf>,
    /// Instead, the candidate in a registry (`registry/repository:tag`): pulled and checked
    /// against --digest, and promoted as an OCI pin (tenants pinned to OCI artifacts move too).
    #[arg(long, requires = "digest")]
    oci: Option<String>,
    /// The candidate's digest in the registry (its manifest's or its component's).
    #[arg(long, requires = "oci")]
    digest: Option<String>,
    /// Where each tenant's recording is: `NAME.tape` for `NAME.toml` (`harness crawl --record`).
    #[arg(long)]
    tapes: PathBuf,
    /// Tenants per wave, comma-separated; the last size repeats (e.g. `1,2,10`).
    #[arg(long, default_value = "1", value_delimiter = ',')]
    waves: Vec<usize>,
    /// When a wave is rejected, keep the earlier waves' promotions instead of putting them back.
    #[arg(long)]
    keep_promoted: bool,
    #[command(flatten)]
    thresholds: ThresholdArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let thresholds = a.thresholds.thresholds()?;
    if a.waves.is_empty() || a.waves.contains(&0) {
        anyhow::bail!("--waves lists tenants per wave, each at least 1 (e.g. `1,2,10`)");
    }
    let scratch = tempfile::Builder::new()
        .prefix("harness-rollout-")
        .tempdir()?;
    let candidate = match (&a.candidate, &a.oci, &a.digest) {
        (Some(file), _, _) => harness_service::canary::candidate_path(file)
            .with_context(|| format!("the candidate {}", file.display()))?,
        (None, Some(reference), Some(digest)) => pulled(reference, digest, scratch.path())?,
        _ => anyhow::bail!("give --candidate FILE, or --oci REFERENCE with --digest DIGEST"),
    };
    let oci = a.oci.as_deref().zip(a.digest.as_deref());
    let report = rollout::run(&Rollout {
        tenants_dir: &a.tenants,
        candidate: &candidate,
        oci,
        tapes_dir: &a.tapes,
        waves: &a.waves,
        thresholds: &thresholds,
        keep_promoted: a.keep_promoted,
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    match &report.stopped_at {
        None => Ok(()),
        Some(t) => Err(super::Exit {
            code: REJECTED,
            message: format!("the rollout stopped at tenant {t}: see its reasons above"),
        }
        .into()),
    }
}

/// The candidate pulled from `reference` and checked against `digest`, as a file in `dir` for
/// the canaries.
fn pulled(reference: &str, digest: &str, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    tenant_instance::config::check_digest(digest)?;
    let origin = tenant_instance::oci::PinOrigin("--digest".into());
    let (bytes, matched) = tenant_instance::oci::pull_cached(
        reference,
        digest,
        &origin,
        tenant_instance::oci::RegistryOptions::default(),
    )?;
    eprintln!("pulled {reference}: the pin {digest} matched {matched}");
    let path = dir.join("candidate.wasm");
    std::fs::write(&path, bytes)?;
    Ok(path.canonicalize()?)
}

/// The report for people: one line per tenant judged, then what was left out or put back.
pub fn render(r: &RolloutReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "rollout of {} ({})", r.candidate, r.candidate_digest);
    for t in &r.results {
        let outcome = match (t.pass, t.promoted, t.rolled_back) {
            (_, true, _) => "promoted",
            (_, _, true) => "promoted, then rolled back",
            (true, false, false) => "passed, not promoted",
            (false, _, _) => "REJECTED",
        };
        let _ = writeln!(
            out,
            "  wave {}: {}: {outcome} (permissions: {} changed, {} widened)",
            t.wave, t.tenant, t.acl_changed, t.acl_widened
        );
        for reason in &t.reasons {
            let _ = writeln!(out, "      - {reason}");
        }
    }
    match &r.stopped_at {
        Some(t) => {
            let _ = writeln!(out, "stopped at {t}");
        }
        None => {
            let _ = writeln!(out, "completed");
        }
    }
    if !r.not_reached.is_empty() {
        let _ = writeln!(out, "not reached: {}", r.not_reached.join(", "));
    }
    for c in &r.rollback_conflicts {
        let _ = writeln!(out, "not rolled back: {c}");
    }
    for (name, why) in &r.left_out {
        let _ = writeln!(out, "left out: {name}: {why}");
    }
    out
}
