//! The bytes of the configured component, checked against their pin before anything is
//! compiled: the embedded Clari Copilot component, a file, or an OCI artifact pulled (and
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

/// The component's bytes, checked against the pin.
pub fn load(component: &ComponentRef) -> anyhow::Result<std::borrow::Cow<'static, [u8]>> {
    match component {
        ComponentRef::Embedded => Ok(crate::clari_copilot_wasm()?.into()),
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
