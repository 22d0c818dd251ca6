//! Canary of a connector version: the tenant's pinned component and a candidate crawl the same
//! recording (`harness crawl --record`) side by side, each on fresh state in memory, writing
//! documents to scratch directories — nothing is uploaded and no request leaves the machine.
//! Their outputs are compared ([`diff`]: ACL changes first, documents added and removed, every
//! field changed, declarations, cost) and judged against the operator's thresholds
//! ([`verdict`]); only a passing verdict, or an explicit override, rewrites the pin
//! ([`promote`]).

pub mod diff;
pub mod on_demand;
pub mod promote;
pub mod rollout;
pub mod sample;
pub mod saved;
pub mod side;
pub mod verdict;

use std::path::{Path, PathBuf};

use tenant_instance::config::{ComponentRef, Config};

pub use diff::CanaryDiff;
pub use verdict::{Thresholds, Verdict};

/// What one canary found.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CanaryReport {
    pub pinned: side::SideSummary,
    pub candidate: side::SideSummary,
    pub diff: CanaryDiff,
    pub verdict: Verdict,
}

/// Runs the pinned component of `config` and `candidate` on `tape`, compares and judges.
pub fn run(
    config: &Config,
    candidate: &Path,
    tape: &Path,
    thresholds: &Thresholds,
) -> anyhow::Result<CanaryReport> {
    let scratch = tempfile::Builder::new()
        .prefix("harness-canary-")
        .tempdir()?;
    let pinned = side::crawl(
        config,
        config.component.clone(),
        tape,
        &scratch.path().join("pinned"),
    )?;
    let candidate_ref = ComponentRef::File {
        path: candidate.to_path_buf(),
        digest: None,
    };
    let cand = side::crawl(
        config,
        candidate_ref,
        tape,
        &scratch.path().join("candidate"),
    )?;
    let diff = diff::compare(&pinned, &cand);
    let verdict = verdict::judge(&diff, &pinned, &cand, thresholds);
    Ok(CanaryReport {
        pinned: pinned.summary,
        candidate: cand.summary,
        diff,
        verdict,
    })
}

/// The candidate's path as the configuration should name it.
pub fn candidate_path(candidate: &Path) -> anyhow::Result<PathBuf> {
    Ok(candidate.canonicalize()?)
}
