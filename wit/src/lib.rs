//! The connector contract's one source of truth, shared by the guest SDK (and its
//! `register_connector!` macro) and the host: the custom section a component's contract
//! version travels in, and the frozen WIT package versions under `wit/vX.Y.Z/`. The host's
//! supported range is derived from its bindings modules, one per version listed here.

/// The name of the custom section, as a literal (attributes such as `link_section` need one).
#[macro_export]
macro_rules! contract_section {
    () => {
        "connector-contract-version"
    };
}

/// The custom section that carries the contract version as UTF-8.
pub const SECTION: &str = contract_section!();

/// Every released (frozen) version of the `connector:platform` WIT package, oldest first.
pub const VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// The newest version: what the SDK builds.
pub const CURRENT: &str = "0.2.0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_a_frozen_wit_package() {
        assert_eq!(VERSIONS.last(), Some(&CURRENT));
        for v in VERSIONS {
            let path = format!("{}/v{v}/connector.wit", env!("CARGO_MANIFEST_DIR"));
            let wit = std::fs::read_to_string(&path).unwrap();
            let expected = format!("package connector:platform@{v};");
            assert!(
                wit.lines().any(|l| l.trim() == expected),
                "{path} must declare `{expected}`"
            );
        }
    }
}
