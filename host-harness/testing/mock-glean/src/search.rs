//! Search over the mock index as a given user: full text over title, body and summary (every
//! term must match, case-insensitively), facet filters on declared custom properties, ranking
//! by title hits then recency, facet counts — and only documents the user may see.

use std::collections::BTreeMap;

use glean_api::search::{
    FacetBucket, FacetFilter, FacetResult, ResultDocument, ResultMetadata, SearchRequest,
    SearchResponse, SearchResult, Snippet,
};
use glean_api::{CustomDatasourceConfig, DocumentDefinition};
use serde_json::Value;

use crate::store::Index;

fn text_of(d: &DocumentDefinition) -> (String, String) {
    let title = d.title.clone().unwrap_or_default().to_lowercase();
    let mut rest = String::new();
    for c in [&d.body, &d.summary].into_iter().flatten() {
        rest.push_str(&c.text_content.clone().unwrap_or_default().to_lowercase());
        rest.push('\n');
    }
    (title, rest)
}

fn values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(a) => a.iter().flat_map(values).collect(),
        _ => vec![],
    }
}

fn property<'a>(d: &'a DocumentDefinition, name: &str) -> Option<&'a Value> {
    d.custom_properties
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| p.value.as_ref())
}

/// The values a filter looks at: a custom property, or a built-in field.
fn field(d: &DocumentDefinition, name: &str) -> Vec<String> {
    match name {
        "type" | "objectType" => d.object_type.iter().cloned().collect(),
        "author" => d.author.iter().filter_map(|a| a.email.clone()).collect(),
        "tag" | "tags" => d.tags.clone().unwrap_or_default(),
        "container" => d.container.iter().cloned().collect(),
        "updatedAt" => d.updated_at.map(|t| t.to_string()).into_iter().collect(),
        "createdAt" => d.created_at.map(|t| t.to_string()).into_iter().collect(),
        other => property(d, other).map(values).unwrap_or_default(),
    }
}

fn matches_filter(d: &DocumentDefinition, f: &FacetFilter) -> bool {
    let have = field(d, &f.field_name);
    f.values.iter().any(|v| {
        let relation = v.relation_type.as_deref().unwrap_or("EQUALS");
        match relation {
            "NOT_EQUALS" => !have.iter().any(|h| h.eq_ignore_ascii_case(&v.value)),
            "GT" | "LT" => have
                .iter()
                .any(|h| match (h.parse::<f64>(), v.value.parse::<f64>()) {
                    (Ok(a), Ok(b)) => {
                        if relation == "GT" {
                            a > b
                        } else {
                            a < b
                        }
                    }
                    _ => false,
                }),
            _ => have.iter().any(|h| h.eq_ignore_ascii_case(&v.value)),
        }
    })
}

fn snippet(text: &str, terms: &[String]) -> String {
    let lower = text.to_lowercase();
    let at = terms
        .iter()
        .filter_map(|t| lower.find(t.as_str()))
        .min()
        .unwrap_or(0);
    let start = text
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= at.saturating_sub(60))
        .last()
        .unwrap_or(0);
    text[start..]
        .chars()
        .take(200)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn iso(t: Option<i64>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Facets: the declared, facetable properties of the matched documents.
fn facets(config: &[&CustomDatasourceConfig], docs: &[&DocumentDefinition]) -> Vec<FacetResult> {
    let mut names: Vec<String> = config
        .iter()
        .flat_map(|c| c.object_definitions.iter().flatten())
        .flat_map(|o| o.property_definitions.iter().flatten())
        .filter(|p| p.hide_ui_facet != Some(true))
        .filter_map(|p| p.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for d in docs {
                let mut vs = field(d, &name);
                vs.sort();
                vs.dedup();
                for v in vs {
                    *counts.entry(v).or_default() += 1;
                }
            }
            if counts.is_empty() {
                return None;
            }
            let mut buckets: Vec<FacetBucket> = counts
                .into_iter()
                .map(|(value, count)| FacetBucket { value, count })
                .collect();
            buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            buckets.truncate(20);
            Some(FacetResult {
                source_name: name,
                buckets,
            })
        })
        .collect()
}

/// One hit as a search result: its text, a snippet around the terms, its metadata.
fn result(
    config: &CustomDatasourceConfig,
    d: &DocumentDefinition,
    terms: &[String],
) -> SearchResult {
    let body = d
        .body
        .as_ref()
        .and_then(|b| b.text_content.clone())
        .unwrap_or_default();
    let summary = d.summary.as_ref().and_then(|b| b.text_content.clone());
    let custom_data = d
        .custom_properties
        .iter()
        .flatten()
        .filter_map(|p| Some((p.name.clone()?, p.value.clone()?)))
        .collect();
    SearchResult {
        title: d.title.clone().unwrap_or_default(),
        url: d.view_url.clone().unwrap_or_default(),
        snippets: vec![Snippet {
            text: snippet(&body, terms),
        }],
        document: ResultDocument {
            id: d.id.clone().unwrap_or_default(),
            datasource: d.datasource.clone(),
            doc_type: d.object_type.clone().unwrap_or_default(),
            metadata: ResultMetadata {
                datasource: d.datasource.clone(),
                object_type: d.object_type.clone().unwrap_or_default(),
                create_time: iso(d.created_at),
                update_time: iso(d.updated_at),
                author: d.author.clone(),
                container: d.container.clone(),
                tags: d.tags.clone().unwrap_or_default(),
                custom_data,
                summary,
                datasource_icon: config.icon_url.clone(),
            },
        },
    }
}

/// Runs `request` as the user `email`.
pub fn search(index: &Index, request: &SearchRequest, email: &str) -> SearchResponse {
    let terms: Vec<String> = request
        .query
        .to_lowercase()
        .split_whitespace()
        .map(String::from)
        .collect();
    let options = request.request_options.clone().unwrap_or_default();
    let visible = index.visible_documents(email, options.datasource_filter.as_deref());
    let mut hits: Vec<(usize, &CustomDatasourceConfig, &DocumentDefinition)> = visible
        .into_iter()
        .filter(|(_, d)| options.facet_filters.iter().all(|f| matches_filter(d, f)))
        .filter_map(|(c, d)| {
            let (title, rest) = text_of(d);
            let all = terms.iter().all(|t| title.contains(t) || rest.contains(t));
            all.then(|| {
                (
                    terms.iter().filter(|t| title.contains(t.as_str())).count(),
                    c,
                    d,
                )
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.2.updated_at.cmp(&a.2.updated_at))
            .then_with(|| a.2.id.cmp(&b.2.id))
    });
    let configs: Vec<&CustomDatasourceConfig> = hits.iter().map(|h| h.1).collect();
    let docs: Vec<&DocumentDefinition> = hits.iter().map(|h| h.2).collect();
    let facet_results = facets(&configs, &docs);
    let total_count = hits.len();
    let results = hits
        .into_iter()
        .take(request.page_size.unwrap_or(10).clamp(1, 100))
        .map(|(_, config, d)| result(config, d, &terms))
        .collect();
    SearchResponse {
        results,
        total_count,
        facet_results,
    }
}
