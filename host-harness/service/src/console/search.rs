//! The data behind the console's search preview and call page: searches made as users
//! through the tenant's Glean, the reason each result is visible (from the permissions the
//! index holds), the comparison of two users, facets and date ranges with counts, and a call's
//! facts from the tenant's state and its source.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use crawl_engine::StateStore;
use glean_api::DocumentDefinition;
use glean_api::search::{FacetFilter, FacetFilterValue, SearchRequest, SearchRequestOptions};

use super::glean::GleanTarget;
use super::pages::{
    Access, CallPage, DocumentView, FacetView, MAX_PARAGRAPHS, ResultView, SearchPage,
};
use crate::serve::Service;
use tenant_instance::config::Config;
use tenant_instance::setup::RunOptions;

/// The user value that asks for the admin view: every document, with who may see it.
pub const ADMIN: &str = "*admin*";

/// Facets shown when the tenant's connector cannot be asked (its component does not load):
/// none. Otherwise the properties its declaration marks as facets, in its order.
fn facets_of(info: Option<&crawl_engine::types::ConnectorInfo>) -> Vec<(String, String)> {
    info.into_iter()
        .flat_map(|i| &i.object_types)
        .flat_map(|o| &o.properties)
        // Dates have the date filter; numbers make poor facet values.
        .filter(|p| {
            p.facet
                && !matches!(
                    p.kind,
                    crawl_engine::types::PropertyKind::Date
                        | crawl_engine::types::PropertyKind::Integer
                )
        })
        .map(|p| (p.name.clone(), p.display_label.clone()))
        .collect()
}

const DATE_RANGES: &[u32] = &[7, 30, 90, 365];

/// Results shown per page.
const PAGE: usize = 25;

/// The search page's parameters.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub tenant: Option<String>,
    pub user: String,
    pub other: String,
    pub query: String,
    pub filters: Vec<(String, String)>,
    pub since_days: Option<u32>,
}

impl Params {
    pub fn parse(query: &str) -> Self {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.trim().to_string();
            match k.as_ref() {
                "tenant" if !v.is_empty() => p.tenant = Some(v),
                "user" => p.user = v,
                "vs" => p.other = v,
                "q" => p.query = v,
                "f" => {
                    if let Some((f, val)) = v.split_once('=')
                        && !f.is_empty()
                        && f.len() <= 64
                        && f.bytes().all(|b| b.is_ascii_alphanumeric())
                        && !val.is_empty()
                    {
                        p.filters.push((f.to_string(), val.to_string()));
                    }
                }
                "since" => p.since_days = v.parse().ok().filter(|d| DATE_RANGES.contains(d)),
                _ => {}
            }
        }
        p.filters.truncate(20);
        p
    }
}

pub fn target(config: &Config) -> GleanTarget {
    GleanTarget {
        base_url: config.glean.base_url.clone(),
        token: config.glean.token.clone(),
        datasource: config
            .glean
            .datasource
            .clone()
            .unwrap_or_else(|| config.name.clone()),
    }
}

fn request(p: &Params, datasource: &str, since: Option<u32>, page_size: usize) -> SearchRequest {
    let mut facet_filters: Vec<FacetFilter> = p
        .filters
        .iter()
        .map(|(f, v)| FacetFilter {
            field_name: f.clone(),
            values: vec![FacetFilterValue {
                value: v.clone(),
                relation_type: Some("EQUALS".into()),
            }],
        })
        .collect();
    if let Some(days) = since {
        let from = chrono::Utc::now().timestamp() - i64::from(days) * 86_400;
        facet_filters.push(FacetFilter {
            field_name: "createdAt".into(),
            values: vec![FacetFilterValue {
                value: from.to_string(),
                relation_type: Some("GT".into()),
            }],
        });
    }
    SearchRequest {
        query: p.query.clone(),
        page_size: Some(page_size),
        request_options: Some(SearchRequestOptions {
            datasource_filter: Some(datasource.to_string()),
            facet_filters,
        }),
    }
}

/// Why `email` may see `doc`, from the permissions the index holds.
pub fn access_of(doc: &DocumentDefinition, email: Option<&str>) -> Access {
    let Some(p) = &doc.permissions else {
        return Access::Nobody;
    };
    if p.allow_anonymous_access == Some(true) || p.allow_all_datasource_users_access == Some(true) {
        return Access::Public;
    }
    let users = p.allowed_users.as_deref().unwrap_or_default();
    if let Some(email) = email
        && users.iter().any(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    {
        return Access::OnUsersList;
    }
    let groups = p.allowed_groups.as_deref().unwrap_or_default();
    if users.is_empty() && groups.is_empty() {
        return Access::Nobody;
    }
    match (email, groups.first()) {
        (Some(_), Some(g)) => Access::ViaGroup(g.clone()),
        (None, _) => Access::OnUsersList,
        _ => Access::Unknown,
    }
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

fn list(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(text).collect(),
        Some(other) => text(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn doc_property<'a>(d: &'a DocumentDefinition, name: &str) -> Option<&'a serde_json::Value> {
    d.custom_properties
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| p.value.as_ref())
}

/// Builds the search page: as one user, optionally compared with a second, or the admin view.
pub fn build(service: &Service, p: Params) -> SearchPage {
    let tenants: Vec<String> = service
        .views()
        .into_iter()
        .filter(|v| v.state != "refused")
        .map(|v| v.name)
        .collect();
    let tenant = p
        .tenant
        .clone()
        .filter(|t| tenants.contains(t))
        .or_else(|| tenants.first().cloned())
        .unwrap_or_default();
    let mut page = SearchPage {
        tenants,
        tenant: tenant.clone(),
        people: None,
        user: p.user.clone(),
        other: p.other.clone(),
        query: p.query.clone(),
        filters: p.filters.clone(),
        since_days: p.since_days,
        results: Vec::new(),
        total: 0,
        facets: Vec::new(),
        date_counts: Vec::new(),
        comparison: None,
        error: None,
        facet_fields: Vec::new(),
        source: (String::new(), String::new()),
    };
    let Some(config) = service.tenant_config(&tenant) else {
        page.error = Some("There is no tenant with an accepted file to search.".into());
        return page;
    };
    // What the tenant's connector declares (asked once per component and settings): its
    // facets and its mark.
    let info = tenant_instance::setup::check(service.runtime(), &config).ok();
    page.facet_fields = facets_of(info.as_ref());
    // A filter on a property the connector does not offer as a facet filters nothing.
    let mut p = p;
    p.filters
        .retain(|(f, _)| page.facet_fields.iter().any(|(name, _)| name == f));
    page.filters = p.filters.clone();
    page.source = info.as_ref().map_or_else(
        || ("?".to_string(), "connector".to_string()),
        |i| (i.name.clone(), i.display_name.clone()),
    );
    if let Err(e) = fill(&mut page, &target(&config), &p) {
        page.error = Some(format!("{e:#}"));
    }
    page
}

fn fill(page: &mut SearchPage, glean: &GleanTarget, p: &Params) -> anyhow::Result<()> {
    page.people = glean
        .people()?
        .map(|people| people.into_iter().map(|x| (x.email, x.name)).collect());
    if p.user.is_empty() {
        return Ok(());
    }
    let documents = glean.documents()?;
    if p.user == ADMIN {
        let docs = documents.context(
            "the admin view needs a Glean that lists its documents (the mock does; real Glean has no such listing)",
        )?;
        return admin_view(page, &docs, p);
    }
    let response = glean.search(&p.user, &request(p, &glean.datasource, p.since_days, PAGE))?;
    page.total = response.total_count;
    let hidden = compare(page, glean, p, response.total_count)?;
    for r in &response.results {
        let view = result_view(r, documents.as_ref(), glean, p, hidden.as_ref());
        page.results.push(view);
    }
    page.facets = facet_views(&response, p, &page.facet_fields);
    for days in DATE_RANGES {
        let n = glean
            .search(&p.user, &request(p, &glean.datasource, Some(*days), 1))?
            .total_count;
        page.date_counts.push((*days, n));
    }
    Ok(())
}

/// With a second person to compare with: the counts for the page, and the ids they see.
fn compare(
    page: &mut SearchPage,
    glean: &GleanTarget,
    p: &Params,
    total: usize,
) -> anyhow::Result<Option<HashSet<String>>> {
    if p.other.is_empty() || p.other == p.user {
        return Ok(None);
    }
    let theirs = glean.search(&p.other, &request(p, &glean.datasource, p.since_days, 100))?;
    let visible: HashSet<String> = theirs
        .results
        .iter()
        .map(|r| r.document.id.clone())
        .collect();
    // Everything the first user can see (beyond this page too) for the counts.
    let mine = glean.search(&p.user, &request(p, &glean.datasource, p.since_days, 100))?;
    let only_mine = mine
        .results
        .iter()
        .filter(|r| !visible.contains(&r.document.id))
        .count();
    page.comparison = Some((total, theirs.total_count, only_mine));
    Ok(Some(visible))
}

/// One search result as the page shows it, with who may see it.
fn result_view(
    r: &glean_api::search::SearchResult,
    documents: Option<&BTreeMap<String, DocumentDefinition>>,
    glean: &GleanTarget,
    p: &Params,
    hidden: Option<&HashSet<String>>,
) -> ResultView {
    let m = &r.document.metadata;
    let cd = &m.custom_data;
    let access = match documents.and_then(|d| d.get(&r.document.id)) {
        Some(doc) => access_of(doc, Some(&p.user)),
        None => match glean.debug_document(&m.object_type, &r.document.id) {
            Ok(debug) => {
                let perms: Option<glean_api::DocumentPermissionsDefinition> =
                    serde_json::from_value(debug["uploadedPermissions"].clone()).ok();
                let doc = DocumentDefinition {
                    permissions: perms,
                    ..Default::default()
                };
                access_of(&doc, Some(&p.user))
            }
            Err(_) => Access::Unknown,
        },
    };
    ResultView {
        id: r.document.id.clone(),
        title: r.title.clone(),
        url: r.url.clone(),
        when: m.create_time.clone(),
        duration_minutes: cd.get("durationMinutes").and_then(text),
        organizer: m
            .author
            .as_ref()
            .and_then(|a| a.name.clone().or(a.email.clone()))
            .or_else(|| cd.get("organizer").and_then(text)),
        opportunity: cd.get("opportunity").and_then(text),
        account: cd.get("account").and_then(text),
        snippet: m
            .summary
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| r.snippets.first().map(|s| s.text.clone()))
            .map(|s| crate::render::snippet(&s, 300))
            .unwrap_or_default(),
        topics: list(cd.get("topic")),
        access,
        hidden_from_other: hidden.is_some_and(|v| !v.contains(&r.document.id)),
    }
}

/// The facets of a search answer, each value marked when its filter is on.
fn facet_views(
    response: &glean_api::search::SearchResponse,
    p: &Params,
    fields: &[(String, String)],
) -> Vec<FacetView> {
    fields
        .iter()
        .filter_map(|(field, label)| {
            let f = response
                .facet_results
                .iter()
                .find(|f| f.source_name == *field)?;
            Some(FacetView {
                field: field.to_string(),
                label: label.to_string(),
                buckets: f
                    .buckets
                    .iter()
                    .map(|b| {
                        let on = p.filters.iter().any(|(ff, v)| ff == field && v == &b.value);
                        (b.value.clone(), b.count, on)
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The admin view: every document matching the query and filters, with who may see it,
/// including the ones nobody may (failed closed).
fn admin_view(
    page: &mut SearchPage,
    docs: &BTreeMap<String, DocumentDefinition>,
    p: &Params,
) -> anyhow::Result<()> {
    let matched = admin_matches(docs, p);
    page.total = matched.len();
    page.facets = admin_facets(&matched, p, &page.facet_fields);
    let now = chrono::Utc::now().timestamp();
    page.date_counts = DATE_RANGES
        .iter()
        .map(|d| {
            let from = now - i64::from(*d) * 86_400;
            (
                *d,
                matched
                    .iter()
                    .filter(|x| x.created_at.is_some_and(|c| c > from))
                    .count(),
            )
        })
        .collect();
    let mut sorted = matched;
    // Failed-closed documents first: they are what an admin looks for here.
    sorted.sort_by_key(|d| {
        (
            access_of(d, None) != Access::Nobody,
            std::cmp::Reverse(d.created_at),
        )
    });
    for d in sorted.into_iter().take(PAGE) {
        page.results.push(admin_result(d));
    }
    Ok(())
}

/// The documents matching the query's terms, the filters and the date range.
fn admin_matches<'a>(
    docs: &'a BTreeMap<String, DocumentDefinition>,
    p: &Params,
) -> Vec<&'a DocumentDefinition> {
    let terms: Vec<String> = p.query.split_whitespace().map(str::to_lowercase).collect();
    let since = p
        .since_days
        .map(|d| chrono::Utc::now().timestamp() - i64::from(d) * 86_400);
    docs.values()
        .filter(|d| {
            let hay = format!(
                "{} {} {}",
                d.title.as_deref().unwrap_or_default(),
                d.summary
                    .as_ref()
                    .and_then(|c| c.text_content.as_deref())
                    .unwrap_or_default(),
                d.body
                    .as_ref()
                    .and_then(|c| c.text_content.as_deref())
                    .unwrap_or_default()
            )
            .to_lowercase();
            terms.iter().all(|t| hay.contains(t))
        })
        .filter(|d| {
            p.filters.iter().all(|(f, v)| {
                list(doc_property(d, f))
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(v))
            })
        })
        .filter(|d| since.is_none_or(|s| d.created_at.is_some_and(|c| c > s)))
        .collect()
}

/// Facet counts over the matched documents, the 20 largest values of each.
fn admin_facets(
    matched: &[&DocumentDefinition],
    p: &Params,
    fields: &[(String, String)],
) -> Vec<FacetView> {
    let mut facet_counts: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for d in matched {
        for (field, _) in fields {
            let mut values = list(doc_property(d, field));
            values.sort();
            values.dedup();
            for v in values {
                *facet_counts.entry(field).or_default().entry(v).or_default() += 1;
            }
        }
    }
    fields
        .iter()
        .filter_map(|(field, label)| {
            let counts = facet_counts.get(field.as_str())?;
            let mut buckets: Vec<(String, usize, bool)> = counts
                .iter()
                .map(|(v, n)| {
                    let on = p.filters.iter().any(|(ff, vv)| ff == field && vv == v);
                    (v.clone(), *n, on)
                })
                .collect();
            buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            buckets.truncate(20);
            Some(FacetView {
                field: field.to_string(),
                label: label.to_string(),
                buckets,
            })
        })
        .collect()
}

/// One document of the admin view as a result, with who may see it.
fn admin_result(d: &DocumentDefinition) -> ResultView {
    ResultView {
        id: d.id.clone().unwrap_or_default(),
        title: d.title.clone().unwrap_or_default(),
        url: d.view_url.clone().unwrap_or_default(),
        when: d
            .created_at
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339()),
        duration_minutes: doc_property(d, "durationMinutes").and_then(text),
        organizer: d
            .author
            .as_ref()
            .and_then(|a| a.name.clone().or(a.email.clone())),
        opportunity: doc_property(d, "opportunity").and_then(text),
        account: doc_property(d, "account").and_then(text),
        snippet: d
            .summary
            .as_ref()
            .and_then(|c| c.text_content.clone())
            .map(|s| crate::render::snippet(&s, 300))
            .unwrap_or_default(),
        topics: list(doc_property(d, "topic")),
        access: access_of(d, None),
        hidden_from_other: false,
    }
}

/// What the tenant's state says: documents, held deletions, item failures.
pub struct StateFacts {
    pub documents: u64,
    pub held: Vec<String>,
    pub failures: Vec<(String, String, i64)>,
}

/// What the tenant page shows of a tenant's state (`Service::read_state`).
pub fn state_facts(store: anyhow::Result<Box<dyn StateStore>>) -> anyhow::Result<StateFacts> {
    let store = store?;
    let (_, failures) = store.failures(50)?;
    Ok(StateFacts {
        documents: store.document_count()?,
        held: store.held_deletions()?,
        failures: failures
            .into_iter()
            .map(|(id, f)| (id, f.message, f.at))
            .collect(),
    })
}

/// A document as search shows it: title, fields, body paragraphs, and who may see it, people
/// by the names `people` gives (the email otherwise).
fn document_view(doc: &DocumentDefinition, people: &[super::glean::Person]) -> DocumentView {
    let name_of = |email: &str| {
        people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email))
            .map(|p| p.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.to_string())
    };
    let mut fields = Vec::new();
    if let Some(t) = doc.created_at {
        fields.push(("When".to_string(), super::format::utc(t)));
    }
    if let Some(a) = &doc.author {
        let who = match (&a.name, &a.email) {
            (Some(n), _) if !n.is_empty() => n.clone(),
            (_, Some(e)) => name_of(e),
            _ => String::new(),
        };
        fields.push(("Organizer".to_string(), who));
    }
    for prop in doc.custom_properties.iter().flatten() {
        if let (Some(n), Some(v)) = (&prop.name, &prop.value) {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.push((n.clone(), value));
        }
    }
    let body = doc
        .body
        .as_ref()
        .and_then(|b| b.text_content.clone())
        .unwrap_or_default();
    let paragraphs = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(MAX_PARAGRAPHS)
        .map(String::from)
        .collect();
    let perms = doc.permissions.as_ref();
    DocumentView {
        title: doc.title.clone().filter(|t| !t.trim().is_empty()),
        fields,
        paragraphs,
        people: perms
            .and_then(|p| p.allowed_users.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|u| u.email.clone())
            .map(|e| (name_of(&e), e))
            .collect(),
        groups: perms
            .and_then(|p| p.allowed_groups.clone())
            .unwrap_or_default(),
        everyone: perms.is_some_and(|p| p.allow_all_datasource_users_access == Some(true)),
    }
}

/// A call's page; with `fetch`, its fields fetched from the source now through the sandbox.
pub fn call_page(
    runtime: &std::sync::Arc<wasm_runtime::Runtime>,
    config: &Config,
    tenant: &str,
    id: &str,
    state: anyhow::Result<Box<dyn StateStore>>,
    fetch: Option<Result<RunOptions, String>>,
) -> anyhow::Result<CallPage> {
    let glean = target(config);
    let mut page = CallPage {
        tenant: tenant.to_string(),
        id: id.to_string(),
        view: Default::default(),
        document: None,
        permissions: None,
        access: None,
        indexed_at: None,
        fingerprint: None,
        why_fetched: "not fetched yet".into(),
        failure: None,
        source: None,
        error: None,
    };
    let object_type = fill_from_index(&mut page, &glean, id);
    if page.permissions.is_none()
        && let Ok(debug) = glean.debug_document(&object_type, id)
    {
        page.permissions = serde_json::to_string_pretty(&debug["uploadedPermissions"]).ok();
    }
    match state {
        Ok(store) => fill_from_state(&mut page, store.as_ref(), config, id)?,
        Err(e) => page.why_fetched = format!("{e:#}"),
    }
    if let Some(run) = fetch {
        page.source = Some(run.and_then(|run| fetch_source(runtime, config, id, run)));
    }
    Ok(page)
}

/// What the index holds for `id`: its view, document, permissions and who may see it.
/// Returns its object type (`call` when the index does not have it).
fn fill_from_index(page: &mut CallPage, glean: &GleanTarget, id: &str) -> String {
    let mut object_type = "call".to_string();
    match glean.documents() {
        Ok(Some(docs)) => {
            if let Some(doc) = docs.get(id) {
                object_type = doc.object_type.clone().unwrap_or(object_type);
                page.access = Some(access_of(doc, None));
                let names = glean.people().ok().flatten().unwrap_or_default();
                page.view = document_view(doc, &names);
                page.permissions = doc
                    .permissions
                    .as_ref()
                    .and_then(|p| serde_json::to_string_pretty(p).ok());
                let mut shown = doc.clone();
                shown.permissions = None;
                page.document = serde_json::to_string_pretty(&shown).ok();
            }
        }
        Ok(None) => {}
        Err(e) => page.error = Some(format!("{e:#}")),
    }
    object_type
}

/// What the tenant's state says of `id`: when it was indexed and why, when its next deep
/// refresh comes, and its last failure.
fn fill_from_state(
    page: &mut CallPage,
    store: &dyn StateStore,
    config: &Config,
    id: &str,
) -> anyhow::Result<()> {
    if let Some(d) = store.document(id)? {
        page.indexed_at = Some(d.indexed_at);
        page.fingerprint = d.fingerprint.clone();
        let every = config.crawl.deep_refresh_every.max(1);
        let turn = crawl_engine::stages::stable_hash(id) % every;
        let done = store.meta().full_crawls;
        let next = (0..every)
            .map(|k| done.saturating_add(k))
            .find(|n| n % every == turn)
            .unwrap_or(done);
        let because = d.fetched_because.clone().unwrap_or_else(|| {
            "not recorded (indexed by a harness that did not keep the reason)".into()
        });
        page.why_fetched = format!(
            "{because}. Its next deep refresh is full crawl #{} (full crawls done: {done}; each call is re-fetched every {every} full crawls whatever its listing says)",
            next.saturating_add(1)
        );
    }
    let (_, failures) = store.failures(10_000)?;
    page.failure = failures
        .into_iter()
        .find(|(fid, _)| fid == id)
        .map(|(_, f)| (f.kind, f.message, f.at));
    Ok(())
}

/// The item and permissions the connector returns for `id` right now, secrets redacted. It
/// waits on the tenant's rate limiters and spends its budget (`run`: the tenant's instance,
/// and with replicas its state under the lease), as its crawls do.
fn fetch_source(
    runtime: &std::sync::Arc<wasm_runtime::Runtime>,
    config: &Config,
    id: &str,
    run: RunOptions,
) -> Result<String, String> {
    let prepared =
        tenant_instance::setup::prepare_with(runtime, config, run).map_err(|e| format!("{e:#}"))?;
    let redactor = egress::secrets::Redactor::new();
    for u in config.upstreams.values() {
        for (_, s) in &u.credentials {
            redactor.register(s);
        }
        for s in &u.scrub_only {
            redactor.register(s);
        }
    }
    redactor.register(&config.glean.token);
    let out = prepared
        .connector
        .fetch_with_permissions(id, crawl_engine::types::Visibility::Unknown)
        .map_err(|e| redactor.redact(&format!("the connector could not fetch it: {e}")))?;
    let json = serde_json::json!({"item": out.0, "permissions": out.1});
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    Ok(redactor.redact(&text))
}
