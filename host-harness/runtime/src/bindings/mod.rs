//! Host bindings, one module per frozen contract version (as Zed's `extension_host` does):
//! each holds its `bindgen!` and the range of versions it serves. [`SUPPORTED`] lists them; the
//! host's supported range is derived from it. A later contract version gets a sibling module.

use semver::Version;

pub mod v0_1_0;
pub mod v0_2_0;

/// Each bindings module's range: `(min, first version not served)`.
pub const SUPPORTED: &[(Version, Version)] = &[
    (v0_1_0::MIN, v0_1_0::NEXT_BREAKING),
    (v0_2_0::MIN, v0_2_0::NEXT_BREAKING),
];
