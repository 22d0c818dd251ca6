//! Gong's JSON, as the connector reads it (reference §2 to §5). Every field is optional and
//! nullable except where a caller checks it (a call's `id`); unknown fields are ignored and
//! fields of an unexpected type read as absent (see [`crate::lenient`]).

use serde::Deserialize;
use serde_json::Value;

use crate::lenient;

/// `records` on every paged answer: `cursor` is present only when more pages remain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Records {
    #[serde(deserialize_with = "lenient::number")]
    pub total_records: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub current_page_size: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub current_page_number: Option<f64>,
    #[serde(deserialize_with = "lenient::string")]
    pub cursor: Option<String>,
}

/// `records.cursor` of an optional `records` block.
pub fn next_cursor(records: &Option<Records>) -> Option<String> {
    records.as_ref().and_then(|r| r.cursor.clone())
}

/// `GET /v2/calls`: one page of calls.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CallsPage {
    #[serde(deserialize_with = "lenient::object")]
    pub records: Option<Records>,
    /// `None` when the answer has no `calls` list (not an empty page: an error).
    #[serde(deserialize_with = "lenient::some_list")]
    pub calls: Option<Vec<CallBasic>>,
}

/// `GET /v2/calls/{id}`: one call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OneCall {
    #[serde(deserialize_with = "lenient::object")]
    pub call: Option<CallBasic>,
}

/// CallBasicData: a listed call, and `metaData` of an extensive call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CallBasic {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub scheduled: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub started: Option<String>,
    /// Seconds.
    #[serde(deserialize_with = "lenient::number")]
    pub duration: Option<f64>,
    #[serde(deserialize_with = "lenient::string")]
    pub primary_user_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub direction: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub system: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub scope: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub media: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub language: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub workspace_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub purpose: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub meeting_url: Option<String>,
    /// `None` when null, absent or not a boolean: unknown, treated as private.
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_private: Option<bool>,
    #[serde(deserialize_with = "lenient::string")]
    pub calendar_event_id: Option<String>,
}

impl CallBasic {
    /// When the call started (else when it was scheduled), in epoch milliseconds.
    pub fn started_ms(&self) -> Option<i64> {
        [&self.started, &self.scheduled]
            .into_iter()
            .flatten()
            .find_map(|s| connector_sdk::time::parse_iso8601_ms(s))
    }
}

/// `POST /v2/calls/extensive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ExtensivePage {
    #[serde(deserialize_with = "lenient::list")]
    pub calls: Vec<CallData>,
}

/// One extensive call: the listing fields plus CRM context, parties and AI content.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CallData {
    #[serde(deserialize_with = "lenient::object")]
    pub meta_data: Option<CallBasic>,
    #[serde(deserialize_with = "lenient::list")]
    pub context: Vec<CrmSystem>,
    #[serde(deserialize_with = "lenient::list")]
    pub parties: Vec<Party>,
    #[serde(deserialize_with = "lenient::object")]
    pub content: Option<Content>,
}

/// A CRM (or dialer) the call is linked to, with the linked objects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CrmSystem {
    #[serde(deserialize_with = "lenient::string")]
    pub system: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub objects: Vec<CrmObject>,
}

/// An `Account`, `Opportunity`, ... with its field values (`value` is any JSON).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CrmObject {
    #[serde(deserialize_with = "lenient::string")]
    pub object_type: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub object_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub timing: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub fields: Vec<CrmField>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CrmField {
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    pub value: Value,
}

/// A person on the call. `userId` is set only for Gong users; `speakerId` only for people
/// who spoke.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Party {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub email_address: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub speaker_id: Option<String>,
    /// `Internal`, `External` or `Unknown`.
    #[serde(deserialize_with = "lenient::string")]
    pub affiliation: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub methods: Vec<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub phone_number: Option<String>,
}

/// The AI and tracking blocks ("returned when available").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Content {
    #[serde(deserialize_with = "lenient::list")]
    pub topics: Vec<Topic>,
    #[serde(deserialize_with = "lenient::list")]
    pub trackers: Vec<Tracker>,
    #[serde(deserialize_with = "lenient::string")]
    pub brief: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub outline: Vec<OutlineSection>,
    #[serde(deserialize_with = "lenient::list")]
    pub highlights: Vec<Highlight>,
    #[serde(deserialize_with = "lenient::object")]
    pub call_outcome: Option<CallOutcome>,
    #[serde(deserialize_with = "lenient::list")]
    pub key_points: Vec<KeyPoint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Topic {
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// Seconds.
    #[serde(deserialize_with = "lenient::number")]
    pub duration: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Tracker {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::number")]
    pub count: Option<f64>,
    /// `KEYWORD` or `SMART`.
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OutlineSection {
    #[serde(deserialize_with = "lenient::string")]
    pub section: Option<String>,
    /// Seconds.
    #[serde(deserialize_with = "lenient::number")]
    pub start_time: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub duration: Option<f64>,
    #[serde(deserialize_with = "lenient::list")]
    pub items: Vec<OutlineItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OutlineItem {
    #[serde(deserialize_with = "lenient::string")]
    pub text: Option<String>,
    #[serde(deserialize_with = "lenient::number")]
    pub start_time: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Highlight {
    #[serde(deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub items: Vec<HighlightItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HighlightItem {
    #[serde(deserialize_with = "lenient::string")]
    pub text: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub start_times: Vec<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CallOutcome {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub category: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyPoint {
    #[serde(deserialize_with = "lenient::string")]
    pub text: Option<String>,
}

/// `POST /v2/calls/transcript`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TranscriptPage {
    #[serde(deserialize_with = "lenient::list")]
    pub call_transcripts: Vec<CallTranscript>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CallTranscript {
    #[serde(deserialize_with = "lenient::string")]
    pub call_id: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub transcript: Vec<Monologue>,
}

/// Consecutive sentences by one speaker.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Monologue {
    #[serde(deserialize_with = "lenient::string")]
    pub speaker_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub topic: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub sentences: Vec<Sentence>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Sentence {
    /// Milliseconds from the call's start.
    #[serde(deserialize_with = "lenient::number")]
    pub start: Option<f64>,
    #[serde(deserialize_with = "lenient::number")]
    pub end: Option<f64>,
    #[serde(deserialize_with = "lenient::string")]
    pub text: Option<String>,
}

/// `GET /v2/users`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UsersPage {
    #[serde(deserialize_with = "lenient::object")]
    pub records: Option<Records>,
    /// `None` when the answer has no `users` list (an error).
    #[serde(deserialize_with = "lenient::some_list")]
    pub users: Option<Vec<GongUser>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GongUser {
    #[serde(deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub email_address: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub active: Option<bool>,
}

/// Gong's error body: `{"requestId": "...", "errors": ["text", ...]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(deserialize_with = "lenient::string")]
    pub request_id: Option<String>,
    #[serde(deserialize_with = "lenient::list")]
    pub errors: Vec<String>,
}

/// Whether `id` is a Gong call id: 1 to 20 ASCII digits (ids are the index's keys).
pub fn is_call_id(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_shaped_listing() {
        let page: CallsPage = serde_json::from_str(
            r#"{"requestId":"4al018gzaztcr8nbukw","records":{"totalRecords":1,"currentPageSize":1,"currentPageNumber":0},
            "calls":[{"id":"7782342274025937895","url":"https://us-49467.app.gong.io/call?id=7782342274025937895",
            "title":"Acme / Intro","scheduled":null,"started":"2023-10-17T21:21:31.816562+02:00","duration":1805,
            "primaryUserId":"234599484848423","direction":"Conference","isPrivate":false,"newField":{"x":1}},
            "junk"]}"#,
        )
        .unwrap();
        assert_eq!(next_cursor(&page.records), None);
        let calls = page.calls.unwrap();
        assert_eq!(calls.len(), 1);
        let c = &calls[0];
        assert_eq!(c.id.as_deref(), Some("7782342274025937895"));
        assert_eq!(c.is_private, Some(false));
        assert_eq!(c.duration, Some(1805.0));
        assert_eq!(c.started_ms(), Some(1_697_570_491_816));
    }

    #[test]
    fn call_ids_are_short_digit_strings() {
        assert!(is_call_id("7782342274025937895"));
        assert!(is_call_id("12345678901234567890"));
        for bad in ["", "123456789012345678901", "12a", " 1", "-1", "１"] {
            assert!(!is_call_id(bad), "{bad}");
        }
    }
}
