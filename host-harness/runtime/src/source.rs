//! The wasm connector as the engine's [`Source`]: each export call runs in a fresh instance
//! ([`WasmSource`]), and its generated WIT types become the engine's plain types here.

use crawl_engine::types as plain;
use crawl_engine::{Source, SourceError};

use crate::bindings::types as wit;
use crate::{CallError, WasmSource};

impl From<CallError> for SourceError {
    fn from(e: CallError) -> Self {
        SourceError {
            kind: e.kind(),
            message: e.to_string(),
            retry_after: e.retry_after(),
            guest_fault: matches!(e, CallError::Deadline { .. }),
        }
    }
}

fn mode(m: plain::CrawlMode) -> wit::CrawlMode {
    match m {
        plain::CrawlMode::Full => wit::CrawlMode::Full,
        plain::CrawlMode::Incremental => wit::CrawlMode::Incremental,
    }
}

fn visibility_to_wit(v: plain::Visibility) -> wit::Visibility {
    match v {
        plain::Visibility::Public => wit::Visibility::Public,
        plain::Visibility::Restricted => wit::Visibility::Restricted,
        plain::Visibility::Unknown => wit::Visibility::Unknown,
    }
}

fn visibility(v: wit::Visibility) -> plain::Visibility {
    match v {
        wit::Visibility::Public => plain::Visibility::Public,
        wit::Visibility::Restricted => plain::Visibility::Restricted,
        wit::Visibility::Unknown => plain::Visibility::Unknown,
    }
}

fn page(p: wit::ChangePage) -> plain::ChangePage {
    plain::ChangePage {
        changes: p
            .changes
            .into_iter()
            .map(|c| plain::Change {
                id: c.id,
                modified_at: c.modified_at,
                state: match c.state {
                    wit::ChangeState::Ready(v) => plain::ChangeState::Ready(visibility(v)),
                    wit::ChangeState::Skipped(r) => plain::ChangeState::Skipped(r),
                },
            })
            .collect(),
        next: match p.next {
            wit::ListingNext::More(c) => plain::ListingNext::More(c),
            wit::ListingNext::Done(c) => plain::ListingNext::Done(c),
        },
    }
}

fn facts(f: wit::AccessFacts) -> plain::AccessFacts {
    plain::AccessFacts {
        visibility: visibility(f.visibility),
        members: f.members,
    }
}

fn facts_to_wit(f: &plain::AccessFacts) -> wit::AccessFacts {
    wit::AccessFacts {
        visibility: visibility_to_wit(f.visibility),
        members: f.members.clone(),
    }
}

fn item(i: wit::Item) -> plain::Item {
    plain::Item {
        id: i.id,
        object_type: i.object_type,
        title: i.title,
        url: i.url,
        body: i.body,
        summary: i.summary,
        author: i.author.map(|p| plain::Person {
            email: p.email,
            name: p.name,
        }),
        created_at: i.created_at,
        updated_at: i.updated_at,
        container: i.container,
        tags: i.tags,
        properties: i
            .properties
            .into_iter()
            .map(|p| plain::Property {
                name: p.name,
                value: match p.value {
                    wit::PropertyValue::Text(s) => plain::PropertyValue::Text(s),
                    wit::PropertyValue::TextList(l) => plain::PropertyValue::TextList(l),
                    wit::PropertyValue::Date(t) => plain::PropertyValue::Date(t),
                    wit::PropertyValue::Integer(n) => plain::PropertyValue::Integer(n),
                },
            })
            .collect(),
        access: facts(i.access),
    }
}

fn permissions(p: wit::Permissions) -> plain::Permissions {
    match p {
        wit::Permissions::AllUsers => plain::Permissions::AllUsers,
        wit::Permissions::Users(u) => plain::Permissions::Users(u),
        wit::Permissions::Nobody => plain::Permissions::Nobody,
    }
}

fn kind(k: wit::PropertyKind) -> plain::PropertyKind {
    match k {
        wit::PropertyKind::Text => plain::PropertyKind::Text,
        wit::PropertyKind::TextList => plain::PropertyKind::TextList,
        wit::PropertyKind::Date => plain::PropertyKind::Date,
        wit::PropertyKind::Integer => plain::PropertyKind::Integer,
        wit::PropertyKind::User => plain::PropertyKind::User,
        wit::PropertyKind::Picklist => plain::PropertyKind::Picklist,
    }
}

/// A connector's description in plain types.
pub fn info(i: wit::ConnectorInfo) -> plain::ConnectorInfo {
    plain::ConnectorInfo {
        name: i.name,
        display_name: i.display_name,
        version: i.version,
        url_pattern: i.url_pattern,
        upstreams: i
            .upstreams
            .into_iter()
            .map(|u| plain::Upstream {
                name: u.name,
                default_base_url: u.default_base_url,
                auth_headers: u.auth_headers,
            })
            .collect(),
        object_types: i
            .object_types
            .into_iter()
            .map(|o| plain::ObjectType {
                name: o.name,
                display_label: o.display_label,
                properties: o
                    .properties
                    .into_iter()
                    .map(|p| plain::PropertyDefinition {
                        name: p.name,
                        display_label: p.display_label,
                        kind: kind(p.kind),
                        facet: p.facet,
                    })
                    .collect(),
            })
            .collect(),
    }
}

impl Source for WasmSource {
    fn describe(&self) -> Result<plain::ConnectorInfo, SourceError> {
        Ok(info(WasmSource::describe(self)?))
    }
    fn check(&self) -> Result<(), SourceError> {
        Ok(WasmSource::check(self)?)
    }
    fn list_changes(
        &self,
        m: plain::CrawlMode,
        cursor: Option<&str>,
    ) -> Result<plain::ChangePage, SourceError> {
        Ok(page(WasmSource::list_changes(self, mode(m), cursor)?))
    }
    fn fetch_item(&self, id: &str, v: plain::Visibility) -> Result<plain::Item, SourceError> {
        Ok(item(WasmSource::fetch_item(
            self,
            id,
            visibility_to_wit(v),
        )?))
    }
    fn fetch_document(
        &self,
        id: &str,
        v: plain::Visibility,
    ) -> Result<crawl_engine::Document, SourceError> {
        let (i, p) = WasmSource::fetch_with_permissions(self, id, visibility_to_wit(v))?;
        Ok(crawl_engine::Document {
            item: item(i),
            permissions: permissions(p),
        })
    }
    fn map_permissions(&self, f: &plain::AccessFacts) -> Result<plain::Permissions, SourceError> {
        Ok(permissions(WasmSource::map_permissions(
            self,
            &facts_to_wit(f),
        )?))
    }
    fn list_users(&self, cursor: Option<&str>) -> Result<plain::UserPage, SourceError> {
        let p = WasmSource::list_users(self, cursor)?;
        Ok(plain::UserPage {
            users: p
                .users
                .into_iter()
                .map(|u| plain::User {
                    id: u.id,
                    email: u.email,
                    name: u.name,
                    active: u.active,
                })
                .collect(),
            next_cursor: p.next_cursor,
        })
    }
    fn requests_sent(&self) -> u64 {
        self.egress().request_count()
    }
    fn carries_secret(&self, bytes: &[u8]) -> bool {
        self.egress().redactor().contains(bytes)
    }
    fn redact(&self, text: &str) -> String {
        self.egress().redactor().redact(text)
    }
}
