//! The mock's workspace and how its calls look on the wire: the list shape of `/calls` and the
//! detail shape of `/call-details`, with absent data as omitted keys, as the real API does.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::generate::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_recording: bool,
    pub manager_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub person_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Crm {
    pub deal_name: String,
    pub deal_value: String,
    pub deal_close_date: DateTime<Utc>,
    pub deal_stage_before_call: String,
    pub deal_stage_live: String,
    pub account_name: String,
    pub contact_names: Vec<String>,
    pub source_crm: String,
    pub deal_id: String,
    pub account_id: String,
    pub contact_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub person_id: i64,
    pub annotations: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub source_id: Option<String>,
    pub title: String,
    /// Internal users by user id, with their `personId`.
    pub internal: Vec<(String, i64)>,
    pub external: Vec<Participant>,
    pub joined: Vec<Participant>,
    pub status: String,
    pub call_type: String,
    pub time: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// Seconds.
    pub duration: u64,
    /// Kept internal: the API has no privacy field.
    pub private: bool,
    pub crm: Option<Crm>,
    pub transcript: Vec<Turn>,
    pub topics: Vec<String>,
    /// Summary and competitor timestamps as numbers (true) or strings.
    pub numeric_timestamps: bool,
    pub competitors: Vec<Value>,
    pub calendar: bool,
    pub bookmarks: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub users: Vec<User>,
    pub calls: Vec<Call>,
    pub rng: Rng,
}

/// ISO-8601 UTC with milliseconds and `Z`, as Clari answers.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn participant(p: &Participant) -> Value {
    let mut m = Map::new();
    if let Some(n) = &p.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(e) = &p.email {
        m.insert("email".into(), json!(e));
    }
    if let Some(ph) = &p.phone {
        m.insert("phone".into(), json!(ph));
    }
    if let Some(id) = p.person_id {
        m.insert("personId".into(), json!(id));
    }
    Value::Object(m)
}

impl Call {
    pub fn user_emails(&self, users: &[User]) -> Vec<String> {
        self.internal
            .iter()
            .filter_map(|(id, _)| users.iter().find(|u| &u.id == id).map(|u| u.email.clone()))
            .collect()
    }

    /// The `/calls` shape: the call object field by field, in the order of the official schema.
    pub fn list_json(&self, users: &[User], media: (bool, bool), now: DateTime<Utc>) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        if let Some(s) = &self.source_id {
            m.insert("source_id".into(), json!(s));
        }
        m.insert("title".into(), json!(self.title));
        self.insert_people(&mut m, users);
        m.insert("status".into(), json!(self.status));
        m.insert("bot_not_join_reason".into(), json!([]));
        m.insert("type".into(), json!(self.call_type));
        m.insert("time".into(), json!(iso(self.time)));
        if self.calendar {
            m.insert(
                "icaluid".into(),
                json!(format!("{}@calendar.example", &self.id[..8])),
            );
            m.insert(
                "calendar_id".into(),
                json!(format!("cal-{}", &self.id[..8])),
            );
        }
        m.insert("last_modified_time".into(), json!(iso(self.last_modified)));
        self.insert_media(&mut m, media, now);
        m.insert(
            "disposition".into(),
            json!(if self.duration > 0 {
                "CALL_CONNECTED_WITH_PROSPECT"
            } else {
                "UNKNOWN_CALL_DISPOSITION"
            }),
        );
        self.insert_crm(&mut m);
        m.insert(
            "bookmark_timestamps".into(),
            json!(self.bookmarks.iter().map(|b| iso(*b)).collect::<Vec<_>>()),
        );
        m.insert("metrics".into(), self.metrics());
        m.insert(
            "call_review_page_url".into(),
            json!(format!("https://copilot.clari.com/call/{}", self.id)),
        );
        Value::Object(m)
    }

    /// `users` (the internal participants, the first one the organizer),
    /// `externalParticipants` and `joinedParticipants`.
    fn insert_people(&self, m: &mut Map<String, Value>, users: &[User]) {
        let organizer = self.internal.first().map(|(id, _)| id.clone());
        m.insert(
            "users".into(),
            Value::Array(
                self.internal
                    .iter()
                    .filter_map(|(id, person)| {
                        let u = users.iter().find(|u| &u.id == id)?;
                        Some(json!({"userId": u.id, "userEmail": u.email, "isOrganizer": Some(id) == organizer.as_ref(), "personId": person}))
                    })
                    .collect(),
            ),
        );
        m.insert(
            "externalParticipants".into(),
            Value::Array(self.external.iter().map(participant).collect()),
        );
        m.insert(
            "joinedParticipants".into(),
            Value::Array(self.joined.iter().map(participant).collect()),
        );
    }

    /// `audio_url` and `video_url`: signed links that expire, or null when the call has none.
    fn insert_media(&self, m: &mut Map<String, Value>, media: (bool, bool), now: DateTime<Utc>) {
        let signed = |kind: &str| {
            json!(format!(
                "https://media.copilot.example/{}/{kind}?X-Amz-Expires=14400&X-Amz-Date={}",
                self.id,
                now.format("%Y%m%dT%H%M%SZ")
            ))
        };
        m.insert(
            "audio_url".into(),
            if media.0 {
                signed("audio")
            } else {
                Value::Null
            },
        );
        m.insert(
            "video_url".into(),
            if media.1 {
                signed("video")
            } else {
                Value::Null
            },
        );
    }

    /// The deal fields and `crm_info`, for a call linked to the CRM.
    fn insert_crm(&self, m: &mut Map<String, Value>) {
        let Some(c) = &self.crm else { return };
        m.insert("deal_name".into(), json!(c.deal_name));
        m.insert("deal_value".into(), json!(c.deal_value));
        m.insert("deal_close_date".into(), json!(iso(c.deal_close_date)));
        m.insert(
            "deal_stage_before_call".into(),
            json!(c.deal_stage_before_call),
        );
        m.insert("account_name".into(), json!(c.account_name));
        m.insert("contact_names".into(), json!(c.contact_names));
        m.insert(
            "crm_info".into(),
            json!({"source_crm": c.source_crm, "deal_id": c.deal_id, "account_id": c.account_id, "contact_ids": c.contact_ids}),
        );
    }

    /// `metrics`: talk time, questions and the topic categories.
    fn metrics(&self) -> Value {
        let categories: Vec<Value> = self
            .topics
            .iter()
            .map(|t| json!({"name": t, "occurences": 1 + (t.len() % 4), "ai_detected": t.len() % 2 == 0, "phrases_matched": []}))
            .collect();
        let speak = self.transcript.iter().map(|t| t.end - t.start).sum::<f64>();
        json!({
            "talk_listen_ratio": if self.duration > 0 { 0.5 } else { 0.0 },
            "num_questions_asked": self.transcript.iter().filter(|t| t.text.ends_with('?')).count(),
            "call_duration": self.duration,
            "total_speak_duration": speak,
            "longest_monologue_duration": self.transcript.iter().map(|t| t.end - t.start).fold(0.0, f64::max),
            "engaging_questions": 0,
            "categories": categories,
        })
    }

    /// The `/call-details` shape (inside `{"call": ...}`).
    pub fn details_json(&self, users: &[User], now: DateTime<Utc>) -> Value {
        let mut v = self.list_json(users, (false, false), now);
        let Some(m) = v.as_object_mut() else { return v };
        if let Some(c) = &self.crm {
            m.insert("deal_stage_live".into(), json!(c.deal_stage_live));
        }
        m.insert(
            "transcript".into(),
            Value::Array(
                self.transcript
                    .iter()
                    .map(|t| {
                        let mut turn = json!({"text": t.text, "start": t.start, "end": t.end, "personId": t.person_id});
                        if !t.annotations.is_empty() {
                            turn["annotations"] = json!(t.annotations);
                        }
                        turn
                    })
                    .collect(),
            ),
        );
        if self.status == "POST_PROCESSING_DONE" {
            let ts = |s: f64| {
                if self.numeric_timestamps {
                    json!(s)
                } else {
                    json!(format!("{s}"))
                }
            };
            let total = self.transcript.last().map(|t| t.end).unwrap_or(0.0).round();
            let topics: Vec<Value> = self
                .topics
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let from = (total / 4.0 * i as f64).round();
                    json!({"name": name, "start_timestamp": ts(from), "end_timestamp": ts(from + 60.0), "summary": format!("The team discussed {}.", name.to_lowercase())})
                })
                .collect();
            let owner = self
                .external
                .first()
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| "Rep".into());
            m.insert(
                "summary".into(),
                json!({
                    "full_summary": format!(
                        "{} covered {}. Next steps were agreed with a follow-up scheduled.",
                        self.title,
                        if self.topics.is_empty() { "general questions".to_string() } else { self.topics.join(", ") }
                    ),
                    "topics_discussed": topics,
                    "key_action_items": [{"action_item": "Send the proposal and security documents", "speaker_name": owner, "start_timestamp": ts(total * 0.8), "end_timestamp": ts(total * 0.8 + 5.0)}],
                }),
            );
            m.insert("competitor_sentiments".into(), json!(self.competitors));
        }
        v
    }
}

impl User {
    pub fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("email".into(), json!(self.email));
        m.insert("name".into(), json!(self.name));
        m.insert("role".into(), json!(self.role));
        m.insert("is_recording".into(), json!(self.is_recording));
        if let Some(id) = &self.manager_id {
            m.insert("manager_id".into(), json!(id));
        }
        Value::Object(m)
    }
}
