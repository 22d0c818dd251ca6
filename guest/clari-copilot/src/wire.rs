//! Clari Copilot's JSON, parsed tolerantly. Every field is optional; `null`, a missing key
//! and a value of the wrong JSON type all read as absent; numbers sent as strings and
//! strings sent as numbers are converted; a list that holds a malformed element keeps the
//! others. Enumerations stay open strings here: their meaning is decided where they are used.
//!
//! Reading any JSON object into these types cannot fail (except for an object that holds a
//! field under two of its names, such as `occurences` and `occurrences`), so one odd field
//! never costs a whole call. The few fields a call cannot do without are checked by the callers
//! (`listing`, `mapping`), which report the call id and the field.
//!
//! The types are read straight from a [`Value`] by small hand-written readers (the
//! `tolerant!` macro), not by `serde`'s derive: the derived visitors were instantiated once
//! per type and deserializer and made up a large part of the component. Their `Deserialize`
//! impls (for tests and other callers) go through [`Value`] and the same readers.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A type read tolerantly from a JSON object.
pub trait FromObject: Sized {
    /// Reads the fields of `map`; fails (naming the field) only when a field appears under
    /// two of its names.
    fn from_map(map: &Map<String, Value>) -> Result<Self, &'static str>;
}

/// The value of the field named by one of `keys` (its name and aliases): `Ok(None)` when
/// absent, `Err(name)` when the object holds it under more than one of them (as serde's
/// derive, which reports a duplicate field).
fn field<'a>(
    map: &'a Map<String, Value>,
    keys: &[&'static str],
) -> Result<Option<&'a Value>, &'static str> {
    let mut found = None;
    for key in keys {
        if let Some(v) = map.get(*key) {
            if found.is_some() {
                return Err(keys[0]);
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// Declares a tolerant wire type: the struct, its [`FromObject`] reader (each field read by a
/// reader function from the value under its JSON name or aliases; absent fields read as
/// absent) and a `Deserialize` impl that accepts any JSON object.
macro_rules! tolerant {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty = $read:ident($($key:literal)|+),
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl FromObject for $name {
            fn from_map(map: &Map<String, Value>) -> Result<Self, &'static str> {
                Ok($name {
                    $( $field: $read(field(map, &[$($key),+])?), )*
                })
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                match Value::deserialize(d)? {
                    Value::Object(map) => {
                        <$name as FromObject>::from_map(&map).map_err(D::Error::duplicate_field)
                    }
                    _ => Err(D::Error::custom(concat!(
                        "invalid type: expected a JSON object for ",
                        stringify!($name)
                    ))),
                }
            }
        }
    };
}

tolerant! {
    /// One call, as `/calls` lists it and as `/call-details` answers it (the details add
    /// `deal_stage_live`, `transcript`, `summary` and `competitor_sentiments`).
    pub struct Call {
        pub id: Option<String> = text("id"),
        pub title: Option<String> = text("title"),
        /// Internal Copilot users. `None` when the key is absent (or not a list): the source did
        /// not say who was on the call.
        pub users: Option<Vec<CallUser>> = opt_list("users"),
        pub external_participants: Vec<Participant> = list("externalParticipants"),
        pub joined_participants: Vec<Participant> = list("joinedParticipants"),
        pub status: Option<String> = text("status"),
        pub call_type: Option<String> = text("type"),
        pub time: Option<String> = text("time"),
        pub last_modified_time: Option<String> = text("last_modified_time"),
        pub disposition: Option<String> = text("disposition"),
        pub deal_name: Option<String> = text("deal_name"),
        pub deal_value: Option<String> = text("deal_value"),
        pub deal_close_date: Option<String> = text("deal_close_date"),
        pub deal_stage_before_call: Option<String> = text("deal_stage_before_call"),
        pub deal_stage_live: Option<String> = text("deal_stage_live"),
        pub account_name: Option<String> = text("account_name"),
        pub contact_names: Vec<String> = texts("contact_names"),
        pub crm_info: Option<CrmInfo> = object("crm_info"),
        pub bookmark_timestamps: Vec<String> = texts("bookmark_timestamps"),
        pub metrics: Option<Metrics> = object("metrics"),
        pub call_review_page_url: Option<String> = text("call_review_page_url"),
        pub transcript: Vec<Turn> = list("transcript"),
        pub summary: Option<Summary> = object("summary"),
        pub competitor_sentiments: Vec<CompetitorSentiment> = list("competitor_sentiments"),
    }
}

tolerant! {
    /// An internal user on a call (`users[]`). Clari sends no name here.
    pub struct CallUser {
        pub user_id: Option<String> = text("userId"),
        pub user_email: Option<String> = text("userEmail"),
        pub is_organizer: Option<bool> = boolean("isOrganizer"),
        pub person_id: Option<i64> = integer("personId"),
    }
}

tolerant! {
    /// An external (invited) or joined participant.
    pub struct Participant {
        pub name: Option<String> = text("name"),
        pub email: Option<String> = text("email"),
        pub phone: Option<String> = text("phone"),
        pub person_id: Option<i64> = integer("personId"),
    }
}

tolerant! {
    pub struct CrmInfo {
        pub source_crm: Option<String> = text("source_crm"),
        pub deal_id: Option<String> = text("deal_id"),
        pub account_id: Option<String> = text("account_id"),
        pub contact_ids: Vec<String> = texts("contact_ids"),
    }
}

tolerant! {
    pub struct Metrics {
        /// Seconds; the only duration Clari gives.
        pub call_duration: Option<i64> = integer("call_duration"),
        pub categories: Vec<Category> = list("categories"),
    }
}

tolerant! {
    /// A keyword tracker category with its hits.
    pub struct Category {
        pub name: Option<String> = text("name"),
        /// Clari spells it `occurences`.
        pub occurences: Option<i64> = integer("occurences" | "occurrences"),
    }
}

tolerant! {
    /// One transcript turn.
    pub struct Turn {
        pub text: Option<String> = text("text"),
        pub start: Option<f64> = number("start"),
        pub end: Option<f64> = number("end"),
        pub person_id: Option<i64> = integer("personId"),
        pub annotations: Vec<Annotation> = annotations("annotations"),
    }
}

/// A transcript annotation: a keyword tracker hit or an AI label (the spec's `anyOf`).
#[derive(Debug, Clone, PartialEq)]
pub enum Annotation {
    Tracker {
        tracker: String,
        phrase: Option<String>,
        category: Option<String>,
    },
    Label {
        label: String,
        phrase: Option<String>,
    },
}

tolerant! {
    pub struct Summary {
        pub full_summary: Option<String> = text("full_summary"),
        pub topics_discussed: Vec<TopicDiscussed> = list("topics_discussed"),
        pub key_action_items: Vec<ActionItem> = list("key_action_items"),
        /// Not in the spec; two clients read it. Used when present.
        pub key_takeaways: Vec<String> = texts_or_text("key_takeaways"),
    }
}

tolerant! {
    pub struct TopicDiscussed {
        pub name: Option<String> = text("name"),
        pub start_timestamp: Option<f64> = number("start_timestamp"),
        pub end_timestamp: Option<f64> = number("end_timestamp"),
        pub summary: Option<String> = text("summary"),
    }
}

tolerant! {
    pub struct ActionItem {
        pub action_item: Option<String> = text("action_item"),
        pub speaker_name: Option<String> = text("speaker_name"),
        pub start_timestamp: Option<f64> = number("start_timestamp"),
        pub end_timestamp: Option<f64> = number("end_timestamp"),
    }
}

tolerant! {
    pub struct CompetitorSentiment {
        pub competitor_name: Option<String> = text("competitor_name"),
        pub sentiment: Option<String> = text("sentiment"),
        pub reasoning: Option<String> = text("reasoning"),
        pub person_id: Option<i64> = integer("personId"),
        pub turn_start_time: Option<f64> = number("turn_start_time"),
    }
}

tolerant! {
    /// `pagination` of a `/calls` answer.
    pub struct Pagination {
        pub matched: Option<u64> = unsigned("matched"),
        pub has_more: Option<bool> = boolean("hasMore"),
        pub next_page_skip: Option<u64> = unsigned("nextPageSkip"),
    }
}

tolerant! {
    /// One entry of `/users`.
    pub struct DirectoryUser {
        pub id: Option<String> = text("id"),
        pub email: Option<String> = text("email"),
        pub name: Option<String> = text("name"),
        pub role: Option<String> = text("role"),
    }
}

/// The id of a raw call object: a non-empty string (or a number, as text).
pub fn call_id(raw: &Value) -> Option<String> {
    value_text(raw.get("id")?)
}

/// Reads a raw call object. Never fails for an object; `None` for anything else.
pub fn call_from_value(raw: &Value) -> Option<Call> {
    from_object(raw)
}

/// Reads any tolerant type from a raw value; `None` unless it is an object.
pub fn from_object<T: FromObject>(raw: &Value) -> Option<T> {
    match raw {
        Value::Object(map) => T::from_map(map).ok(),
        _ => None,
    }
}

// ---- tolerant field readers -------------------------------------------------------------

/// A non-empty, trimmed-for-emptiness string; numbers and booleans as their text.
fn value_text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    if s.trim().is_empty() { None } else { Some(s) }
}

fn value_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn value_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f.abs() < 9.0e15).then(|| f.round() as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                let f: f64 = s.parse().ok()?;
                (f.is_finite() && f.abs() < 9.0e15).then(|| f.round() as i64)
            })
        }
        _ => None,
    }
}

fn value_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

// Each reader gets the field's value, `None` when the key is absent (which reads as `null`).

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(value_text)
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(value_number)
}

fn integer(v: Option<&Value>) -> Option<i64> {
    v.and_then(value_integer)
}

fn unsigned(v: Option<&Value>) -> Option<u64> {
    integer(v).and_then(|i| u64::try_from(i).ok())
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    v.and_then(value_bool)
}

fn object<T: FromObject>(v: Option<&Value>) -> Option<T> {
    v.and_then(from_object)
}

fn list<T: FromObject>(v: Option<&Value>) -> Vec<T> {
    opt_list(v).unwrap_or_default()
}

fn opt_list<T: FromObject>(v: Option<&Value>) -> Option<Vec<T>> {
    match v {
        Some(Value::Array(items)) => Some(items.iter().filter_map(from_object).collect()),
        _ => None,
    }
}

fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(value_text).collect(),
        _ => Vec::new(),
    }
}

fn texts_or_text(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(value_text).collect(),
        other => other.and_then(value_text).into_iter().collect(),
    }
}

fn annotations(v: Option<&Value>) -> Vec<Annotation> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|a| {
            let field = |k: &str| a.get(k).and_then(value_text);
            if let Some(tracker) = field("tracker") {
                Some(Annotation::Tracker {
                    tracker,
                    phrase: field("phrase"),
                    category: field("category"),
                })
            } else {
                field("label").map(|label| Annotation::Label {
                    label,
                    phrase: field("phrase"),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_strings_cross_over() {
        let c: Call = serde_json::from_value(json!({
            "id": 12345,
            "deal_value": 50000,
            "transcript": [{"text": "hi", "start": "1.5", "end": 2, "personId": "3"}],
            "summary": {"topics_discussed": [{"name": "Pricing", "start_timestamp": 61, "end_timestamp": "240"}]},
            "competitor_sentiments": [{"competitor_name": "Gong", "personId": 3.0, "turn_start_time": "843.2"}],
            "metrics": {"call_duration": "104"},
            "users": [{"userEmail": "a@b.co", "isOrganizer": "true", "personId": "0"}]
        }))
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("12345"));
        assert_eq!(c.deal_value.as_deref(), Some("50000"));
        assert_eq!(c.transcript[0].start, Some(1.5));
        assert_eq!(c.transcript[0].person_id, Some(3));
        let s = c.summary.unwrap();
        assert_eq!(s.topics_discussed[0].start_timestamp, Some(61.0));
        assert_eq!(s.topics_discussed[0].end_timestamp, Some(240.0));
        assert_eq!(c.competitor_sentiments[0].person_id, Some(3));
        assert_eq!(c.competitor_sentiments[0].turn_start_time, Some(843.2));
        assert_eq!(c.metrics.unwrap().call_duration, Some(104));
        let users = c.users.unwrap();
        assert_eq!(users[0].is_organizer, Some(true));
        assert_eq!(users[0].person_id, Some(0));
    }

    #[test]
    fn nulls_wrong_types_and_bad_elements_read_as_absent() {
        let c: Call = serde_json::from_value(json!({
            "id": "x", "title": null, "users": "nobody", "externalParticipants": [1, {"name": "Ann"}, null],
            "joinedParticipants": null, "metrics": [], "summary": "text", "transcript": {"a": 1},
            "contact_names": ["Jane", 7, null, ""], "crm_info": null, "status": {"x": 1},
            "unknown_field": {"deep": [1, 2]}
        }))
        .unwrap();
        assert_eq!(c.title, None);
        assert_eq!(c.users, None);
        assert_eq!(c.external_participants.len(), 1);
        assert_eq!(c.external_participants[0].name.as_deref(), Some("Ann"));
        assert!(c.joined_participants.is_empty());
        assert_eq!(c.metrics, None);
        assert_eq!(c.summary, None);
        assert!(c.transcript.is_empty());
        assert_eq!(c.contact_names, vec!["Jane".to_string(), "7".to_string()]);
        assert_eq!(c.status, None);
    }

    #[test]
    fn users_absent_differs_from_empty() {
        let absent: Call = serde_json::from_value(json!({"id": "x"})).unwrap();
        let empty: Call = serde_json::from_value(json!({"id": "x", "users": []})).unwrap();
        assert_eq!(absent.users, None);
        assert_eq!(empty.users, Some(vec![]));
    }

    #[test]
    fn annotations_of_both_kinds() {
        let t: Turn = serde_json::from_value(json!({"annotations": [
            {"tracker": "Pricing", "phrase": "budget", "category": "Commercial"},
            {"label": "Next steps", "phrase": "send the proposal"},
            {"phrase": "orphan"}, 5
        ]}))
        .unwrap();
        assert_eq!(t.annotations.len(), 2);
        assert!(
            matches!(&t.annotations[0], Annotation::Tracker { tracker, .. } if tracker == "Pricing")
        );
        assert!(
            matches!(&t.annotations[1], Annotation::Label { label, .. } if label == "Next steps")
        );
    }

    #[test]
    fn ids_of_raw_calls() {
        assert_eq!(call_id(&json!({"id": "abc"})), Some("abc".into()));
        assert_eq!(call_id(&json!({"id": 7})), Some("7".into()));
        assert_eq!(call_id(&json!({"id": ""})), None);
        assert_eq!(call_id(&json!({"id": null})), None);
        assert_eq!(call_id(&json!({"title": "x"})), None);
        assert_eq!(call_id(&json!("abc")), None);
        assert_eq!(call_from_value(&json!([1])), None);
    }

    #[test]
    fn pagination_tolerates_strings() {
        let p: Pagination =
            serde_json::from_value(json!({"matched": "3", "hasMore": "false"})).unwrap();
        assert_eq!(
            p,
            Pagination {
                matched: Some(3),
                has_more: Some(false),
                next_page_skip: None
            }
        );
        let p: Pagination =
            serde_json::from_value(json!({"matched": -1, "nextPageSkip": 25})).unwrap();
        assert_eq!(p.matched, None);
        assert_eq!(p.next_page_skip, Some(25));
    }
}
