//! Builders for what `describe` returns, so a connector states its name, upstreams and
//! searchable properties without `.to_string()` on every field and without naming every field
//! of the contract's records (a field added in a contract minor version gets a default here).
//!
//! ```
//! use connector_sdk::describe::{ConnectorInfoBuilder, ObjectTypeBuilder};
//! use connector_sdk::PropertyKind;
//!
//! let info = ConnectorInfoBuilder::new("notes", "Notes", "0.1.0")
//!     .url_pattern("https://notes\\.example/n/.*")
//!     .upstream("api", "https://api.notes.example", &["Authorization"])
//!     .object_type(
//!         ObjectTypeBuilder::new("note", "Note")
//!             .facet("author", "Author", PropertyKind::Text)
//!             .property("words", "Words", PropertyKind::Integer),
//!     )
//!     .build();
//! assert_eq!(info.object_types[0].properties.len(), 2);
//! ```

use crate::{ConnectorInfo, ObjectType, PropertyDefinition, PropertyKind, Upstream};

/// Builds a [`ConnectorInfo`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnectorInfoBuilder {
    info: ConnectorInfo,
}

impl ConnectorInfoBuilder {
    /// `name` is the machine name (ASCII letters and digits; it names the index datasource),
    /// `display_name` what people read, `version` usually `env!("CARGO_PKG_VERSION")`.
    pub fn new(name: &str, display_name: &str, version: &str) -> Self {
        ConnectorInfoBuilder {
            info: ConnectorInfo {
                name: name.to_string(),
                display_name: display_name.to_string(),
                version: version.to_string(),
                url_pattern: String::new(),
                upstreams: Vec::new(),
                object_types: Vec::new(),
            },
        }
    }

    /// The regular expression every item's `url` matches (the index's `urlRegex`).
    pub fn url_pattern(mut self, pattern: &str) -> Self {
        self.info.url_pattern = pattern.to_string();
        self
    }

    /// An upstream the connector sends requests to, by name; the operator may point it
    /// elsewhere. `auth_headers` are the headers the host injects credentials into.
    pub fn upstream(mut self, name: &str, default_base_url: &str, auth_headers: &[&str]) -> Self {
        self.info.upstreams.push(Upstream {
            name: name.to_string(),
            default_base_url: default_base_url.to_string(),
            auth_headers: auth_headers.iter().map(|h| h.to_string()).collect(),
        });
        self
    }

    pub fn object_type(mut self, object_type: ObjectTypeBuilder) -> Self {
        self.info.object_types.push(object_type.build());
        self
    }

    pub fn build(self) -> ConnectorInfo {
        self.info
    }
}

/// Builds an [`ObjectType`] and its searchable properties.
#[derive(Debug, Clone)]
#[must_use]
pub struct ObjectTypeBuilder {
    object_type: ObjectType,
}

impl ObjectTypeBuilder {
    /// `name` in lower camel case (letters and digits), `display_label` what people read.
    pub fn new(name: &str, display_label: &str) -> Self {
        ObjectTypeBuilder {
            object_type: ObjectType {
                name: name.to_string(),
                display_label: display_label.to_string(),
                properties: Vec::new(),
            },
        }
    }

    /// A searchable property (names: letters and digits, no `_` or `-`).
    pub fn property(self, name: &str, label: &str, kind: PropertyKind) -> Self {
        self.with(name, label, kind, false)
    }

    /// A searchable property that search also offers as a facet (a filter).
    pub fn facet(self, name: &str, label: &str, kind: PropertyKind) -> Self {
        self.with(name, label, kind, true)
    }

    fn with(mut self, name: &str, label: &str, kind: PropertyKind, facet: bool) -> Self {
        self.object_type.properties.push(PropertyDefinition {
            name: name.to_string(),
            display_label: label.to_string(),
            kind,
            facet,
        });
        self
    }

    pub fn build(self) -> ObjectType {
        self.object_type
    }
}
