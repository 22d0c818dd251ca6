//! Host bindings for contract version 0.1.0 (`wit/v0.1.0`). A later contract version gets a
//! sibling module; unchanged interfaces can be shared with `with:`.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "connector",
    additional_derives: [PartialEq, Eq],
});

pub use connector::platform::{http, log, settings, types};
