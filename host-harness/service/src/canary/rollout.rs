//! Rollout of a candidate version across the tenants of a directory (`harness serve`'s): in
//! waves (one tenant at a time by default), each tenant judged by its own canary on its own
//! recording before its pin moves. A wave is promoted only when every canary in it passes; the
//! first rejection stops the rollout, and the tenants promoted by its earlier waves go back to
//! the pins they had (byte for byte, unless someone edited the file since, which is reported and
//! left alone). Tenants that run another connector, pin an OCI artifact, already pin the
//! candidate, or whose file is refused are left out and listed with the reason.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{CanaryReport, Thresholds, promote};
use tenant_instance::config::{ComponentRef, Config};

/// What the rollout is asked to do.
pub struct Rollout<'a> {
    pub tenants_dir: &'a Path,
    /// The candidate component file, canonical.
    pub candidate: &'a Path,
    /// Where the candidate is in a registry (reference, digest): the pin a promotion writes,
    /// and then OCI-pinned tenants may move too. `None`: the file is the pin.
    pub oci: Option<(&'a str, &'a str)>,
    /// The tenants' recordings: `NAME.tape` for tenant file `NAME.toml`.
    pub tapes_dir: &'a Path,
    /// Tenants per wave; the last size repeats (`[1]`: one at a time).
    pub waves: &'a [usize],
    pub thresholds: &'a Thresholds,
    /// Keep the earlier waves' promotions when a later wave is rejected.
    pub keep_promoted: bool,
}

/// Tenants left out of a rollout: name and why.
type LeftOut = Vec<(String, String)>;

/// A tenant the rollout may move.
struct Eligible {
    name: String,
    file: PathBuf,
    config: Config,
    tape: PathBuf,
}

/// How one tenant fared.
#[derive(Debug, serde::Serialize)]
pub struct TenantResult {
    pub tenant: String,
    pub wave: usize,
    pub pass: bool,
    pub reasons: Vec<String>,
    pub acl_changed: usize,
    pub acl_widened: usize,
    /// Whether its pin is the candidate at the end of the rollout.
    pub promoted: bool,
    pub rolled_back: bool,
}

/// What the rollout did.
#[derive(Debug, serde::Serialize)]
pub struct RolloutReport {
    pub candidate: String,
    pub candidate_digest: String,
    pub results: Vec<TenantResult>,
    /// The tenant whose canary stopped the rollout.
    pub stopped_at: Option<String>,
    /// Tenants not rolled back because their file changed after promotion.
    pub rollback_conflicts: Vec<String>,
    /// Tenants left out, with why.
    pub left_out: LeftOut,
    /// Eligible tenants never reached (after a stop).
    pub not_reached: Vec<String>,
}

/// Runs the rollout; the report says what moved. Errors only for what stops it before any pin
/// moves (an unreadable directory, a missing recording, a candidate that is not a component).
pub fn run(r: &Rollout) -> anyhow::Result<RolloutReport> {
    let candidate_bytes = std::fs::read(r.candidate)
        .with_context(|| format!("reading the candidate {}", r.candidate.display()))?;
    let inspected = tenant_instance::inspect::inspect(&candidate_bytes)?;
    let candidate_name = connector_name(&inspected).context(
        "the candidate declares no connector name this host can read (is it a connector component?)",
    )?;
    let (eligible, left_out) = select(r, &candidate_name, &inspected.digest)?;
    let mut report = RolloutReport {
        candidate: match r.oci {
            Some((reference, _)) => reference.to_string(),
            None => r.candidate.display().to_string(),
        },
        candidate_digest: inspected.digest.clone(),
        results: Vec::new(),
        stopped_at: None,
        rollback_conflicts: Vec::new(),
        left_out,
        not_reached: Vec::new(),
    };
    let mut promoted: Vec<(usize, PathBuf, String, String)> = Vec::new();
    // Each judged tenant's canary, saved for the console once its outcome is final.
    let mut canaries: Vec<(String, Config, PathBuf, CanaryReport)> = Vec::new();
    let mut queue = eligible.into_iter().peekable();
    let mut wave = 0usize;
    while queue.peek().is_some() {
        let size = r
            .waves
            .get(wave)
            .or(r.waves.last())
            .copied()
            .unwrap_or(1)
            .max(1);
        wave = wave.saturating_add(1);
        let members: Vec<Eligible> = queue.by_ref().take(size).collect();
        let mut stop = judge_wave(r, &members, wave, &mut report, &mut canaries)?;
        let first = report.results.len().saturating_sub(members.len());
        for (i, m) in members.iter().enumerate() {
            if stop.is_some() {
                break;
            }
            match promote_one(r, m, &inspected.digest) {
                Ok((before, after)) => {
                    report.results[first + i].promoted = true;
                    promoted.push((first + i, m.file.clone(), before, after));
                }
                Err(e) => {
                    // A pin that cannot be written stops the rollout as a rejection does.
                    let result = &mut report.results[first + i];
                    result.pass = false;
                    result
                        .reasons
                        .push(format!("its pin could not be rewritten: {e:#}"));
                    stop = Some(m.name.clone());
                }
            }
        }
        if let Some(bad) = stop {
            report.stopped_at = Some(bad);
            report.not_reached = queue.map(|e| e.name).collect();
            if !r.keep_promoted {
                roll_back(&promoted, &mut report);
            }
            break;
        }
    }
    save_canaries(canaries, &report);
    Ok(report)
}

/// Saves each judged tenant's canary with its final outcome, for `serve`'s admin API and
/// console. A tenant whose canary cannot be saved is reported on the log, not failed.
fn save_canaries(canaries: Vec<(String, Config, PathBuf, CanaryReport)>, report: &RolloutReport) {
    let now = chrono::Utc::now().timestamp();
    for (tenant, config, tape, canary) in canaries {
        let promoted = report
            .results
            .iter()
            .any(|t| t.promoted && t.tenant == tenant);
        let saved = super::saved::SavedCanary {
            finished_at: now,
            candidate: report.candidate.clone(),
            candidate_digest: report.candidate_digest.clone(),
            source: format!("rollout, on the recording {}", tape.display()),
            promoted,
            report: canary,
        };
        if let Err(e) = super::saved::save(&config, &saved) {
            tracing::warn!("the canary of tenant {tenant} could not be saved: {e:#}");
        }
    }
}

/// Moves one tenant's pin to the candidate; returns its file's text before and after.
fn promote_one(r: &Rollout, m: &Eligible, digest: &str) -> anyhow::Result<(String, String)> {
    let before = std::fs::read_to_string(&m.file)
        .with_context(|| format!("reading {}", m.file.display()))?;
    let path = path_text(r.candidate)?;
    let pin = match r.oci {
        Some((reference, pinned)) => promote::Pin::Oci {
            reference,
            digest: pinned,
        },
        None => promote::Pin::File {
            path: &path,
            digest,
        },
    };
    let after = promote::rewritten(&before, pin)?;
    promote::write_atomically(&m.file, &after)?;
    Ok((before, after))
}

/// Runs each member's canary; returns the first rejected tenant, if any.
fn judge_wave(
    r: &Rollout,
    members: &[Eligible],
    wave: usize,
    report: &mut RolloutReport,
    canaries: &mut Vec<(String, Config, PathBuf, CanaryReport)>,
) -> anyhow::Result<Option<String>> {
    let mut rejected = None;
    for m in members {
        let canary: anyhow::Result<CanaryReport> =
            super::run(&m.config, r.candidate, &m.tape, r.thresholds);
        let result = match canary {
            Ok(c) => {
                let result = TenantResult {
                    tenant: m.name.clone(),
                    wave,
                    pass: c.verdict.pass,
                    reasons: c.verdict.reasons.clone(),
                    acl_changed: c.diff.acl_changed,
                    acl_widened: c.diff.acl_widened,
                    promoted: false,
                    rolled_back: false,
                };
                canaries.push((m.name.clone(), m.config.clone(), m.tape.clone(), c));
                result
            }
            Err(e) => TenantResult {
                tenant: m.name.clone(),
                wave,
                pass: false,
                reasons: vec![format!("the canary could not run: {e:#}")],
                acl_changed: 0,
                acl_widened: 0,
                promoted: false,
                rolled_back: false,
            },
        };
        if !result.pass && rejected.is_none() {
            rejected = Some(m.name.clone());
        }
        report.results.push(result);
    }
    Ok(rejected)
}

/// Puts back the pins the rollout moved, where the file is still as the rollout wrote it.
fn roll_back(promoted: &[(usize, PathBuf, String, String)], report: &mut RolloutReport) {
    for (index, file, before, after) in promoted.iter().rev() {
        let name = report.results[*index].tenant.clone();
        match std::fs::read_to_string(file) {
            Ok(now) if now == *after => match promote::write_atomically(file, before) {
                Ok(()) => {
                    report.results[*index].promoted = false;
                    report.results[*index].rolled_back = true;
                }
                Err(e) => report
                    .rollback_conflicts
                    .push(format!("{name}: could not restore its file ({e:#})")),
            },
            _ => report.rollback_conflicts.push(format!(
                "{name}: its file changed after promotion; left as it is"
            )),
        }
    }
}

/// The tenants the rollout may move, in file-name order, and those left out with why.
fn select(
    r: &Rollout,
    candidate_name: &str,
    candidate_digest: &str,
) -> anyhow::Result<(Vec<Eligible>, LeftOut)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(r.tenants_dir)
        .with_context(|| format!("reading the tenants directory {}", r.tenants_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let (mut eligible, mut left_out, mut no_tape) = (Vec::new(), Vec::new(), Vec::new());
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match crate::serve::tenant_file::read(r.tenants_dir, &file) {
            Ok(t) => t,
            Err(e) => {
                left_out.push((name, crate::serve::tenant_file::excerpt(&format!("{e:#}"))));
                continue;
            }
        };
        match eligibility(
            &file,
            &text,
            candidate_name,
            candidate_digest,
            r.oci.is_some(),
        ) {
            Err(why) => left_out.push((name, why)),
            Ok(config) => {
                let tape = r.tapes_dir.join(format!("{name}.tape"));
                if !tape.is_file() {
                    no_tape.push(name);
                    continue;
                }
                eligible.push(Eligible {
                    name,
                    file,
                    config,
                    tape,
                });
            }
        }
    }
    if !no_tape.is_empty() {
        anyhow::bail!(
            "no recording for tenant(s) {} in {}: record each with `harness crawl --config TENANT.toml --mode full --record {}/NAME.tape --output-dir DIR` (nothing was promoted)",
            no_tape.join(", "),
            r.tapes_dir.display(),
            r.tapes_dir.display()
        );
    }
    Ok((eligible, left_out))
}

/// The tenant's configuration when the rollout may move it, else why not.
fn eligibility(
    file: &Path,
    text: &str,
    candidate_name: &str,
    candidate_digest: &str,
    oci_candidate: bool,
) -> Result<Config, String> {
    // Canaries replay: nothing reaches the network, so no secret is needed.
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .or_else(|| Some("rollout-needs-no-secret".into()))
    };
    let config = Config::from_text(file, text, &env).map_err(|e| {
        let text = format!("{e:#}");
        format!("its file is refused: {}", egress::quote::quote(&text))
    })?;
    if matches!(config.component, ComponentRef::Oci { .. }) && !oci_candidate {
        return Err(
            "it pins an OCI artifact: push the candidate and roll it out with --oci and --digest"
                .into(),
        );
    }
    let bytes = tenant_instance::component::load(&config.component)
        .map_err(|e| format!("its pinned component cannot be read: {e:#}"))?;
    let pinned = tenant_instance::inspect::inspect(&bytes).map_err(|e| format!("{e:#}"))?;
    if pinned.digest == candidate_digest {
        return Err("it already pins the candidate".into());
    }
    match connector_name(&pinned) {
        Some(n) if n == candidate_name => Ok(config),
        Some(n) => Err(format!("it runs connector `{n}`, not `{candidate_name}`")),
        None => Err("its pinned component declares no connector name".into()),
    }
}

fn connector_name(i: &tenant_instance::inspect::Inspection) -> Option<String> {
    i.describe
        .as_ref()
        .and_then(|d| d.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
}

fn path_text(p: &Path) -> anyhow::Result<String> {
    let text = p.to_str().context("the candidate's path is not UTF-8")?;
    if text.contains(['"', '\\', '\n']) {
        anyhow::bail!("the candidate's path {text:?} holds a quote, backslash or newline; move it");
    }
    Ok(text.to_string())
}
