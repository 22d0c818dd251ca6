//! Guest SDK for `connector:platform` components.
//!
//! A connector implements [`Connector`] and registers it with [`register_connector!`]; the SDK
//! hides the generated WIT bindings, stamps the contract version into the component, and gives
//! typed helpers for the host's imports: [`http`] (policed outbound requests), [`log`] and
//! [`settings`].
//!
//! ```ignore
//! struct MyConnector;
//! impl connector_sdk::Connector for MyConnector {
//!     fn new() -> Result<Self, connector_sdk::Error> { Ok(MyConnector) }
//!     fn describe() -> connector_sdk::ConnectorInfo { /* ... */ }
//! }
//! connector_sdk::register_connector!(MyConnector);
//! ```
//!
//! Every export call runs in a fresh instance: keep no state between calls; carry progress in
//! the listing cursor.

extern crate self as connector_sdk;

pub mod arena;
mod connector;
mod error;
pub mod http;
pub mod log;
pub mod settings;
mod version;

pub use connector::{Connector, Exports};
pub use error::Error;
pub use version::{CONTRACT_VERSION, CONTRACT_VERSION_SECTION, contract_version_bytes};

/// The WIT types of the contract, re-exported under short names.
pub use bindings::connector::platform::types::{
    AccessFacts, Change, ChangePage, ChangeState, ConnectorInfo, CrawlMode, Item, ListingNext,
    ObjectType, Permissions, Person, Property, PropertyDefinition, PropertyKind, PropertyValue,
    TransientFailure, Upstream, User, UserPage, Visibility,
};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v0.2.0",
        world: "connector",
        pub_export_macro: true,
        export_macro_name: "__export_connector_world",
        default_bindings_module: "::connector_sdk::bindings",
        runtime_path: "::connector_sdk::__wit_bindgen_rt::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen_rt;

#[doc(hidden)]
pub use connector_contract::contract_section as __contract_section;

/// Registers `T: Connector` as the component's exports and stamps the contract version into a
/// custom section the host reads before compiling.
#[macro_export]
macro_rules! register_connector {
    ($connector:ty, allocator = per_call_arena) => {
        $crate::register_connector!($connector);

        /// Memory is reclaimed when the instance ends, after its one export call.
        #[cfg(target_arch = "wasm32")]
        #[global_allocator]
        static __CONNECTOR_ALLOCATOR: $crate::arena::PerCallArena =
            $crate::arena::PerCallArena::new();
    };
    ($connector:ty) => {
        #[doc(hidden)]
        type __ConnectorExports = $crate::Exports<$connector>;

        $crate::bindings::__export_connector_world!(__ConnectorExports with_types_in $crate::bindings);

        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = $crate::__contract_section!())]
        #[used]
        static __CONNECTOR_CONTRACT_VERSION: [u8; $crate::CONTRACT_VERSION.len()] =
            $crate::contract_version_bytes();
    };
}
