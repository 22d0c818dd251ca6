//! Clari Copilot's JSON, parsed tolerantly. Every field is optional; `null`, a missing key
//! and a value of the wrong JSON type all read as absent; numbers sent as strings and
//! strings sent as numbers are converted; a list that holds a malformed element keeps the
//! others. Enumerations stay open strings here: their meaning is decided where they are used.
//!
//! Deserializing any JSON object into these types cannot fail, so one odd field never costs
//! a whole call. The few fields a call cannot do without are checked by the callers
//! (`listing`, `mapping`), which report the call id and the field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One call, as `/calls` lists it and as `/call-details` answers it (the details add
/// `deal_stage_live`, `transcript`, `summary` and `competitor_sentiments`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Call {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub title: Option<String>,
    /// Internal Copilot users. `None` when the key is absent (or not a list): the source did
    /// not say who was on the call.
    #[serde(deserialize_with = "opt_list")]
    pub users: Option<Vec<CallUser>>,
    #[serde(rename = "externalParticipants", deserialize_with = "list")]
    pub external_participants: Vec<Participant>,
    #[serde(rename = "joinedParticipants", deserialize_with = "list")]
    pub joined_participants: Vec<Participant>,
    #[serde(deserialize_with = "text")]
    pub status: Option<String>,
    #[serde(rename = "type", deserialize_with = "text")]
    pub call_type: Option<String>,
    #[serde(deserialize_with = "text")]
    pub time: Option<String>,
    #[serde(deserialize_with = "text")]
    pub last_modified_time: Option<String>,
    #[serde(deserialize_with = "text")]
    pub disposition: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_value: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_close_date: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_stage_before_call: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_stage_live: Option<String>,
    #[serde(deserialize_with = "text")]
    pub account_name: Option<String>,
    #[serde(deserialize_with = "texts")]
    pub contact_names: Vec<String>,
    #[serde(deserialize_with = "object")]
    pub crm_info: Option<CrmInfo>,
    #[serde(deserialize_with = "texts")]
    pub bookmark_timestamps: Vec<String>,
    #[serde(deserialize_with = "object")]
    pub metrics: Option<Metrics>,
    #[serde(deserialize_with = "text")]
    pub call_review_page_url: Option<String>,
    #[serde(deserialize_with = "list")]
    pub transcript: Vec<Turn>,
    #[serde(deserialize_with = "object")]
    pub summary: Option<Summary>,
    #[serde(deserialize_with = "list")]
    pub competitor_sentiments: Vec<CompetitorSentiment>,
}

/// An internal user on a call (`users[]`). Clari sends no name here.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CallUser {
    #[serde(rename = "userId", deserialize_with = "text")]
    pub user_id: Option<String>,
    #[serde(rename = "userEmail", deserialize_with = "text")]
    pub user_email: Option<String>,
    #[serde(rename = "isOrganizer", deserialize_with = "boolean")]
    pub is_organizer: Option<bool>,
    #[serde(rename = "personId", deserialize_with = "integer")]
    pub person_id: Option<i64>,
}

/// An external (invited) or joined participant.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Participant {
    #[serde(deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(deserialize_with = "text")]
    pub phone: Option<String>,
    #[serde(rename = "personId", deserialize_with = "integer")]
    pub person_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CrmInfo {
    #[serde(deserialize_with = "text")]
    pub source_crm: Option<String>,
    #[serde(deserialize_with = "text")]
    pub deal_id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub account_id: Option<String>,
    #[serde(deserialize_with = "texts")]
    pub contact_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Metrics {
    /// Seconds; the only duration Clari gives.
    #[serde(deserialize_with = "integer")]
    pub call_duration: Option<i64>,
    #[serde(deserialize_with = "list")]
    pub categories: Vec<Category>,
}

/// A keyword tracker category with its hits.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Category {
    #[serde(deserialize_with = "text")]
    pub name: Option<String>,
    /// Clari spells it `occurences`.
    #[serde(alias = "occurrences", deserialize_with = "integer")]
    pub occurences: Option<i64>,
}

/// One transcript turn.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Turn {
    #[serde(deserialize_with = "text")]
    pub text: Option<String>,
    #[serde(deserialize_with = "number")]
    pub start: Option<f64>,
    #[serde(deserialize_with = "number")]
    pub end: Option<f64>,
    #[serde(rename = "personId", deserialize_with = "integer")]
    pub person_id: Option<i64>,
    #[serde(deserialize_with = "annotations")]
    pub annotations: Vec<Annotation>,
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

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Summary {
    #[serde(deserialize_with = "text")]
    pub full_summary: Option<String>,
    #[serde(deserialize_with = "list")]
    pub topics_discussed: Vec<TopicDiscussed>,
    #[serde(deserialize_with = "list")]
    pub key_action_items: Vec<ActionItem>,
    /// Not in the spec; two clients read it. Used when present.
    #[serde(deserialize_with = "texts_or_text")]
    pub key_takeaways: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TopicDiscussed {
    #[serde(deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "number")]
    pub start_timestamp: Option<f64>,
    #[serde(deserialize_with = "number")]
    pub end_timestamp: Option<f64>,
    #[serde(deserialize_with = "text")]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ActionItem {
    #[serde(deserialize_with = "text")]
    pub action_item: Option<String>,
    #[serde(deserialize_with = "text")]
    pub speaker_name: Option<String>,
    #[serde(deserialize_with = "number")]
    pub start_timestamp: Option<f64>,
    #[serde(deserialize_with = "number")]
    pub end_timestamp: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CompetitorSentiment {
    #[serde(deserialize_with = "text")]
    pub competitor_name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub sentiment: Option<String>,
    #[serde(deserialize_with = "text")]
    pub reasoning: Option<String>,
    #[serde(rename = "personId", deserialize_with = "integer")]
    pub person_id: Option<i64>,
    #[serde(deserialize_with = "number")]
    pub turn_start_time: Option<f64>,
}

/// `pagination` of a `/calls` answer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pagination {
    #[serde(deserialize_with = "unsigned")]
    pub matched: Option<u64>,
    #[serde(rename = "hasMore", deserialize_with = "boolean")]
    pub has_more: Option<bool>,
    #[serde(rename = "nextPageSkip", deserialize_with = "unsigned")]
    pub next_page_skip: Option<u64>,
}

/// One entry of `/users`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DirectoryUser {
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "text")]
    pub role: Option<String>,
}

/// The id of a raw call object: a non-empty string (or a number, as text).
pub fn call_id(raw: &Value) -> Option<String> {
    value_text(raw.get("id")?)
}

/// Reads a raw call object. Never fails for an object; `None` for anything else.
pub fn call_from_value(raw: &Value) -> Option<Call> {
    if raw.is_object() {
        Call::deserialize(raw).ok()
    } else {
        None
    }
}

/// Reads any tolerant type from a raw value; `None` unless it is an object.
pub fn from_object<T: DeserializeOwned>(raw: &Value) -> Option<T> {
    if raw.is_object() {
        T::deserialize(raw).ok()
    } else {
        None
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

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(value_text(&Value::deserialize(d)?))
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(value_number(&Value::deserialize(d)?))
}

fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(value_integer(&Value::deserialize(d)?))
}

fn unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(value_integer(&Value::deserialize(d)?).and_then(|i| u64::try_from(i).ok()))
}

fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(value_bool(&Value::deserialize(d)?))
}

fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(from_object(&Value::deserialize(d)?))
}

fn elements<T: DeserializeOwned>(v: Value) -> Vec<T> {
    match v {
        Value::Array(items) => items.iter().filter_map(from_object).collect(),
        _ => Vec::new(),
    }
}

fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(elements(Value::deserialize(d)?))
}

fn opt_list<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        v @ Value::Array(_) => Some(elements(v)),
        _ => None,
    })
}

fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().filter_map(value_text).collect(),
        _ => Vec::new(),
    })
}

fn texts_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().filter_map(value_text).collect(),
        other => value_text(&other).into_iter().collect(),
    })
}

fn annotations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Annotation>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else {
        return Ok(Vec::new());
    };
    Ok(items
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
        .collect())
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
