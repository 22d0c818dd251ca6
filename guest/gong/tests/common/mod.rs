//! Shared test helpers: Gong-shaped answers (reference §1.3 to §5) and the crawl clock.

#![allow(dead_code)]

use connector_sdk::http::{Request, Response};
use connector_sdk::time::parse_iso8601_ms;
use serde_json::{Value, json};

/// The crawl clock: 2026-11-01T00:00:00.250Z (window ends round down to the second).
pub fn now_ms() -> i64 {
    parse_iso8601_ms("2026-11-01T00:00:00.250Z").unwrap()
}

pub const CALL_ID: &str = "7782342274025937895";
pub const OWNER_ID: &str = "234599484848423";

/// Gong's error body.
pub fn gong_error(status: u16, text: &str) -> Response {
    Response::of_json(
        status,
        &json!({"requestId": "4al018gzaztcr8nbukw", "errors": [text]}),
    )
}

pub fn no_calls() -> Response {
    gong_error(404, "No calls found corresponding to the provided filters")
}

/// A listed call (CallBasicData) with realistic fields.
pub fn basic_call(id: &str, started: &str, is_private: Value) -> Value {
    json!({
        "id": id,
        "url": format!("https://us-49467.app.gong.io/call?id={id}"),
        "title": "Acme / Intro call",
        "scheduled": started,
        "started": started,
        "duration": 1805,
        "primaryUserId": OWNER_ID,
        "direction": "Conference",
        "system": "Zoom",
        "scope": "External",
        "media": "Video",
        "language": "eng",
        "workspaceId": "623457276584334",
        "sdrDisposition": null,
        "clientUniqueId": null,
        "customData": null,
        "purpose": "Discovery",
        "meetingUrl": "https://acme.zoom.us/j/123456789",
        "isPrivate": is_private,
        "calendarEventId": "abcdef123456"
    })
}

/// A `GET /v2/calls` page; `cursor` only when more remain.
pub fn calls_page(calls: Vec<Value>, cursor: Option<&str>, page_number: u32) -> Response {
    let mut records = json!({
        "totalRecords": 2,
        "currentPageSize": calls.len(),
        "currentPageNumber": page_number,
    });
    if let Some(c) = cursor {
        records["cursor"] = json!(c);
    }
    Response::of_json(
        200,
        &json!({"requestId": "2vkkd3x3rf8mcvlnxl8", "records": records, "calls": calls}),
    )
}

/// The value of query key `key` in `r`.
pub fn query<'a>(r: &'a Request, key: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The parties of the standard fixture: the owner (internal), an internal SE, an external
/// buyer with an email, and a phone-only external party.
pub fn parties() -> Value {
    json!([
        {"id": "9178113854064029868", "emailAddress": "Ann.Rep@Acme.com", "name": "Ann Rep", "title": "AE",
         "userId": OWNER_ID, "speakerId": "6432345678555530067", "affiliation": "Internal",
         "methods": ["Invitee", "Attendee"], "phoneNumber": null, "context": []},
        {"id": "9178113854064029869", "emailAddress": "sam.se@acme.com", "name": "Sam Engineer", "title": "SE",
         "userId": "1309263961237846110", "speakerId": null, "affiliation": "Internal", "methods": ["Attendee"]},
        {"id": "9178113854064029870", "emailAddress": "bob@customer.com", "name": "Bob Buyer", "title": "CTO",
         "speakerId": "6432345678555530099", "affiliation": "External", "methods": ["Invitee"]},
        {"id": "9178113854064029871", "name": null, "affiliation": "Unknown", "phoneNumber": "+14155550100",
         "speakerId": "6432345678555530111"}
    ])
}

/// An extensive call (CallData) with CRM context, parties and AI content.
pub fn extensive_call(id: &str, is_private: Value, parties: Value) -> Value {
    json!({
        "metaData": basic_call(id, "2026-10-30T14:00:00.123-07:00", is_private),
        "context": [{"system": "Salesforce", "objects": [
            {"objectType": "Account", "objectId": "0015g00000XyZabAAB", "timing": "Now",
             "fields": [{"name": "Name", "value": "Acme Corp"}, {"name": "Industry", "value": "Retail"}]},
            {"objectType": "Opportunity", "objectId": "0065g00000AbCdeAAB", "timing": "Now",
             "fields": [{"name": "Name", "value": "Acme - Expansion 2027"}, {"name": "StageName", "value": "Discovery"},
                        {"name": "Amount", "value": 50000}]}
        ]}],
        "parties": parties,
        "content": {
            "topics": [{"name": "Pricing", "duration": 86.0}, {"name": "Next Steps", "duration": 40}],
            "trackers": [{"id": "4321", "name": "Competitors", "count": 7, "type": "KEYWORD", "phrases": []},
                         {"id": "4322", "name": "Budget", "count": 0, "type": "SMART"}],
            "brief": "Ann walked Bob through pricing; Bob wants a pilot.",
            "outline": [{"section": "Intro", "startTime": 0.0, "duration": 120.5,
                         "items": [{"text": "Introductions", "startTime": 12.3}]}],
            "highlights": [{"title": "Next steps", "items": [{"text": "Send the pilot proposal", "startTimes": [1503.2]}]}],
            "callOutcome": {"id": "MEETING_BOOKED", "category": "Answered", "name": "Meeting booked"},
            "keyPoints": [{"text": "Pilot in Q1"}]
        }
    })
}

pub fn extensive_page(calls: Vec<Value>) -> Response {
    Response::of_json(
        200,
        &json!({"requestId": "5a1b2c3d4e5f6g7h8i9", "records": {"totalRecords": calls.len(), "currentPageSize": calls.len(), "currentPageNumber": 0}, "calls": calls}),
    )
}

/// A transcript answer for `id`: Ann, Bob, then an unknown speaker id.
pub fn transcript(id: &str) -> Response {
    Response::of_json(
        200,
        &json!({"requestId": "6b2c3d4e5f6g7h8i9j0", "records": {"totalRecords": 1, "currentPageSize": 1, "currentPageNumber": 0},
        "callTranscripts": [{"callId": id, "transcript": [
            {"speakerId": "6432345678555530067", "topic": "Intro", "sentences": [
                {"start": 12_300, "end": 15_100, "text": "Thanks for joining, Bob."},
                {"start": 15_200, "end": 18_000, "text": "Shall we start with pricing?"}]},
            {"speakerId": "6432345678555530099", "topic": null, "sentences": [
                {"start": 460_230, "end": 462_343, "text": "No wait, I think we should check that out first."}]},
            {"speakerId": "1111111111111111111", "sentences": [
                {"start": 4_503_999, "end": 4_505_000, "text": "Bye."}]}
        ]}]}),
    )
}
