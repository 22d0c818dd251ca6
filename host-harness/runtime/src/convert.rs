//! Each contract version's generated types to the engine's plain types and back, one module
//! per version. The versions share their shape; 0.2.0 adds a listing fingerprint.

use source_seam::types as plain;

/// A connector's error, in plain types, with its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorError {
    Config(String),
    Transient {
        message: String,
        retry_after_ms: Option<u64>,
    },
    System(String),
    NotFound(String),
}

/// The conversions for one bindings module's `types`.
macro_rules! conversions {
    ($version:ident, $types:path, $fingerprint:expr) => {
        pub mod $version {
            use super::{ConnectorError, plain};
            use $types as wit;

            pub fn error(e: wit::ConnectorError) -> ConnectorError {
                match e {
                    wit::ConnectorError::Config(m) => ConnectorError::Config(m),
                    wit::ConnectorError::Transient(t) => ConnectorError::Transient {
                        message: t.message,
                        retry_after_ms: t.retry_after_ms,
                    },
                    wit::ConnectorError::System(m) => ConnectorError::System(m),
                    wit::ConnectorError::NotFound(m) => ConnectorError::NotFound(m),
                }
            }

            pub fn mode(m: plain::CrawlMode) -> wit::CrawlMode {
                match m {
                    plain::CrawlMode::Full => wit::CrawlMode::Full,
                    plain::CrawlMode::Incremental => wit::CrawlMode::Incremental,
                }
            }

            pub fn visibility_to_wit(v: plain::Visibility) -> wit::Visibility {
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

            pub fn page(p: wit::ChangePage) -> plain::ChangePage {
                let fingerprint: fn(&wit::Change) -> Option<String> = $fingerprint;
                plain::ChangePage {
                    changes: p
                        .changes
                        .into_iter()
                        .map(|c| plain::Change {
                            fingerprint: fingerprint(&c),
                            id: c.id,
                            modified_at: c.modified_at,
                            state: match c.state {
                                wit::ChangeState::Ready(v) => {
                                    plain::ChangeState::Ready(visibility(v))
                                }
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

            pub fn facts_to_wit(f: &plain::AccessFacts) -> wit::AccessFacts {
                wit::AccessFacts {
                    visibility: visibility_to_wit(f.visibility),
                    members: f.members.clone(),
                }
            }

            pub fn item(i: wit::Item) -> plain::Item {
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
                                wit::PropertyValue::TextList(l) => {
                                    plain::PropertyValue::TextList(l)
                                }
                                wit::PropertyValue::Date(t) => plain::PropertyValue::Date(t),
                                wit::PropertyValue::Integer(n) => plain::PropertyValue::Integer(n),
                            },
                        })
                        .collect(),
                    access: plain::AccessFacts {
                        visibility: visibility(i.access.visibility),
                        members: i.access.members,
                    },
                }
            }

            pub fn permissions(p: wit::Permissions) -> plain::Permissions {
                match p {
                    wit::Permissions::AllUsers => plain::Permissions::AllUsers,
                    wit::Permissions::Users(u) => plain::Permissions::Users(u),
                    wit::Permissions::Nobody => plain::Permissions::Nobody,
                }
            }

            pub fn users(p: wit::UserPage) -> plain::UserPage {
                plain::UserPage {
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
        }
    };
}

conversions!(v0_1_0, crate::bindings::v0_1_0::types, |_| None);
conversions!(v0_2_0, crate::bindings::v0_2_0::types, |c: &wit::Change| c
    .fingerprint
    .clone());
