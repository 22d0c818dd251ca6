//! The search API shape the mock serves and the demo uses, modelled on Glean's client search
//! API (`POST /rest/api/v1/search`, acting as the user named in `X-Glean-ActAs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_options: Option<SearchRequestOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequestOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facet_filters: Vec<FacetFilter>,
}

/// Documents whose property `field_name` relates to one of `values` (any of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetFilter {
    pub field_name: String,
    #[serde(default)]
    pub values: Vec<FacetFilterValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetFilterValue {
    pub value: String,
    /// `EQUALS` (default), `NOT_EQUALS`, `GT` or `LT` (numbers and dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
    pub total_count: usize,
    #[serde(default)]
    pub facet_results: Vec<FacetResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub snippets: Vec<Snippet>,
    pub document: ResultDocument,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snippet {
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultDocument {
    pub id: String,
    pub datasource: String,
    pub doc_type: String,
    pub metadata: ResultMetadata,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultMetadata {
    pub datasource: String,
    pub object_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<crate::UserReferenceDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The document's custom properties, by name.
    #[serde(default)]
    pub custom_data: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The datasource's icon, as results show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_icon: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetResult {
    pub source_name: String,
    pub buckets: Vec<FacetBucket>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetBucket {
    pub value: String,
    pub count: usize,
}
