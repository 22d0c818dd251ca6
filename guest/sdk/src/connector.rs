//! The `Connector` trait a connector implements, and the bridge from the generated WIT
//! exports to it.

use std::marker::PhantomData;

use crate::bindings::connector::platform::types::{
    AccessFacts, ChangePage, ConnectorError, ConnectorInfo, CrawlMode, Item, Permissions, UserPage,
    Visibility,
};
use crate::bindings::{Fetched, Guest};
use crate::{Ctx, Error};

/// A connector. Each export call builds a fresh value with [`Connector::new`] in a fresh
/// instance, so nothing survives between calls except what the cursor carries.
///
/// Every method receives a [`Ctx`]: the transport, clock, settings and log. Inside a component
/// they are the host's imports; in a native test, a [`crate::testkit::TestHost`]'s fakes.
///
/// Every method but `new` and `describe` has a default: "not implemented" for the crawl
/// exports and fail-closed ([`Permissions::Nobody`]) for `map_permissions`.
pub trait Connector: Sized {
    /// Builds the connector for one call, usually from `ctx`'s settings. A bad setting is an
    /// [`Error::Config`].
    fn new(ctx: &Ctx) -> Result<Self, Error>;

    /// Name, version, upstreams, object types and searchable properties
    /// (see [`crate::describe::ConnectorInfoBuilder`]).
    fn describe() -> ConnectorInfo;

    /// Verifies credentials and settings against the source.
    fn check(&self, ctx: &Ctx) -> Result<(), Error> {
        let _ = ctx;
        Err(Error::not_implemented("check"))
    }

    /// One page of the items a crawl of `mode` should look at.
    fn list_changes(
        &self,
        ctx: &Ctx,
        mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        let _ = (ctx, mode, cursor);
        Err(Error::not_implemented("list-changes"))
    }

    /// One item in full; `visibility` is what the listing established.
    fn fetch_item(&self, ctx: &Ctx, id: &str, visibility: Visibility) -> Result<Item, Error> {
        let _ = (ctx, id, visibility);
        Err(Error::not_implemented("fetch-item"))
    }

    /// Access facts to permissions. Must fail closed; the default grants nobody. The usual
    /// public-or-these-people mapping is [`crate::permissions::public_or_members`].
    fn map_permissions(facts: &AccessFacts) -> Permissions {
        let _ = facts;
        Permissions::Nobody
    }

    /// One page of the source's users.
    fn list_users(&self, ctx: &Ctx, cursor: Option<&str>) -> Result<UserPage, Error> {
        let _ = (ctx, cursor);
        Err(Error::not_implemented("list-users"))
    }
}

/// The generated exports, forwarded to `T`. Used by [`crate::register_connector!`].
#[doc(hidden)]
pub struct Exports<T>(PhantomData<T>);

fn with<T: Connector, R>(f: impl FnOnce(T, &Ctx) -> Result<R, Error>) -> Result<R, ConnectorError> {
    let ctx = Ctx::host();
    T::new(&ctx)
        .and_then(|c| f(c, &ctx))
        .map_err(ConnectorError::from)
}

impl<T: Connector> Guest for Exports<T> {
    fn describe() -> ConnectorInfo {
        T::describe()
    }

    fn check() -> Result<(), ConnectorError> {
        with::<T, _>(|c, ctx| c.check(ctx))
    }

    fn list_changes(mode: CrawlMode, cursor: Option<String>) -> Result<ChangePage, ConnectorError> {
        with::<T, _>(|c, ctx| c.list_changes(ctx, mode, cursor.as_deref()))
    }

    /// The item and its permissions in one call (contract 0.2.0): the host needs no second
    /// instance to map them.
    fn fetch_item(id: String, visibility: Visibility) -> Result<Fetched, ConnectorError> {
        with::<T, _>(|c, ctx| c.fetch_item(ctx, &id, visibility)).map(|item| {
            let permissions = T::map_permissions(&item.access);
            Fetched { item, permissions }
        })
    }

    fn map_permissions(facts: AccessFacts) -> Permissions {
        T::map_permissions(&facts)
    }

    fn list_users(cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        with::<T, _>(|c, ctx| c.list_users(ctx, cursor.as_deref()))
    }
}
