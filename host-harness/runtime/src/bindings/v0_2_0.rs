//! Host bindings for contract version 0.2.0 (`wit/v0.2.0`), and the versions they serve.
//! The `types` interface is unchanged from 0.1.0, so its Rust types are shared (`with:`); the
//! `http`, `log` and `settings` imports are generated afresh (they are linked under their
//! 0.2.0 names) and served by delegating to the 0.1.0 implementations
//! ([`crate::host`]).

use semver::Version;

/// The oldest contract version these bindings serve.
pub const MIN: Version = Version::new(0, 2, 0);
/// The first version they do not serve (0.x minors are breaking).
pub const NEXT_BREAKING: Version = Version::new(0, 3, 0);

wasmtime::component::bindgen!({
    path: "../../wit/v0.2.0",
    world: "connector",
    additional_derives: [PartialEq, Eq],
    with: {
        "connector:platform/types": super::v0_1_0::types,
    },
});

pub use connector::platform::{http, log, settings};
