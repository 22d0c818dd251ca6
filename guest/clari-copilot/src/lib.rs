//! The Clari Copilot connector: Clari Copilot sales calls as platform-neutral items.
//!
//! This file holds the `Connector` implementation (which wires the host's transport, clock
//! and settings into the modules below) and `describe`. Everything else takes a
//! `&dyn Transport` and an explicit clock, so it runs natively in tests:
//!
//! - [`config`]: the settings and their validation.
//! - [`wire`]: Clari's JSON, parsed tolerantly.
//! - [`client`]: the HTTP calls and what each answer means as an error.
//! - [`cursor`]: the listing cursor format.
//! - [`listing`]: full and incremental listings, sliced in time; [`privacy`]: which listed
//!   calls are public; [`status`]: which calls are eligible.
//! - [`mapping`]: a call to an item, with [`body`] (its text), [`people`] (who is on it) and
//!   [`vocab`] (readable enum labels).
//! - [`permissions`]: access facts to permissions, failing closed.
//! - [`users`]: the user directory.

pub mod body;
pub mod client;
pub mod config;
pub mod cursor;
pub mod listing;
pub mod mapping;
pub mod people;
pub mod permissions;
pub mod privacy;
pub mod status;
pub mod time;
pub mod users;
pub mod vocab;
pub mod wire;

use connector_sdk::http::{HostTransport, Transport};
use connector_sdk::{
    AccessFacts, ChangePage, Connector, ConnectorInfo, CrawlMode, Error, Item, ObjectType,
    Permissions, PropertyDefinition, PropertyKind, Upstream, UserPage, Visibility,
};

use crate::client::Client;
use crate::config::Settings;

/// The connector's machine name: it names the index datasource.
pub const NAME: &str = "claricopilot";

/// The Clari Copilot connector for one export call.
pub struct ClariCopilot {
    settings: Settings,
}

impl ClariCopilot {
    pub fn with_settings(settings: Settings) -> Self {
        ClariCopilot { settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `check` over any transport.
    pub fn check_with(&self, transport: &dyn Transport, now_ms: i64) -> Result<(), Error> {
        Client::new(transport, now_ms)
            .users()
            .map(|_| ())
            .map_err(|e| e.context("checking the Clari Copilot connection"))
    }

    /// `list-changes` over any transport.
    pub fn list_changes_with(
        &self,
        transport: &dyn Transport,
        now_ms: i64,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        listing::list_changes(
            &Client::new(transport, now_ms),
            &self.settings,
            mode,
            cursor,
            now_ms,
        )
    }

    /// `fetch-item` over any transport.
    pub fn fetch_item_with(
        &self,
        transport: &dyn Transport,
        now_ms: i64,
        id: &str,
        visibility: Visibility,
    ) -> Result<Item, Error> {
        let raw = Client::new(transport, now_ms).call_details(id)?;
        let item = mapping::to_item(id, visibility, &raw)?;
        // A call that has left the history window is, for the index, gone: answering
        // not-found lets the host's reconciliation delete it.
        let window_start = time::months_before(now_ms, self.settings.history_months()) / 1000;
        if item.created_at.is_some_and(|t| t < window_start) {
            return Err(Error::not_found(format!(
                "call {id} is older than the history window of {} months",
                self.settings.history_months()
            )));
        }
        Ok(item)
    }

    /// `list-users` over any transport.
    pub fn list_users_with(
        &self,
        transport: &dyn Transport,
        now_ms: i64,
    ) -> Result<UserPage, Error> {
        users::list(&Client::new(transport, now_ms))
    }
}

/// The host's clock in epoch milliseconds (WASI wall clock inside a component).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn property(name: &str, label: &str, kind: PropertyKind, facet: bool) -> PropertyDefinition {
    PropertyDefinition {
        name: name.to_string(),
        display_label: label.to_string(),
        kind,
        facet,
    }
}

/// What the connector declares: name, upstream, the `call` object type and its properties.
pub fn describe() -> ConnectorInfo {
    use PropertyKind::*;
    ConnectorInfo {
        name: NAME.to_string(),
        display_name: "Clari Copilot".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        url_pattern: "https://copilot\\.clari\\.com/call/.*".to_string(),
        upstreams: vec![Upstream {
            name: client::UPSTREAM.to_string(),
            default_base_url: "https://rest-api.copilot.clari.com".to_string(),
            auth_headers: vec!["X-Api-Key".to_string(), "X-Api-Password".to_string()],
        }],
        object_types: vec![ObjectType {
            name: mapping::OBJECT_TYPE.to_string(),
            display_label: "Call".to_string(),
            properties: vec![
                property("participant", "Participant", TextList, true),
                property("organizer", "Organizer", User, true),
                property("account", "Account", Picklist, true),
                property("opportunity", "Opportunity", Text, true),
                property("topic", "Topic", TextList, true),
                property("callDate", "Call date", Date, true),
                property("callType", "Call type", Picklist, true),
                property("durationMinutes", "Duration (minutes)", Integer, false),
                property("dealStage", "Deal stage", Picklist, true),
                property("competitor", "Competitor", TextList, true),
                property("disposition", "Disposition", Picklist, true),
                property("crmSource", "CRM", Picklist, false),
            ],
        }],
    }
}

impl Connector for ClariCopilot {
    fn new() -> Result<Self, Error> {
        Ok(ClariCopilot::with_settings(Settings::from_host()?))
    }

    fn describe() -> ConnectorInfo {
        describe()
    }

    fn check(&self) -> Result<(), Error> {
        self.check_with(&HostTransport, now_ms())
    }

    fn list_changes(&self, mode: CrawlMode, cursor: Option<String>) -> Result<ChangePage, Error> {
        self.list_changes_with(&HostTransport, now_ms(), mode, cursor.as_deref())
    }

    fn fetch_item(&self, id: String, visibility: Visibility) -> Result<Item, Error> {
        self.fetch_item_with(&HostTransport, now_ms(), &id, visibility)
    }

    fn map_permissions(facts: AccessFacts) -> Permissions {
        permissions::map(&facts)
    }

    fn list_users(&self, _cursor: Option<String>) -> Result<UserPage, Error> {
        self.list_users_with(&HostTransport, now_ms())
    }
}

connector_sdk::register_connector!(ClariCopilot, allocator = per_call_arena);
