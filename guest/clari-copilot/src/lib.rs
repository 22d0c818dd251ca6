//! The Clari Copilot connector: Clari Copilot sales calls as platform-neutral items.
//!
//! This file holds the `Connector` implementation (which hands the context's transport, clock
//! and settings to the modules below) and `describe`. Everything else takes a
//! `&dyn Transport` and an explicit clock; the whole connector runs natively in tests over a
//! `Ctx` built on a fake source:
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

use connector_sdk::describe::{ConnectorInfoBuilder, ObjectTypeBuilder};
use connector_sdk::{
    AccessFacts, ChangePage, Connector, ConnectorInfo, CrawlMode, Ctx, Error, Item, Permissions,
    PropertyKind, UserPage, Visibility,
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
}

/// What the connector declares: name, upstream, the `call` object type and its properties.
pub fn describe() -> ConnectorInfo {
    use PropertyKind::*;
    ConnectorInfoBuilder::new(NAME, "Clari Copilot", env!("CARGO_PKG_VERSION"))
        .url_pattern("https://copilot\\.clari\\.com/call/.*")
        .upstream(
            client::UPSTREAM,
            "https://rest-api.copilot.clari.com",
            &["X-Api-Key", "X-Api-Password"],
        )
        .object_type(
            ObjectTypeBuilder::new(mapping::OBJECT_TYPE, "Call")
                .facet("participant", "Participant", TextList)
                .facet("organizer", "Organizer", User)
                .facet("account", "Account", Picklist)
                .facet("opportunity", "Opportunity", Text)
                .facet("topic", "Topic", TextList)
                .facet("callDate", "Call date", Date)
                .facet("callType", "Call type", Picklist)
                .property("durationMinutes", "Duration (minutes)", Integer)
                .facet("dealStage", "Deal stage", Picklist)
                .facet("competitor", "Competitor", TextList)
                .facet("disposition", "Disposition", Picklist)
                .property("crmSource", "CRM", Picklist),
        )
        .build()
}

impl Connector for ClariCopilot {
    fn new(ctx: &Ctx) -> Result<Self, Error> {
        Ok(ClariCopilot::with_settings(Settings::parse(
            ctx.settings(),
        )?))
    }

    fn describe() -> ConnectorInfo {
        describe()
    }

    fn check(&self, ctx: &Ctx) -> Result<(), Error> {
        Client::new(ctx.http(), ctx.now_ms())
            .users()
            .map(|_| ())
            .map_err(|e| e.context("checking the Clari Copilot connection"))
    }

    fn list_changes(
        &self,
        ctx: &Ctx,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        let now_ms = ctx.now_ms();
        let client = Client::new(ctx.http(), now_ms);
        listing::list_changes(&client, &self.settings, mode, cursor, now_ms)
    }

    fn fetch_item(&self, ctx: &Ctx, id: &str, visibility: Visibility) -> Result<Item, Error> {
        let now_ms = ctx.now_ms();
        let raw = Client::new(ctx.http(), now_ms).call_details(id)?;
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

    fn map_permissions(facts: &AccessFacts) -> Permissions {
        permissions::map(facts)
    }

    fn list_users(&self, ctx: &Ctx, _cursor: Option<&str>) -> Result<UserPage, Error> {
        users::list(&Client::new(ctx.http(), ctx.now_ms()))
    }
}

connector_sdk::register_connector!(ClariCopilot, allocator = per_call_arena);
