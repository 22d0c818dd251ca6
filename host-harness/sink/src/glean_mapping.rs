//! From the contract's items to Glean's wire model: an item plus its permissions becomes a
//! `DocumentDefinition`; a connector's description becomes the datasource configuration; users
//! become datasource users.

use glean_api::{CustomDatasourceConfig, DatasourceUserDefinition, DocumentDefinition};
use serde_json::{Value, json};

use crawl_engine::types::{self, Permissions, PropertyKind, PropertyValue};

/// The Glean document for `item` with `perms`.
pub fn to_document(
    datasource: &str,
    item: &types::Item,
    perms: &Permissions,
) -> anyhow::Result<DocumentDefinition> {
    let permissions = permissions(perms);
    let mut doc = json!({
        "datasource": datasource,
        "objectType": item.object_type,
        "id": item.id,
        "title": item.title,
        "viewURL": item.url,
        "body": {"mimeType": "text/plain", "textContent": item.body},
        "permissions": permissions,
    });
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("document is an object"))?;
    if let Some(s) = &item.summary {
        obj.insert(
            "summary".into(),
            json!({"mimeType": "text/plain", "textContent": s}),
        );
    }
    if let Some(a) = &item.author {
        let mut author = serde_json::Map::new();
        if let Some(e) = &a.email {
            author.insert("email".into(), json!(e));
        }
        if let Some(n) = &a.name {
            author.insert("name".into(), json!(n));
        }
        if !author.is_empty() {
            obj.insert("author".into(), Value::Object(author));
        }
    }
    if let Some(t) = item.created_at {
        obj.insert("createdAt".into(), json!(t));
    }
    if let Some(t) = item.updated_at {
        obj.insert("updatedAt".into(), json!(t));
    }
    if let Some(c) = &item.container {
        obj.insert("container".into(), json!(c));
    }
    if !item.tags.is_empty() {
        obj.insert("tags".into(), json!(item.tags));
    }
    let props = custom_properties(&item.properties);
    if !props.is_empty() {
        obj.insert("customProperties".into(), Value::Array(props));
    }
    serde_json::from_value(doc).map_err(|e| {
        anyhow::anyhow!(
            "item `{}` does not form a valid Glean document: {e}",
            item.id
        )
    })
}

/// Glean's permissions for `perms`: no grant at all means visible to nobody.
fn permissions(perms: &Permissions) -> Value {
    match perms {
        Permissions::AllUsers => {
            json!({"allowAllDatasourceUsersAccess": true, "allowAnonymousAccess": false})
        }
        Permissions::Users(emails) if !emails.is_empty() => json!({
            "allowedUsers": emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
            "allowAnonymousAccess": false,
        }),
        _ => json!({"allowAnonymousAccess": false, "allowAllDatasourceUsersAccess": false}),
    }
}

/// Glean's custom properties; empty values are left out.
fn custom_properties(properties: &[types::Property]) -> Vec<Value> {
    properties
        .iter()
        .filter_map(|p| {
            let value = match &p.value {
                PropertyValue::Text(s) if s.is_empty() => return None,
                PropertyValue::Text(s) => json!(s),
                PropertyValue::TextList(l) if l.is_empty() => return None,
                PropertyValue::TextList(l) => json!(l),
                // Glean facets DATE properties given as epoch seconds.
                PropertyValue::Date(t) => json!(t.to_string()),
                PropertyValue::Integer(i) => json!(i),
            };
            Some(json!({"name": p.name, "value": value}))
        })
        .collect()
}

/// The datasource configuration for a connector.
pub fn datasource_config(
    datasource: &str,
    info: &types::ConnectorInfo,
) -> anyhow::Result<CustomDatasourceConfig> {
    let objects: Vec<Value> = info
        .object_types
        .iter()
        .map(|o| {
            let props: Vec<Value> = o
                .properties
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name,
                        "displayLabel": p.display_label,
                        "propertyType": property_type(p.kind),
                        "uiOptions": "SEARCH_RESULT",
                        "hideUiFacet": !p.facet,
                    })
                })
                .collect();
            json!({
                "name": o.name,
                "displayLabel": o.display_label,
                "docCategory": "MESSAGING",
                "propertyDefinitions": props,
            })
        })
        .collect();
    let config = json!({
        "name": datasource,
        "displayName": info.display_name,
        "datasourceCategory": "MESSAGING",
        "urlRegex": info.url_pattern,
        "isUserReferencedByEmail": true,
        "connectorType": "PUSH_API",
        "objectDefinitions": objects,
    });
    serde_json::from_value(config)
        .map_err(|e| anyhow::anyhow!("the connector's description does not form a datasource: {e}"))
}

fn property_type(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::Text => "TEXT",
        PropertyKind::TextList => "TEXTLIST",
        PropertyKind::Date => "DATE",
        PropertyKind::Integer => "INT",
        PropertyKind::User => "USERID",
        PropertyKind::Picklist => "PICKLIST",
    }
}

/// A source user as a datasource user.
pub fn to_user(u: &types::User) -> DatasourceUserDefinition {
    DatasourceUserDefinition {
        email: u.email.clone(),
        name: if u.name.is_empty() {
            u.email.clone()
        } else {
            u.name.clone()
        },
        user_id: Some(u.id.clone()),
        is_active: Some(u.active),
    }
}
