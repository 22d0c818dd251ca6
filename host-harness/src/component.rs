//! The bytes of the configured component, checked against their pin before anything is
//! compiled: a built-in component, a file, or an OCI artifact pulled (and
//! cached) by digest.

use anyhow::Context;
use sha2::{Digest, Sha256};

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
