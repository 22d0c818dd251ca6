//! What changed between the pinned component's documents and the candidate's: ACL changes
//! first (a document that becomes visible to more people is the worst change), documents added
//! and removed, every field changed with counts and an example, and what the components
//! declare (contract, version, upstreams, properties).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::side::Side;

/// Ids listed in the report, at most (the counts are whole).
const MAX_IDS: usize = 20;
const MAX_EXAMPLE: usize = 160;

#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct CanaryDiff {
    /// Documents whose permissions changed, widened ones first.
    pub acl: Vec<AclChange>,
    pub acl_changed: usize,
    pub acl_widened: usize,
    pub added: Vec<String>,
    pub added_count: usize,
    pub removed: Vec<String>,
    pub removed_count: usize,
    /// Documents in both outputs.
    pub compared: usize,
    /// Compared documents with a field that changed or disappeared (added fields aside).
    pub changed_documents: usize,
    /// By field (`title`, `body`, `customProperties.topic`, ...).
    pub fields: BTreeMap<String, FieldChange>,
    /// Changes in what the component declares, one sentence each.
    pub declaration: Vec<String>,
    /// Upstream names the candidate declares that the pinned one does not.
    pub new_upstreams: Vec<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct AclChange {
    pub id: String,
    pub before: String,
    pub after: String,
    pub widened: bool,
}

#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub example: Option<String>,
}

/// Who a document's permissions let in.
#[derive(Debug, PartialEq, Eq)]
enum Audience {
    Everyone,
    Users(BTreeSet<String>),
    Nobody,
}

fn audience(doc: &Value) -> Audience {
    let p = &doc["permissions"];
    if p["allowAnonymousAccess"] == true || p["allowAllDatasourceUsersAccess"] == true {
        return Audience::Everyone;
    }
    let users: BTreeSet<String> = p["allowedUsers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["email"].as_str())
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    if users.is_empty() {
        Audience::Nobody
    } else {
        Audience::Users(users)
    }
}

fn describe(a: &Audience) -> String {
    match a {
        Audience::Everyone => "every user of the datasource".into(),
        Audience::Nobody => "nobody".into(),
        Audience::Users(u) => {
            let names: Vec<&str> = u.iter().map(String::as_str).take(5).collect();
            let more = u.len().saturating_sub(names.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("{}{tail}", names.join(", "))
        }
    }
}

/// Whether `after` lets in anyone `before` kept out.
fn widens(before: &Audience, after: &Audience) -> bool {
    match (before, after) {
        (Audience::Everyone, _) | (_, Audience::Nobody) => false,
        (_, Audience::Everyone) => true,
        (Audience::Nobody, Audience::Users(_)) => true,
        (Audience::Users(b), Audience::Users(a)) => !a.is_subset(b),
    }
}

pub fn compare(pinned: &Side, candidate: &Side) -> CanaryDiff {
    let mut d = CanaryDiff::default();
    let (p, c) = (&pinned.documents, &candidate.documents);
    let added: Vec<String> = c.keys().filter(|k| !p.contains_key(*k)).cloned().collect();
    let removed: Vec<String> = p.keys().filter(|k| !c.contains_key(*k)).cloned().collect();
    (d.added_count, d.removed_count) = (added.len(), removed.len());
    d.added = added.into_iter().take(MAX_IDS).collect();
    d.removed = removed.into_iter().take(MAX_IDS).collect();
    for (id, before) in p {
        let Some(after) = c.get(id) else { continue };
        d.compared += 1;
        compare_acl(&mut d, id, before, after);
        if compare_fields(&mut d.fields, id, before, after) {
            d.changed_documents += 1;
        }
    }
    d.acl.sort_by_key(|a| !a.widened);
    d.acl_changed = d.acl.len();
    d.acl_widened = d.acl.iter().filter(|a| a.widened).count();
    d.acl.truncate(MAX_IDS);
    compare_declarations(&mut d, pinned, candidate);
    d
}

fn compare_acl(d: &mut CanaryDiff, id: &str, before: &Value, after: &Value) {
    let (b, a) = (audience(before), audience(after));
    if b != a {
        d.acl.push(AclChange {
            id: id.to_string(),
            before: describe(&b),
            after: describe(&a),
            widened: widens(&b, &a),
        });
    }
}

/// A document's fields other than its permissions, custom properties by name.
fn fields(doc: &Value) -> BTreeMap<String, &Value> {
    let mut out = BTreeMap::new();
    for (k, v) in doc.as_object().into_iter().flatten() {
        match k.as_str() {
            "permissions" => {}
            "customProperties" => {
                for p in v.as_array().into_iter().flatten() {
                    if let Some(name) = p["name"].as_str() {
                        out.insert(format!("customProperties.{name}"), &p["value"]);
                    }
                }
            }
            _ => {
                out.insert(k.clone(), v);
            }
        }
    }
    out
}

/// Counts each field's change; whether an existing field changed or disappeared.
fn compare_fields(
    out: &mut BTreeMap<String, FieldChange>,
    id: &str,
    before: &Value,
    after: &Value,
) -> bool {
    let (b, a) = (fields(before), fields(after));
    let mut changed_existing = false;
    for name in b.keys().chain(a.keys()).collect::<BTreeSet<_>>() {
        let entry = || FieldChange::default();
        match (b.get(name), a.get(name)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                let f = out.entry(name.clone()).or_insert_with(entry);
                f.changed += 1;
                f.example.get_or_insert_with(|| example(id, x, y));
                changed_existing = true;
            }
            (Some(_), None) => {
                out.entry(name.clone()).or_insert_with(entry).removed += 1;
                changed_existing = true;
            }
            (None, Some(y)) => {
                let f = out.entry(name.clone()).or_insert_with(entry);
                f.added += 1;
                f.example.get_or_insert_with(|| format!("{id}: {}", cut(y)));
            }
            (None, None) => {}
        }
    }
    changed_existing
}

fn cut(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_EXAMPLE {
        return s;
    }
    let head: String = s.chars().take(MAX_EXAMPLE).collect();
    format!("{head}…")
}

fn example(id: &str, before: &Value, after: &Value) -> String {
    format!("{id}: {} → {}", cut(before), cut(after))
}

fn compare_declarations(d: &mut CanaryDiff, pinned: &Side, candidate: &Side) {
    let (p, c) = (&pinned.info, &candidate.info);
    let (pc, cc) = (&pinned.summary.contract, &candidate.summary.contract);
    if pc != cc {
        d.declaration.push(format!("contract {pc} → {cc}"));
    }
    if p.version != c.version {
        d.declaration
            .push(format!("version {} → {}", p.version, c.version));
    }
    if p.name != c.name {
        d.declaration.push(format!(
            "name `{}` → `{}` (another datasource)",
            p.name, c.name
        ));
    }
    for u in &c.upstreams {
        match p.upstreams.iter().find(|x| x.name == u.name) {
            None => {
                d.new_upstreams.push(u.name.clone());
                d.declaration.push(format!(
                    "new upstream `{}` ({})",
                    u.name, u.default_base_url
                ));
            }
            Some(old) if old.default_base_url != u.default_base_url => d.declaration.push(format!(
                "upstream `{}` default {} → {}",
                u.name, old.default_base_url, u.default_base_url
            )),
            Some(_) => {}
        }
    }
    let props = |i: &crawl_engine::types::ConnectorInfo| -> BTreeSet<String> {
        i.object_types
            .iter()
            .flat_map(|t| {
                t.properties
                    .iter()
                    .map(move |p| format!("{}.{}", t.name, p.name))
            })
            .collect()
    };
    let (pp, cp) = (props(p), props(c));
    for added in cp.difference(&pp) {
        d.declaration.push(format!("new property `{added}`"));
    }
    for gone in pp.difference(&cp) {
        d.declaration
            .push(format!("property `{gone}` no longer declared"));
    }
}
