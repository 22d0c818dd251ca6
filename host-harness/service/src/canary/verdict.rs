//! The verdict on a canary: within the operator's thresholds or not, with every reason.

use serde::Serialize;

use super::diff::CanaryDiff;
use super::side::Side;

/// What the operator accepts from a new version. The defaults accept new fields and nothing
/// that changes who sees what.
#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    /// Documents whose permissions may change (narrowing or widening).
    pub max_acl_changes: usize,
    /// Whether a document may become visible to more people.
    pub allow_acl_widening: bool,
    /// Documents the candidate may no longer produce.
    pub max_removed: usize,
    /// Share of compared documents whose existing fields may change or disappear.
    pub max_changed_share: f64,
    /// Whether the candidate may declare upstreams the pinned one does not.
    pub allow_new_upstreams: bool,
    /// Candidate CPU per item over the pinned one's.
    pub max_cpu_ratio: f64,
    /// Candidate memory per call (the mean of each instance's largest linear memory) over the
    /// pinned one's.
    pub max_memory_ratio: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_acl_changes: 0,
            allow_acl_widening: false,
            max_removed: 0,
            max_changed_share: 0.1,
            allow_new_upstreams: false,
            max_cpu_ratio: 2.0,
            max_memory_ratio: 2.0,
        }
    }
}

/// Fewer fetched items than this say nothing about CPU per item (start-up dominates): the
/// CPU threshold is not applied to them.
pub const MIN_ITEMS_FOR_CPU: u64 = 20;

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Verdict {
    pub pass: bool,
    /// Why it fails (empty when it passes).
    pub reasons: Vec<String>,
}

pub fn judge(d: &CanaryDiff, pinned: &Side, candidate: &Side, t: &Thresholds) -> Verdict {
    let mut reasons = Vec::new();
    if d.acl_widened > 0 && !t.allow_acl_widening {
        reasons.push(format!(
            "{} document(s) become visible to more people (--allow-acl-widening to accept)",
            d.acl_widened
        ));
    }
    if d.acl_changed > t.max_acl_changes {
        reasons.push(format!(
            "{} document(s) change permissions, more than {} (--max-acl-changes)",
            d.acl_changed, t.max_acl_changes
        ));
    }
    if d.removed_count > t.max_removed {
        reasons.push(format!(
            "{} document(s) no longer produced, more than {} (--max-removed)",
            d.removed_count, t.max_removed
        ));
    }
    let share = if d.compared == 0 {
        0.0
    } else {
        d.changed_documents as f64 / d.compared as f64
    };
    if share > t.max_changed_share {
        reasons.push(format!(
            "{:.0}% of documents change existing fields, more than {:.0}% (--max-changed-share)",
            share * 100.0,
            t.max_changed_share * 100.0
        ));
    }
    if !d.new_upstreams.is_empty() && !t.allow_new_upstreams {
        reasons.push(format!(
            "new upstream(s) {} (--allow-new-upstreams to accept)",
            d.new_upstreams.join(", ")
        ));
    }
    let (pf, cf) = (pinned.summary.failed, candidate.summary.failed);
    if cf > pf {
        reasons.push(format!("{cf} item(s) fail, the pinned version fails {pf}"));
    }
    let (pc, cc) = (
        pinned.summary.cpu_us_per_item,
        candidate.summary.cpu_us_per_item,
    );
    let enough = pinned.summary.fetched >= MIN_ITEMS_FOR_CPU;
    if enough && pc > 0 && cc as f64 > pc as f64 * t.max_cpu_ratio {
        reasons.push(format!(
            "{cc} µs of CPU per item, more than {:.1}x the pinned {pc} µs (--max-cpu-ratio)",
            t.max_cpu_ratio
        ));
    }
    let (pm, cm) = (
        pinned.summary.mean_memory_bytes,
        candidate.summary.mean_memory_bytes,
    );
    if pm > 0 && cm as f64 > pm as f64 * t.max_memory_ratio {
        reasons.push(format!(
            "{} KiB of memory per call, more than {:.1}x the pinned {} KiB (--max-memory-ratio)",
            cm / 1024,
            t.max_memory_ratio,
            pm / 1024
        ));
    }
    Verdict {
        pass: reasons.is_empty(),
        reasons,
    }
}
