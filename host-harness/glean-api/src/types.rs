//! Wire types of Glean's indexing API, field for field as the official OpenAPI spec names them
//! (camelCase; unset optional fields are omitted, as the official client sends them).

use serde::{Deserialize, Serialize};

/// `DocumentDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default)]
    pub datasource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    #[serde(rename = "viewURL", skip_serializing_if = "Option::is_none")]
    pub view_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<ContentDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<ContentDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<UserReferenceDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserReferenceDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<DocumentPermissionsDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<UserReferenceDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_datasource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_object_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_app_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_properties: Option<Vec<CustomProperty>>,
}

/// `ContentDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentDefinition {
    #[serde(default)]
    pub mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_content: Option<String>,
}

/// `UserReferenceDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserReferenceDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `DocumentPermissionsDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentPermissionsDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_users: Option<Vec<UserReferenceDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_group_intersections: Option<Vec<PermissionsGroupIntersectionDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_anonymous_access: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_all_datasource_users_access: Option<bool>,
}

/// `PermissionsGroupIntersectionDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsGroupIntersectionDefinition {
    #[serde(default)]
    pub required_groups: Vec<String>,
}

/// `CustomProperty`: the value is a string, a number or a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomProperty {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// `CustomDatasourceConfig` (the fields a push connector uses; unknown fields are kept).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomDatasourceConfig {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_definitions: Option<Vec<ObjectDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_user_referenced_by_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_test_datasource: Option<bool>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `ObjectDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_definitions: Option<Vec<PropertyDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summarizable: Option<bool>,
}

/// `PropertyDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_label_plural: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_options: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hide_ui_facet: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_facet_order: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_indexing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `DatasourceUserDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceUserDefinition {
    pub email: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Body of `/indexdocuments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDocumentsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    pub datasource: String,
    pub documents: Vec<DocumentDefinition>,
}

/// Body of `/bulkindexdocuments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkIndexDocumentsRequest {
    pub upload_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_first_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_last_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_restart_upload: Option<bool>,
    pub datasource: String,
    pub documents: Vec<DocumentDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_stale_document_deletion_check: Option<bool>,
}

/// Body of `/deletedocument`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDocumentRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub datasource: String,
    pub object_type: String,
    pub id: String,
}

/// Body of `/bulkindexusers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkIndexUsersRequest {
    pub upload_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_first_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_last_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_restart_upload: Option<bool>,
    pub datasource: String,
    pub users: Vec<DatasourceUserDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_stale_data_deletion_check: Option<bool>,
}

/// Body of `/getdatasourceconfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetDatasourceConfigRequest {
    pub datasource: String,
}

/// Body of `/checkdocumentaccess`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckDocumentAccessRequest {
    pub datasource: String,
    pub object_type: String,
    pub doc_id: String,
    pub user_email: String,
}

/// Answer of `/checkdocumentaccess`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckDocumentAccessResponse {
    pub has_access: bool,
}

/// `DatasourceGroupDefinition`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceGroupDefinition {
    pub name: String,
}

/// `DatasourceMembershipDefinition` (in bulk requests `groupName` comes from the top level).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceMembershipDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_group_name: Option<String>,
}
