//! Host bindings for contract version 0.2.0 (`wit/v0.2.0`), and the versions they serve.
//! Its `types` differ from 0.1.0 (a listing fingerprint; `fetched`), converted to the engine's
//! plain types by [`crate::convert`]; the `http`, `log` and `settings` imports are the same and
//! are served by delegating to the 0.1.0 implementations ([`crate::host`]).

use semver::Version;

/// The oldest contract version these bindings serve.
pub const MIN: Version = Version::new(0, 2, 0);
/// The first version they do not serve (0.x minors are breaking).
pub const NEXT_BREAKING: Version = Version::new(0, 3, 0);

wasmtime::component::bindgen!({
    path: "../../wit/v0.2.0",
    world: "connector",
    additional_derives: [PartialEq, Eq],
});

pub use connector::platform::{http, log, settings, types};
