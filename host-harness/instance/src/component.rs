//! The bytes of the configured component, checked against their pin before anything is
//! compiled: a built-in component, a file, or an OCI artifact pulled (and
//! cached) by digest.

use anyhow::Context;
use sha2::{Digest, Sha256};

use component_build::manifest::{Manifest, Period};
use egress::budget::BudgetPeriod;

use crate::config::ComponentRef;

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Refuses `bytes` unless their digest is `pinned`, showing both.
pub fn check_pin(what: &str, bytes: &[u8], pinned: &str) -> anyhow::Result<()> {
    let actual = digest(bytes);
    if actual != pinned {
        anyhow::bail!(
            "{what} has digest {actual}, but the configuration pins {pinned}; nothing was compiled. \
             If the new component is intended, set digest = \"{actual}\""
        );
    }
    Ok(())
}

/// Bytes of a component file shared by every tenant that runs the same one: ten thousand tenant
/// files naming one component hold one copy, not ten thousand. Entries whose last user is gone
/// are dropped as new ones arrive.
pub fn intern(bytes: Vec<u8>) -> (std::sync::Arc<[u8]>, String) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, Weak};
    static INTERNED: OnceLock<Mutex<HashMap<String, Weak<[u8]>>>> = OnceLock::new();
    let digest = wasm_runtime::component_digest(&bytes);
    let mut map = INTERNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = map.get(&digest).and_then(Weak::upgrade) {
        return (shared, digest);
    }
    map.retain(|_, w| w.strong_count() > 0);
    let shared: Arc<[u8]> = Arc::from(bytes);
    map.insert(digest.clone(), Arc::downgrade(&shared));
    (shared, digest)
}

/// What the connector declares about its source's limits (`[package.metadata.connector]`,
/// stamped into the component by `harness build`), if anything: read once per component
/// digest. A component that cannot be read now (a missing file, an OCI pull that fails) or
/// whose declaration is unreadable declares nothing here; loading it reports why.
pub fn declared(component: &ComponentRef) -> Option<std::sync::Arc<Manifest>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static MEMO: OnceLock<Mutex<HashMap<String, Option<Arc<Manifest>>>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    let key = match component {
        ComponentRef::Embedded(b) => format!("builtin:{}", b.name),
        ComponentRef::Loaded { digest, .. } => digest.clone(),
        ComponentRef::Oci { digest, .. } => format!("oci:{digest}"),
        ComponentRef::File { .. } => String::new(),
    };
    if !key.is_empty()
        && let Some(found) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
    {
        return found.clone();
    }
    let bytes = load(component).ok()?;
    let found = match component_build::manifest::read(&bytes) {
        Ok(m) => m.map(Arc::new),
        Err(e) => {
            tracing::warn!(
                "the component's declared limits are unreadable ({e}); using the configuration's"
            );
            None
        }
    };
    if !key.is_empty() {
        let mut map = memo.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 1024 {
            map.clear();
        }
        map.insert(key, found.clone());
    }
    found
}

/// The request budget the connector declares: the smallest per-day figure of its upstreams'
/// (one budget counts every request of an instance).
pub fn declared_budget(component: &ComponentRef) -> Option<(u64, BudgetPeriod)> {
    let m = declared(component)?;
    m.upstreams
        .values()
        .filter_map(|u| u.budget)
        .map(|(n, p)| {
            let period = match p {
                Period::Day => BudgetPeriod::Day,
                Period::Week => BudgetPeriod::Week,
            };
            (n, period)
        })
        .min_by(|a, b| {
            let per_day = |(n, p): &(u64, BudgetPeriod)| *n as f64 * 86_400.0 / p.seconds() as f64;
            per_day(a).total_cmp(&per_day(b))
        })
}

/// The rate the connector declares for `upstream`, requests a second.
pub fn declared_rate(component: &ComponentRef, upstream: &str) -> Option<f64> {
    declared(component)?
        .upstreams
        .get(upstream)?
        .rate_per_second
}

/// The component's bytes, checked against the pin.
pub fn load(component: &ComponentRef) -> anyhow::Result<std::borrow::Cow<'static, [u8]>> {
    match component {
        ComponentRef::Embedded(b) => Ok(b.bytes()?.into()),
        ComponentRef::File { path, digest } => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("could not read the component {}", path.display()))?;
            if let Some(pinned) = digest {
                check_pin(&format!("the component {}", path.display()), &bytes, pinned)?;
            }
            Ok(bytes.into())
        }
        ComponentRef::Loaded { bytes, .. } => Ok(bytes.to_vec().into()),
        ComponentRef::Oci {
            reference,
            digest,
            plain_http,
            pin_origin,
        } => {
            let origin = crate::oci::PinOrigin(pin_origin.clone());
            let options = crate::oci::RegistryOptions {
                plain_http: *plain_http,
            };
            let (bytes, matched) = crate::oci::pull_cached(reference, digest, &origin, options)?;
            tracing::info!("{reference}: the pin {digest} matched {matched}");
            Ok(bytes.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_pin_is_refused_showing_both_digests() {
        let right = digest(b"component");
        assert!(check_pin("x", b"component", &right).is_ok());
        let wrong = digest(b"other");
        let e = check_pin("the component x.wasm", b"component", &wrong).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&right) && msg.contains(&wrong), "{msg}");
    }
}
