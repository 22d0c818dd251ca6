//! Guest SDK for `connector:platform` components.
//!
//! A connector implements [`Connector`] and registers it with [`register_connector!`]; the SDK
//! hides the generated WIT bindings, stamps the contract version into the component, and gives
//! every method a [`Ctx`]: policed HTTP ([`http`]), the clock, the settings and the log. The
//! same code runs natively in tests on a [`testkit::TestHost`].
//!
//! ```
//! use connector_sdk::prelude::*;
//!
//! struct Notes { page_size: u32 }
//!
//! impl Connector for Notes {
//!     fn new(ctx: &Ctx) -> Result<Self, Error> {
//!         Ok(Notes { page_size: ctx.setting_or("page_size", 50, "a whole number")? })
//!     }
//!     fn describe() -> ConnectorInfo {
//!         ConnectorInfoBuilder::new("notes", "Notes", env!("CARGO_PKG_VERSION"))
//!             .url_pattern("https://notes\\.example/n/.*")
//!             .upstream("api", "https://api.notes.example", &["Authorization"])
//!             .object_type(ObjectTypeBuilder::new("note", "Note"))
//!             .build()
//!     }
//!     fn list_changes(&self, ctx: &Ctx, _mode: CrawlMode, cursor: Option<&str>)
//!         -> Result<ChangePage, Error> {
//!         let page: u32 = cursor::decode(1, cursor)?.unwrap_or(0);
//!         let ids: Vec<String> = ctx
//!             .http()
//!             .send(&Request::get("api", "/notes").query("page", page).query("limit", self.page_size))?
//!             .error_for_status("listing notes")?
//!             .json("listing notes")?;
//!         let changes = ids.into_iter().map(|id| Change::ready(id, Visibility::Public)).collect();
//!         Ok(ChangePage::done(changes, cursor::encode(1, &(page + 1))?))
//!     }
//!     fn map_permissions(facts: &AccessFacts) -> Permissions {
//!         connector_sdk::permissions::public_or_members(facts)
//!     }
//! }
//! // In the component: connector_sdk::register_connector!(Notes);
//!
//! let host = connector_sdk::testkit::TestHost::new().on(
//!     Method::Get, "api", "/notes", Response::of_json(200, &serde_json::json!(["n1", "n2"])),
//! );
//! let notes = Notes::new(&host.ctx()).unwrap();
//! let page = notes.list_changes(&host.ctx(), CrawlMode::Full, None).unwrap();
//! assert_eq!(page.changes.len(), 2);
//! ```
//!
//! Every export call runs in a fresh instance: keep no state between calls; carry progress in
//! the listing cursor ([`cursor`]). Build the contract's records with their constructors
//! ([`Change::ready`], [`Item::new`], ...): a field added in a contract minor version then
//! breaks no connector. Times are epoch milliseconds in every SDK function ([`time`] parses
//! ISO-8601).

extern crate self as connector_sdk;

pub mod arena;
mod connector;
mod ctx;
pub mod cursor;
pub mod describe;
mod error;
pub mod http;
pub mod log;
pub mod permissions;
mod records;
pub mod settings;
pub mod testkit;
pub mod time;
mod version;

pub use connector::{Connector, Exports};
pub use ctx::{
    Clock, Ctx, HostClock, HostLog, HostSettings, Level, LogSink, NoSettings, SettingsSource,
};
pub use error::Error;
pub use version::{CONTRACT_VERSION, CONTRACT_VERSION_SECTION, contract_version_bytes};

/// The WIT types of the contract, re-exported under short names.
pub use bindings::connector::platform::types::{
    AccessFacts, Change, ChangePage, ChangeState, ConnectorInfo, CrawlMode, Item, ListingNext,
    ObjectType, Permissions, Person, Property, PropertyDefinition, PropertyKind, PropertyValue,
    TransientFailure, Upstream, User, UserPage, Visibility,
};

/// What most connectors use, in one import: `use connector_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::cursor;
    pub use crate::describe::{ConnectorInfoBuilder, ObjectTypeBuilder};
    pub use crate::http::{Method, Request, Response, Transport};
    pub use crate::{
        AccessFacts, Change, ChangePage, Connector, ConnectorInfo, CrawlMode, Ctx, Error, Item,
        Permissions, Person, PropertyKind, PropertyValue, User, UserPage, Visibility,
    };
}

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
