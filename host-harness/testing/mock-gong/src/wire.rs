//! The API's JSON: calls as `CallBasicData` and `CallData` (only the blocks the request's
//! `contentSelector` asks for), transcripts, users, pages (`records`) and errors, written the
//! way the real API writes them: times with the call's zone offset and varying precision,
//! explicit `null` for empty scalars, `[]` for empty lists, absent keys where a party has none.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value, json};

use crate::model::{Call, Monologue, User};

/// A time as Gong writes it: in `zone`, whole seconds or milliseconds.
pub fn time(t: DateTime<Utc>, zone: FixedOffset) -> String {
    let local = t.with_timezone(&zone);
    if t.timestamp_subsec_millis() == 0 {
        local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    } else {
        local.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    }
}

/// `CallBasicData`: what `GET /v2/calls` and `metaData` carry.
pub fn basic(c: &Call) -> Value {
    json!({
        "id": c.id,
        "url": c.url,
        "title": c.title,
        "scheduled": time(c.scheduled, c.zone),
        "started": time(c.started, c.zone),
        "duration": c.duration,
        "primaryUserId": c.primary_user_id,
        "direction": c.direction,
        "system": c.system,
        "scope": c.scope,
        "media": c.media,
        "language": c.language,
        "workspaceId": c.workspace_id,
        "sdrDisposition": null,
        "clientUniqueId": null,
        "customData": null,
        "purpose": c.purpose,
        "meetingUrl": c.meeting_url,
        "isPrivate": c.is_private,
        "calendarEventId": c.calendar_event_id,
    })
}

/// What a `contentSelector` asks for.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub context: ContextLevel,
    pub parties: bool,
    pub topics: bool,
    pub trackers: bool,
    pub brief: bool,
    pub outline: bool,
    pub highlights: bool,
    pub call_outcome: bool,
    pub key_points: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContextLevel {
    #[default]
    None,
    Basic,
    Extended,
}

impl Selector {
    /// Reads `contentSelector` (absent: nothing but `metaData`); an unknown `context` is a
    /// 400 message.
    pub fn parse(v: Option<&Value>) -> Result<Selector, String> {
        let Some(v) = v else {
            return Ok(Selector::default());
        };
        let context = match v.get("context").and_then(Value::as_str) {
            None | Some("None") => ContextLevel::None,
            Some("Basic") => ContextLevel::Basic,
            Some("Extended") => ContextLevel::Extended,
            Some(other) => return Err(format!("contentSelector.context: unknown value {other}")),
        };
        let fields = v.get("exposedFields");
        let flag = |path: &[&str]| {
            let mut at = fields;
            for p in path {
                at = at.and_then(|x| x.get(*p));
            }
            at.and_then(Value::as_bool).unwrap_or(false)
        };
        Ok(Selector {
            context,
            parties: flag(&["parties"]),
            topics: flag(&["content", "topics"]),
            trackers: flag(&["content", "trackers"]),
            brief: flag(&["content", "brief"]),
            outline: flag(&["content", "outline"]),
            highlights: flag(&["content", "highlights"]),
            call_outcome: flag(&["content", "callOutcome"]),
            key_points: flag(&["content", "keyPoints"]),
        })
    }
}

/// `CallData`: `metaData` plus the selected blocks.
pub fn extensive(c: &Call, s: &Selector) -> Value {
    let mut out = Map::new();
    out.insert("metaData".into(), basic(c));
    if s.context != ContextLevel::None {
        out.insert("context".into(), context(c, s.context));
    }
    if s.parties {
        out.insert(
            "parties".into(),
            Value::Array(c.parties.iter().map(party).collect()),
        );
    }
    let content = content(c, s);
    if !content.is_empty() {
        out.insert("content".into(), Value::Object(content));
    }
    Value::Object(out)
}

fn party(p: &crate::model::Party) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    if let Some(e) = &p.email {
        m.insert("emailAddress".into(), json!(e));
    }
    m.insert("name".into(), json!(p.name));
    m.insert("title".into(), json!(p.title));
    if let Some(u) = &p.user_id {
        m.insert("userId".into(), json!(u));
    }
    m.insert("speakerId".into(), json!(p.speaker_id));
    m.insert("affiliation".into(), json!(p.affiliation.as_str()));
    m.insert("methods".into(), json!(["Invitee", "Attendee"]));
    if let Some(ph) = &p.phone {
        m.insert("phoneNumber".into(), json!(ph));
    }
    m.insert("context".into(), json!([]));
    Value::Object(m)
}

fn context(c: &Call, level: ContextLevel) -> Value {
    let Some(crm) = &c.crm else {
        return json!([]);
    };
    let fields = |pairs: Vec<(&str, Value)>| -> Value {
        if level == ContextLevel::Extended {
            Value::Array(
                pairs
                    .into_iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect(),
            )
        } else {
            json!([])
        }
    };
    json!([{
        "system": crm.system,
        "objects": [
            {"objectType": "Account", "objectId": crm.account_id, "timing": "Now",
             "fields": fields(vec![("Name", json!(crm.account_name)), ("Industry", json!(crm.industry))])},
            {"objectType": "Opportunity", "objectId": crm.opportunity_id, "timing": "Now",
             "fields": fields(vec![("Name", json!(crm.opportunity_name)), ("StageName", json!(crm.stage)), ("Amount", json!(crm.amount))])},
        ]
    }])
}

/// The selected `content` fields; AI fields only once the call has insights.
fn content(c: &Call, s: &Selector) -> Map<String, Value> {
    let mut m = Map::new();
    if s.topics {
        m.insert(
            "topics".into(),
            Value::Array(
                c.topics
                    .iter()
                    .map(|(n, d)| json!({"name": n, "duration": d}))
                    .collect(),
            ),
        );
    }
    if s.trackers {
        let t = c.trackers.iter().map(|(id, n, count)| json!({"id": id, "name": n, "count": count, "type": "KEYWORD", "occurrences": [], "phrases": []}));
        m.insert("trackers".into(), Value::Array(t.collect()));
    }
    let Some(ai) = &c.insights else {
        return m;
    };
    if s.brief {
        m.insert("brief".into(), json!(ai.brief));
    }
    if s.key_points {
        m.insert(
            "keyPoints".into(),
            Value::Array(ai.key_points.iter().map(|t| json!({"text": t})).collect()),
        );
    }
    if s.outline {
        let o = ai.outline.iter().map(|(sec, start, dur, items)| {
            json!({"section": sec, "startTime": start, "duration": dur,
                   "items": items.iter().map(|t| json!({"text": t, "startTime": start})).collect::<Vec<_>>()})
        });
        m.insert("outline".into(), Value::Array(o.collect()));
    }
    if s.highlights {
        let h = ai.highlights.iter().map(|(title, items)| {
            json!({"title": title, "items": items.iter().map(|t| json!({"text": t, "startTimes": [12.5]})).collect::<Vec<_>>()})
        });
        m.insert("highlights".into(), Value::Array(h.collect()));
    }
    if s.call_outcome
        && let Some((id, cat, name)) = &ai.outcome
    {
        m.insert(
            "callOutcome".into(),
            json!({"id": id, "category": cat, "name": name}),
        );
    }
    m
}

/// One call's transcript entry.
pub fn transcript(c: &Call) -> Value {
    json!({"callId": c.id, "transcript": c.transcript.iter().map(monologue).collect::<Vec<_>>()})
}

fn monologue(m: &Monologue) -> Value {
    json!({
        "speakerId": m.speaker_id,
        "topic": m.topic,
        "sentences": m.sentences.iter().map(|(s, e, t)| json!({"start": s, "end": e, "text": t})).collect::<Vec<_>>(),
    })
}

/// A user as `/v2/users` answers it.
pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "emailAddress": u.email,
        "created": time(u.created, FixedOffset::east_opt(2 * 3600).unwrap_or(FixedOffset::east_opt(0).expect("UTC"))),
        "active": u.active,
        "emailAliases": [],
        "trustedEmailAddress": null,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "title": u.title,
        "phoneNumber": null,
        "extension": null,
        "personalMeetingUrls": [],
        "settings": {"webConferencesRecorded": true, "preventWebConferenceRecording": false,
                     "telephonyCallsImported": false, "emailsImported": false, "preventEmailImport": false,
                     "nonRecordedMeetingsImported": false, "gongConnectEnabled": true},
        "managerId": u.manager_id,
        "meetingConsentPageUrl": null,
        "spokenLanguages": [],
    })
}

/// `records`: the page's place in the whole answer; `cursor` only when more remain.
pub fn records(total: usize, page_size: usize, page: usize, cursor: Option<String>) -> Value {
    let mut r =
        json!({"totalRecords": total, "currentPageSize": page_size, "currentPageNumber": page});
    if let (Some(c), Some(m)) = (cursor, r.as_object_mut()) {
        m.insert("cursor".into(), json!(c));
    }
    r
}

/// Gong's error body.
pub fn error(request_id: &str, text: &str) -> Value {
    json!({"requestId": request_id, "errors": [text]})
}
