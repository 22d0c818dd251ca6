//! An extensive call and its transcript as the contract's [`Item`]: title, deep link, body
//! ([`crate::body`]), summary, author, times, container (the CRM account), tags (topics), the
//! declared properties and the access facts ([`crate::access`]).

use connector_sdk::{Item, PropertyValue};

use crate::access;
use crate::body::{self, Parts};
use crate::config::NonPrivateCalls;
use crate::crm::{self, Crm};
use crate::links;
use crate::people;
use crate::wire::{CallBasic, CallData, Content, Monologue, Party};

/// The object type every item has.
pub const OBJECT_TYPE: &str = "call";

/// The title of a call without one (dialer calls often have none).
pub const UNTITLED: &str = "Untitled Gong call";

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The item for call `id`.
pub fn to_item(id: &str, call: &CallData, transcript: &[Monologue], rule: NonPrivateCalls) -> Item {
    let fallback = CallBasic::default();
    let meta = call.meta_data.as_ref().unwrap_or(&fallback);
    let content = call.content.as_ref();
    let crm = crm::read(&call.context);
    let title = clean(meta.title.as_deref()).unwrap_or(UNTITLED);
    let text = body::render(&Parts {
        meta,
        parties: &call.parties,
        crm: &crm,
        content,
        transcript,
    });
    let mut item = Item::new(
        id,
        OBJECT_TYPE,
        title,
        links::call_url(meta.url.as_deref(), id),
    )
    .body(text)
    .access(access::facts(meta, &call.parties, rule));
    if let Some(summary) = summary(content) {
        item = item.summary(summary);
    }
    if let Some(author) = people::author(meta, &call.parties) {
        item = item.author(author);
    }
    if let Some(ms) = meta.started_ms() {
        item = item.created_at_ms(ms).updated_at_ms(ms);
    }
    if let Some(account) = &crm.account {
        item = item.container(account.clone());
    }
    for topic in topic_names(content) {
        item = item.tag(topic);
    }
    properties(item, meta, &call.parties, &crm, content)
}

/// The brief, else the first key point.
fn summary(content: Option<&Content>) -> Option<String> {
    let c = content?;
    clean(c.brief.as_deref())
        .or_else(|| c.key_points.iter().find_map(|k| clean(k.text.as_deref())))
        .map(str::to_string)
}

fn topic_names(content: Option<&Content>) -> Vec<String> {
    let topics = content.into_iter().flat_map(|c| c.topics.iter());
    unique(topics.filter_map(|t| clean(t.name.as_deref())))
}

fn tracker_names(content: Option<&Content>) -> Vec<String> {
    let trackers = content.into_iter().flat_map(|c| c.trackers.iter());
    unique(trackers.filter_map(|t| clean(t.name.as_deref())))
}

/// The names, without repeats, in order.
fn unique<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.iter().any(|known| known == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The declared properties the call has a value for.
fn properties(
    mut item: Item,
    meta: &CallBasic,
    parties: &[Party],
    crm: &Crm,
    content: Option<&Content>,
) -> Item {
    let outcome = content
        .and_then(|c| c.call_outcome.as_ref())
        .and_then(|o| clean(o.name.as_deref()));
    let texts = [
        ("account", crm.account.as_deref()),
        ("opportunity", crm.opportunity.as_deref()),
        ("direction", clean(meta.direction.as_deref())),
        ("system", clean(meta.system.as_deref())),
        ("language", clean(meta.language.as_deref())),
        ("scope", clean(meta.scope.as_deref())),
        ("purpose", clean(meta.purpose.as_deref())),
        ("outcome", outcome),
    ];
    for (name, value) in texts {
        if let Some(v) = value {
            item = item.property(name, PropertyValue::Text(v.to_string()));
        }
    }
    let lists = [
        ("participants", people::participant_names(parties)),
        ("topics", topic_names(content)),
        ("trackers", tracker_names(content)),
    ];
    for (name, values) in lists {
        if !values.is_empty() {
            item = item.property(name, PropertyValue::TextList(values));
        }
    }
    if let Some(min) = body::minutes(meta.duration) {
        item = item.property("durationMinutes", PropertyValue::Integer(min));
    }
    if let Some(ms) = meta.started_ms() {
        item = item.property("callDate", PropertyValue::date_ms(ms));
    }
    item
}
