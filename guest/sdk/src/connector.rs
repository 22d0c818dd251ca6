//! The `Connector` trait a connector implements, and the bridge from the generated WIT
//! exports to it.

use std::marker::PhantomData;

use crate::Error;
use crate::bindings::connector::platform::types::{
    AccessFacts, ChangePage, ConnectorError, ConnectorInfo, CrawlMode, Item, Permissions, UserPage,
    Visibility,
};
use crate::bindings::{Fetched, Guest};

/// A connector. Each export call builds a fresh value with [`Connector::new`] in a fresh
/// instance, so nothing survives between calls except what the cursor carries.
///
/// Every method but `new` and `describe` has a default: "not implemented" for the crawl
/// exports and fail-closed ([`Permissions::Nobody`]) for `map_permissions`.
pub trait Connector: Sized {
    /// Builds the connector for one call, usually from [`crate::settings`]. A bad setting is a
    /// [`Error::Config`].
    fn new() -> Result<Self, Error>;

    /// Name, version, upstreams, object types and searchable properties.
    fn describe() -> ConnectorInfo;

    /// Verifies credentials and settings against the source.
    fn check(&self) -> Result<(), Error> {
        Err(Error::not_implemented("check"))
    }

    /// One page of the items a crawl of `mode` should look at.
    fn list_changes(&self, mode: CrawlMode, cursor: Option<String>) -> Result<ChangePage, Error> {
        let _ = (mode, cursor);
        Err(Error::not_implemented("list-changes"))
    }

    /// One item in full; `visibility` is what the listing established.
    fn fetch_item(&self, id: String, visibility: Visibility) -> Result<Item, Error> {
        let _ = (id, visibility);
        Err(Error::not_implemented("fetch-item"))
    }

    /// Access facts to permissions. Must fail closed; the default grants nobody.
    fn map_permissions(facts: AccessFacts) -> Permissions {
        let _ = facts;
        Permissions::Nobody
    }

    /// One page of the source's users.
    fn list_users(&self, cursor: Option<String>) -> Result<UserPage, Error> {
        let _ = cursor;
        Err(Error::not_implemented("list-users"))
    }
}

/// The generated exports, forwarded to `T`. Used by [`crate::register_connector!`].
#[doc(hidden)]
pub struct Exports<T>(PhantomData<T>);

fn with<T: Connector, R>(f: impl FnOnce(T) -> Result<R, Error>) -> Result<R, ConnectorError> {
    T::new().and_then(f).map_err(ConnectorError::from)
}

impl<T: Connector> Guest for Exports<T> {
    fn describe() -> ConnectorInfo {
        T::describe()
    }

    fn check() -> Result<(), ConnectorError> {
        with::<T, _>(|c| c.check())
    }

    fn list_changes(mode: CrawlMode, cursor: Option<String>) -> Result<ChangePage, ConnectorError> {
        with::<T, _>(|c| c.list_changes(mode, cursor))
    }

    /// The item and its permissions in one call (contract 0.2.0): the host needs no second
    /// instance to map them.
    fn fetch_item(id: String, visibility: Visibility) -> Result<Fetched, ConnectorError> {
        with::<T, _>(|c| c.fetch_item(id, visibility)).map(|item| {
            let permissions = T::map_permissions(item.access.clone());
            Fetched { item, permissions }
        })
    }

    fn map_permissions(facts: AccessFacts) -> Permissions {
        T::map_permissions(facts)
    }

    fn list_users(cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        with::<T, _>(|c| c.list_users(cursor))
    }
}
