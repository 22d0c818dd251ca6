//! The contract version this SDK implements, and its custom-section encoding.

/// The `connector:platform` WIT package version the SDK builds (the contract crate's newest).
pub const CONTRACT_VERSION: &str = connector_contract::CURRENT;

/// The name of the custom section that carries [`CONTRACT_VERSION`] as UTF-8.
pub const CONTRACT_VERSION_SECTION: &str = connector_contract::SECTION;

/// [`CONTRACT_VERSION`] as a fixed-size byte array, for a `#[link_section]` static.
pub const fn contract_version_bytes<const N: usize>() -> [u8; N] {
    let src = CONTRACT_VERSION.as_bytes();
    assert!(
        src.len() == N,
        "array length must equal CONTRACT_VERSION.len()"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = src[i];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bindings_match_the_contract_version() {
        let wit = include_str!("../../../wit/v0.2.0/connector.wit");
        let expected = format!("package connector:platform@{CONTRACT_VERSION};");
        assert!(
            wit.lines().any(|l| l.trim() == expected),
            "the SDK's bindings (wit/v0.2.0) must declare `{expected}`"
        );
    }

    #[test]
    fn bytes_round_trip() {
        let b: [u8; CONTRACT_VERSION.len()] = contract_version_bytes();
        assert_eq!(std::str::from_utf8(&b).unwrap(), CONTRACT_VERSION);
    }
}
