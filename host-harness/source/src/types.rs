//! What a connector hands the engine, in plain Rust: the contract's types without any runtime
//! behind them. The wasm runtime converts its generated bindings into these; tests build them
//! by hand.

use serde::Serialize;

/// Which crawl runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrawlMode {
    /// Everything eligible in the connector's window.
    Full,
    /// What changed since the cursor.
    Incremental,
}

impl CrawlMode {
    pub fn name(self) -> &'static str {
        match self {
            CrawlMode::Full => "full",
            CrawlMode::Incremental => "incremental",
        }
    }
}

/// Who may see an item, as far as the source established it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    Public,
    Restricted,
    Unknown,
}

/// An item's state in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChangeState {
    /// Eligible: the engine fetches it.
    Ready(Visibility),
    /// Not eligible now; the reason is counted in the report.
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub modified_at: Option<i64>,
    pub state: ChangeState,
    /// A digest of what the listing says about the item (contract 0.2.0); equal means
    /// unchanged, so the fetch may be skipped.
    pub fingerprint: Option<String>,
}

/// How a listing goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ListingNext {
    More(String),
    /// Complete; the cursor the next incremental crawl starts from.
    Done(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub next: ListingNext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyValue {
    Text(String),
    TextList(Vec<String>),
    /// Epoch seconds.
    Date(i64),
    Integer(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    pub name: String,
    pub value: PropertyValue,
}

/// The facts permissions are derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessFacts {
    pub visibility: Visibility,
    pub members: Option<Vec<String>>,
}

/// An item ready for the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: String,
    pub object_type: String,
    pub title: String,
    pub url: String,
    pub body: String,
    pub summary: Option<String>,
    pub author: Option<Person>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub container: Option<String>,
    pub tags: Vec<String>,
    pub properties: Vec<Property>,
    pub access: AccessFacts,
}

/// Who may see an item in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permissions {
    AllUsers,
    Users(Vec<String>),
    /// Nobody (fail closed).
    Nobody,
}

/// A user of the source, for the index's identity store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserPage {
    pub users: Vec<User>,
    pub next_cursor: Option<String>,
}

/// A network service a connector declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upstream {
    pub name: String,
    pub default_base_url: String,
    pub auth_headers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyKind {
    Text,
    TextList,
    Date,
    Integer,
    User,
    Picklist,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyDefinition {
    pub name: String,
    pub display_label: String,
    pub kind: PropertyKind,
    pub facet: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectType {
    pub name: String,
    pub display_label: String,
    pub properties: Vec<PropertyDefinition>,
}

/// What a connector is and needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub display_name: String,
    pub version: String,
    pub url_pattern: String,
    pub upstreams: Vec<Upstream>,
    pub object_types: Vec<ObjectType>,
}
