//! The connector contract versions this host serves, and the check that a component was built
//! for one of them. The check reads the version the guest SDK stamps into a custom section and
//! runs before anything is compiled.

use std::fmt;

use semver::Version;

/// The custom section the guest SDK writes the contract version into.
pub const CONTRACT_VERSION_SECTION: &str = connector_contract::SECTION;

/// The oldest contract version this host serves, from its bindings modules.
pub fn supported_min() -> Version {
    crate::bindings::SUPPORTED
        .iter()
        .map(|(min, _)| min.clone())
        .min()
        .unwrap_or(Version::new(0, 0, 0))
}

/// The first version this host does not serve, from its bindings modules.
pub fn supported_next_breaking() -> Version {
    crate::bindings::SUPPORTED
        .iter()
        .map(|(_, max)| max.clone())
        .max()
        .unwrap_or(Version::new(0, 0, 0))
}

/// Why a component was refused before compilation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the file is not a WebAssembly component: {0}")]
    NotWasm(String),
    #[error(
        "the component carries no `{CONTRACT_VERSION_SECTION}` section: it was not built with connector-sdk; \
         build connectors with connector-sdk (versions {range}) and `cargo build --target wasm32-wasip2`",
        range = SupportedRange
    )]
    Unversioned,
    #[error("the component's contract version `{0}` is not a semantic version; rebuild it with connector-sdk {range}", range = SupportedRange)]
    Malformed(String),
    #[error(
        "the component was built for connector contract {found}; this host supports {range}; \
         rebuild the connector with a connector-sdk in that range, or use a host that supports {found}",
        range = SupportedRange
    )]
    Unsupported { found: Version },
}

/// Displays the supported range, e.g. "0.1.0 up to (not including) 0.3.0".
pub struct SupportedRange;

impl fmt::Display for SupportedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} up to (not including) {}",
            supported_min(),
            supported_next_breaking()
        )
    }
}

/// Reads the contract version from `bytes` (a component or module), searching nested modules.
pub fn read_contract_version(bytes: &[u8]) -> Result<Version, ContractError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(ContractError::NotWasm(
            "it does not start with the WebAssembly magic bytes; is it a .wasm file?".into(),
        ));
    }
    let mut found: Option<Vec<u8>> = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| ContractError::NotWasm(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(reader) = payload
            && reader.name() == CONTRACT_VERSION_SECTION
            && found.is_none()
        {
            found = Some(reader.data().to_vec());
        }
    }
    let raw = found.ok_or(ContractError::Unversioned)?;
    let text = String::from_utf8(raw)
        .map_err(|e| ContractError::Malformed(String::from_utf8_lossy(e.as_bytes()).into()))?;
    Version::parse(text.trim()).map_err(|_| ContractError::Malformed(text))
}

/// Whether this host serves `version`.
pub fn is_supported(version: &Version) -> bool {
    version.pre.is_empty()
        && crate::bindings::SUPPORTED
            .iter()
            .any(|(min, next)| version >= min && version < next)
}

/// Reads and checks the contract version of `bytes`.
pub fn check_component(bytes: &[u8]) -> Result<Version, ContractError> {
    let version = read_contract_version(bytes)?;
    if is_supported(&version) {
        Ok(version)
    } else {
        Err(ContractError::Unsupported { found: version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal core module with one custom section.
    fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\0asm\x01\0\0\0".to_vec();
        let mut body = Vec::new();
        body.push(name.len() as u8);
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        out.push(0); // custom section id
        out.push(body.len() as u8);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn accepts_the_supported_range() {
        let m = module_with_section(CONTRACT_VERSION_SECTION, b"0.1.3");
        assert_eq!(check_component(&m).unwrap(), Version::new(0, 1, 3));
    }

    #[test]
    fn refuses_other_versions_naming_the_range() {
        assert_eq!(
            check_component(&module_with_section(CONTRACT_VERSION_SECTION, b"0.2.1")).unwrap(),
            Version::new(0, 2, 1)
        );
        let m = module_with_section(CONTRACT_VERSION_SECTION, b"0.3.0");
        let e = check_component(&m).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("0.3.0") && msg.contains("0.1.0 up to (not including) 0.3.0"),
            "{msg}"
        );
        let m = module_with_section(CONTRACT_VERSION_SECTION, b"0.1.0-alpha");
        assert!(check_component(&m).is_err());
    }

    #[test]
    fn refuses_unversioned_and_garbage() {
        let m = module_with_section("other", b"x");
        assert_eq!(check_component(&m).unwrap_err(), ContractError::Unversioned);
        assert!(matches!(
            check_component(b"not wasm"),
            Err(ContractError::NotWasm(_))
        ));
        let m = module_with_section(CONTRACT_VERSION_SECTION, b"one");
        assert!(matches!(
            check_component(&m),
            Err(ContractError::Malformed(_))
        ));
    }
}
