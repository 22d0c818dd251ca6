//! A `/call-details` call to the contract's `item`: title, deep link, dates, author,
//! container, tags, searchable properties, summary, body (see [`crate::body`]) and access
//! facts.

use connector_sdk::{AccessFacts, Error, Item, Person, Property, PropertyValue, Visibility, log};
use serde_json::Value;

use crate::body;
use crate::client;
use crate::people::People;
use crate::time;
use crate::vocab;
use crate::wire::{self, Call};

/// The object type every item has.
pub const OBJECT_TYPE: &str = "call";
/// The deep-link prefix every item URL starts with (see the url-pattern in `describe`).
pub const URL_PREFIX: &str = "https://copilot.clari.com/call/";

/// Maps the raw `call` object fetched for `id`. A call that cannot be mapped is a `system`
/// error naming the call and the field.
pub fn to_item(id: &str, visibility: Visibility, raw: &Value) -> Result<Item, Error> {
    let call = wire::call_from_value(raw)
        .ok_or_else(|| Error::system(format!("call {id}: field `call` is not an object")))?;
    if let Some(other) = call.id.as_deref()
        && other != id
    {
        return Err(Error::system(format!(
            "call {id}: field `id`: Clari answered call {other} instead"
        )));
    }
    let created_at = match call.time.as_deref() {
        None => None,
        Some(raw) => Some(time::parse_ms(raw).ok_or_else(|| {
            Error::system(format!(
                "call {id}: field `time` is not a date-time ({raw})"
            ))
        })?),
    };
    let updated_at = call.last_modified_time.as_deref().and_then(|raw| {
        let parsed = time::parse_ms(raw);
        if parsed.is_none() {
            log::warn(&format!(
                "call {id}: field `last_modified_time` is not a date-time ({raw}); left out"
            ));
        }
        parsed
    });
    let people = People::of(&call);
    let title = text(&call.title).unwrap_or("Untitled call").to_string();
    let url = match text(&call.call_review_page_url) {
        Some(u) if u.starts_with(URL_PREFIX) => u.to_string(),
        _ => client::call_url(id),
    };
    let author = people.organizer().map(|o| Person {
        email: o.email,
        name: o.name,
    });
    let topics = topics(&call);
    let summary = call
        .summary
        .as_ref()
        .and_then(|s| text(&s.full_summary))
        .map(str::to_string);
    Ok(Item {
        id: id.to_string(),
        object_type: OBJECT_TYPE.to_string(),
        body: body::render(&call, &title),
        title,
        url,
        summary,
        author,
        created_at: created_at.map(|ms| ms.div_euclid(1000)),
        updated_at: updated_at.map(|ms| ms.div_euclid(1000)),
        container: text(&call.account_name).map(str::to_string),
        properties: properties(&call, &people, created_at, &topics),
        tags: topics,
        access: AccessFacts {
            visibility,
            members: people.members(),
        },
    })
}

fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Adds `value` unless already present (case-insensitively).
fn push_unique(out: &mut Vec<String>, value: &str) {
    let v = value.trim();
    if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
        out.push(v.to_string());
    }
}

/// The call's topics: those the AI summary discussed, then the tracker categories hit.
fn topics(call: &Call) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &call.summary {
        for t in &s.topics_discussed {
            if let Some(n) = text(&t.name) {
                push_unique(&mut out, n);
            }
        }
    }
    if let Some(m) = &call.metrics {
        for c in &m.categories {
            if c.occurences != Some(0)
                && let Some(n) = text(&c.name)
            {
                push_unique(&mut out, n);
            }
        }
    }
    out
}

fn prop(name: &str, value: PropertyValue) -> Property {
    Property {
        name: name.to_string(),
        value,
    }
}

/// The searchable properties; empty values are left out.
fn properties(
    call: &Call,
    people: &People,
    created_ms: Option<i64>,
    topics: &[String],
) -> Vec<Property> {
    let mut out = Vec::new();
    let participants = people.facet_values();
    if !participants.is_empty() {
        out.push(prop("participant", PropertyValue::TextList(participants)));
    }
    if let Some(email) = people.organizer().and_then(|o| o.email) {
        out.push(prop("organizer", PropertyValue::Text(email)));
    }
    if let Some(a) = text(&call.account_name) {
        out.push(prop("account", PropertyValue::Text(a.to_string())));
    }
    if let Some(o) = text(&call.deal_name) {
        out.push(prop("opportunity", PropertyValue::Text(o.to_string())));
    }
    if !topics.is_empty() {
        out.push(prop("topic", PropertyValue::TextList(topics.to_vec())));
    }
    if let Some(ms) = created_ms {
        out.push(prop("callDate", PropertyValue::Date(ms.div_euclid(1000))));
    }
    if let Some(t) = text(&call.call_type) {
        out.push(prop("callType", PropertyValue::Text(vocab::call_type(t))));
    }
    if let Some(secs) = call.metrics.as_ref().and_then(|m| m.call_duration)
        && secs >= 0
    {
        out.push(prop(
            "durationMinutes",
            PropertyValue::Integer(secs.saturating_add(30) / 60),
        ));
    }
    if let Some(stage) = text(&call.deal_stage_live).or(text(&call.deal_stage_before_call)) {
        out.push(prop("dealStage", PropertyValue::Text(stage.to_string())));
    }
    let mut competitors = Vec::new();
    for c in &call.competitor_sentiments {
        if let Some(n) = text(&c.competitor_name) {
            push_unique(&mut competitors, n);
        }
    }
    if !competitors.is_empty() {
        out.push(prop("competitor", PropertyValue::TextList(competitors)));
    }
    if let Some(d) = text(&call.disposition) {
        out.push(prop(
            "disposition",
            PropertyValue::Text(vocab::disposition(d)),
        ));
    }
    if let Some(s) = call.crm_info.as_ref().and_then(|i| text(&i.source_crm)) {
        out.push(prop("crmSource", PropertyValue::Text(s.to_string())));
    }
    out
}
