//! A canary asked of `harness serve` (`POST /tenants/NAME/canary`, or the console's tenant
//! page): the candidate component comes in the request or from a registry (a reference and
//! its digest, pulled and checked), a live sample of the tenant's source is recorded while no crawl of
//! the tenant runs (its budget and rate limits are the crawl's: one spender at a time), both
//! versions replay it, and the report is saved as the tenant's last canary. On request, and
//! only on a passing verdict, the tenant file's pin moves to the candidate: to its reference
//! and digest for a registry's, else to the bytes kept content-addressed beside the tenant's
//! state (`STATE_DIR/canary/candidates/sha256-….wasm`); the service picks the edit up as it
//! picks up any.

use std::path::PathBuf;

use anyhow::Context;

use super::sample::SampleSpec;
use super::saved::SavedCanary;
use super::{Thresholds, promote, sample, saved};
use crate::serve::Service;

/// The candidate.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A component's bytes.
    Bytes(Vec<u8>),
    /// An artifact in a registry, pinned by its manifest or component digest.
    Oci { reference: String, digest: String },
}

/// What the caller asked for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub pages: u64,
    pub share: f64,
    pub promote: bool,
    pub thresholds: Thresholds,
}

/// Why an on-demand canary did not run, by the answer it deserves.
#[derive(Debug)]
pub enum Refusal {
    /// No such tenant.
    Unknown(String),
    /// Not now or not here (a crawl runs, the file is refused, several replicas).
    Conflict(String),
    /// The request itself is wrong (not a component, bad numbers).
    Bad(String),
    /// It ran and failed (the source, the sample's share).
    Failed(String),
}

/// Runs the canary of `candidate` for tenant `name` of `service`.
pub fn run(
    service: &Service,
    name: &str,
    candidate: &Candidate,
    ask: &Ask,
) -> Result<SavedCanary, Refusal> {
    if ask.pages == 0 || !(0.0..=1.0).contains(&ask.share) {
        return Err(Refusal::Bad(
            "pages is at least 1 and share a share between 0 and 1".into(),
        ));
    }
    let Some(view) = service.view(name) else {
        return Err(Refusal::Unknown(name.to_string()));
    };
    let Some(config) = service.tenant_config(name) else {
        return Err(Refusal::Conflict(format!(
            "tenant `{name}` has no valid configuration; GET /tenants/{name} says why"
        )));
    };
    if service.is_cluster() {
        return Err(Refusal::Conflict(
            "with several replicas a tenant's state is in PostgreSQL: run `harness canary --tape` or `harness rollout` on the tenant files".into(),
        ));
    }
    let bytes = match candidate {
        Candidate::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        Candidate::Oci { reference, digest } => {
            tenant_instance::config::check_digest(digest)
                .map_err(|e| Refusal::Bad(format!("{e:#}")))?;
            let origin = tenant_instance::oci::PinOrigin("the canary's candidate".into());
            let options = tenant_instance::oci::RegistryOptions::default();
            let (bytes, _) = tenant_instance::oci::pull_cached(reference, digest, &origin, options)
                .map_err(|e| Refusal::Failed(format!("{e:#}")))?;
            std::borrow::Cow::Owned(bytes)
        }
    };
    let digest = tenant_instance::inspect::inspect(&bytes)
        .map_err(|e| Refusal::Bad(format!("the candidate is not a connector component: {e:#}")))?
        .digest;
    let path =
        keep_candidate(&config, &digest, &bytes).map_err(|e| Refusal::Failed(format!("{e:#}")))?;
    if let Some(dir) = path.parent() {
        prune_candidates(dir, &[path.as_path(), pinned_file(&config).as_path()]);
    }
    let outcome = service
        .exclusive(name, || judge(&config, &path, ask, service.instance(name)))
        .map_err(Refusal::Conflict)?
        .map_err(|e| Refusal::Failed(format!("{e:#}")))?;
    let (report, listed) = outcome;
    let path_text = path.display().to_string();
    let pin = match candidate {
        Candidate::Oci { reference, digest } => promote::Pin::Oci { reference, digest },
        Candidate::Bytes(_) => promote::Pin::File {
            path: &path_text,
            digest: &digest,
        },
    };
    let moved = (ask.promote && report.verdict.pass)
        .then(|| promote::rewrite_to(std::path::Path::new(&view.file), pin));
    let promoted = matches!(moved, Some(Ok(())));
    let shown = match candidate {
        Candidate::Oci { reference, .. } => reference.clone(),
        Candidate::Bytes(_) => path_text.clone(),
    };
    let saved = SavedCanary {
        finished_at: chrono::Utc::now().timestamp(),
        candidate: shown,
        candidate_digest: digest.clone(),
        source: format!("a live sample ({listed} items listed), asked of the admin API"),
        promoted,
        report,
    };
    saved::save(&config, &saved).map_err(|e| Refusal::Failed(format!("{e:#}")))?;
    if let Some(Err(e)) = moved {
        return Err(Refusal::Failed(format!(
            "the candidate passed, but the pin could not be rewritten: {e:#}"
        )));
    }
    Ok(saved)
}

/// The live sample, recorded and replayed by both versions.
fn judge(
    config: &tenant_instance::config::Config,
    candidate: &std::path::Path,
    ask: &Ask,
    instance: Option<std::sync::Arc<tenant_instance::instance::Instance>>,
) -> anyhow::Result<(super::CanaryReport, u64)> {
    let scratch = tempfile::Builder::new()
        .prefix("harness-sample-")
        .tempdir()?;
    let spec = SampleSpec {
        pages: ask.pages,
        share: ask.share,
    };
    let s = sample::record(config, &spec, scratch.path(), instance)?;
    let mut config = config.clone();
    config.crawl.limits.max_pages = ask.pages;
    let report = super::run(&config, candidate, &s.tape, &ask.thresholds)?;
    Ok((report, s.listed))
}

/// Candidates kept per tenant besides the one being judged and the one pinned.
pub const KEPT_CANDIDATES: usize = 4;

/// The component file the tenant runs, when it is a file (else an empty path).
fn pinned_file(config: &tenant_instance::config::Config) -> PathBuf {
    use tenant_instance::config::ComponentRef;
    match &config.component {
        ComponentRef::File { path, .. } => path.clone(),
        ComponentRef::Loaded { origin, .. } => PathBuf::from(origin),
        _ => PathBuf::new(),
    }
    .canonicalize()
    .unwrap_or_default()
}

/// Removes kept candidates beyond the [`KEPT_CANDIDATES`] most recent, never one of `keep`:
/// what an admin sends is bounded on disk.
fn prune_candidates(dir: &std::path::Path, keep: &[&std::path::Path]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut kept: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .filter(|p| !keep.iter().any(|k| p.canonicalize().is_ok_and(|c| c == *k)))
        .map(|p| {
            let at = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (at, p)
        })
        .collect();
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    for (_, old) in kept.into_iter().skip(KEPT_CANDIDATES) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!("could not remove the old candidate {}: {e}", old.display());
        }
    }
}

/// Writes the candidate where promotion can pin it: named by its digest, so the same bytes land
/// in the same file and a pin never names bytes that changed.
fn keep_candidate(
    config: &tenant_instance::config::Config,
    digest: &str,
    bytes: &[u8],
) -> anyhow::Result<PathBuf> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("the candidate's digest `{digest}` is not a sha256");
    }
    let dir = saved::path(config)
        .parent()
        .context("the canary directory")?
        .join("candidates");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("sha256-{hex}.wasm"));
    // Kept only when the file there is not already these very bytes (a file damaged since is
    // replaced); each writer has a temporary name of its own, and the rename is atomic.
    let kept = std::fs::read(&path).is_ok_and(|b| b == bytes);
    if !kept {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("keeping {}", path.display()))?;
    }
    Ok(std::fs::canonicalize(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_candidates_go_but_the_pinned_and_the_newest_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..8u64 {
            let p = dir.path().join(format!("sha256-{i:02}.wasm"));
            std::fs::write(&p, b"x").unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(at)
                .unwrap();
            paths.push(p.canonicalize().unwrap());
        }
        std::fs::write(dir.path().join("notes.txt"), b"not a candidate").unwrap();
        // The oldest is pinned; the newest is being judged.
        prune_candidates(dir.path(), &[paths[0].as_path(), paths[7].as_path()]);
        let left: Vec<bool> = paths.iter().map(|p| p.is_file()).collect();
        // Kept: the pinned (0), the judged (7), and the four newest of the rest (3..=6).
        assert_eq!(left, [true, false, false, true, true, true, true, true]);
        assert!(dir.path().join("notes.txt").is_file());
    }
}
