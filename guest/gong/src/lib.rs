//! The Gong connector: Gong call recordings (metadata, participants, CRM context, AI brief
//! and outline, transcript) as platform-neutral `call` items, a `connector:platform`
//! component built on the guest SDK.
//!
//! The host holds the credentials: it sends `Authorization: Basic base64(accessKey:secret)`
//! to the `gong` upstream; this crate never sees nor sets that header.
//!
//! # Who sees a call
//!
//! - A **private** call (`isPrivate: true`), and a call whose `isPrivate` is `null` or
//!   missing (unknown, so treated as private: fail closed), is visible only to its
//!   **internal participants**: the parties Gong marks `Internal`, plus the call's owner (the
//!   party whose `userId` is the call's `primaryUserId`, unless it is marked External), by
//!   email.
//! - A call that is **not private** is visible to the same internal participants when the
//!   `non_private_calls` setting is `participants` (the default), and to everyone who can use
//!   the datasource when it is `everyone`.
//! - External and Unknown parties never get access. A restricted call without a single
//!   member email is visible to nobody.
//!
//! Shares made in Gong's app, comment mentions, library folders and permission profiles are
//! not in a call's data and grant nothing here (see [`access`]).
//!
//! # Settings
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `history_days` | 180 (1..=1095) | a full crawl lists calls of `[now - history_days, now)` |
//! | `overlap_hours` | 48 (1..=720) | an incremental crawl lists again from the last window's end minus this |
//! | `workspace_id` | unset | only this Gong workspace (digits) |
//! | `non_private_calls` | `participants` | `participants` or `everyone`: who sees calls that are not private |
//!
//! # Modules
//!
//! - [`config`]: the settings; [`cursor`]: the listing cursor and time slices.
//! - [`wire`] (with [`lenient`]): Gong's JSON; [`client`]: the HTTP calls; [`answer`]: what
//!   each HTTP answer means (empty results, expired cursors, errors).
//! - [`listing`]: `list-changes`, with [`fingerprint`]; [`fetch`]: `fetch-item`.
//! - [`mapping`]: a call to an item, with [`body`], [`people`], [`crm`], [`links`], [`iso`].
//! - [`access`]: who sees a call; [`users`]: the user directory.

pub mod access;
pub mod answer;
pub mod body;
pub mod client;
pub mod config;
pub mod crm;
pub mod cursor;
pub mod fetch;
pub mod fingerprint;
pub mod iso;
pub mod lenient;
pub mod links;
pub mod listing;
pub mod mapping;
pub mod people;
pub mod users;
pub mod wire;

use connector_sdk::describe::{ConnectorInfoBuilder, ObjectTypeBuilder};
use connector_sdk::{
    AccessFacts, ChangePage, Connector, ConnectorInfo, CrawlMode, Ctx, Error, Item, Permissions,
    PropertyKind, UserPage, Visibility, permissions,
};

use crate::client::{CallsQuery, Client, Paged};
use crate::config::Settings;

/// The connector's machine name: it names the index datasource.
pub const NAME: &str = "gong";

/// Gong's generic API host (a tenant may have its own, `https://<prefix>.api.gong.io`; the
/// operator points the `gong` upstream there).
pub const DEFAULT_BASE_URL: &str = "https://api.gong.io";

/// The Gong connector for one export call.
pub struct Gong {
    settings: Settings,
}

impl Gong {
    pub fn with_settings(settings: Settings) -> Self {
        Gong { settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// What the connector declares: name, upstream, the `call` object type and its properties.
pub fn describe() -> ConnectorInfo {
    use PropertyKind::*;
    ConnectorInfoBuilder::new(NAME, "Gong", env!("CARGO_PKG_VERSION"))
        .url_pattern(links::URL_PATTERN)
        .upstream(client::UPSTREAM, DEFAULT_BASE_URL, &["Authorization"])
        .object_type(
            ObjectTypeBuilder::new(mapping::OBJECT_TYPE, "Call")
                .facet("participants", "Participants", TextList)
                .facet("account", "Account", Text)
                .property("opportunity", "Opportunity", Text)
                .facet("direction", "Direction", Picklist)
                .facet("system", "System", Picklist)
                .property("language", "Language", Picklist)
                .facet("scope", "Scope", Picklist)
                .property("purpose", "Purpose", Text)
                .facet("outcome", "Outcome", Picklist)
                .facet("topics", "Topics", TextList)
                .facet("trackers", "Trackers", TextList)
                .property("durationMinutes", "Duration (minutes)", Integer)
                .property("callDate", "Call date", Date),
        )
        .build()
}

impl Connector for Gong {
    fn new(ctx: &Ctx) -> Result<Self, Error> {
        Ok(Gong::with_settings(Settings::parse(ctx.settings())?))
    }

    fn describe() -> ConnectorInfo {
        describe()
    }

    /// The first page of users, and the last day's calls (an empty day is fine): the
    /// credentials, their scopes and the workspace filter all work.
    fn check(&self, ctx: &Ctx) -> Result<(), Error> {
        let now_ms = ctx.now_ms();
        let client = Client::new(ctx.http(), now_ms);
        let what = "checking the Gong connection";
        client.users(None).map_err(|e| e.context(what))?;
        let day = CallsQuery {
            from_ms: now_ms.saturating_sub(86_400_000),
            to_ms: now_ms,
            workspace_id: self.settings.workspace_id(),
            cursor: None,
        };
        match client.list_calls(&day).map_err(|e| e.context(what))? {
            Paged::Page(_) | Paged::Empty | Paged::CursorExpired => Ok(()),
        }
    }

    fn list_changes(
        &self,
        ctx: &Ctx,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        listing::list_changes(ctx, &self.settings, mode, cursor)
    }

    fn fetch_item(&self, ctx: &Ctx, id: &str, _visibility: Visibility) -> Result<Item, Error> {
        fetch::fetch_item(ctx, &self.settings, id)
    }

    fn map_permissions(facts: &AccessFacts) -> Permissions {
        permissions::public_or_members(facts)
    }

    fn list_users(&self, ctx: &Ctx, cursor: Option<&str>) -> Result<UserPage, Error> {
        users::list(ctx, cursor)
    }
}

connector_sdk::register_connector!(Gong, allocator = per_call_arena);
