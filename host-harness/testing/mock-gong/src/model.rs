//! The mock's ground truth: a Gong company's users and calls, with everything the API can
//! show about them (and what it hides, such as who an unlisted user is).

use chrono::{DateTime, FixedOffset, Utc};

/// A Gong user (`/v2/users`).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Up to 20 digits, beyond 2^53: a string.
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub title: Option<String>,
    pub manager_id: Option<String>,
    pub active: bool,
    pub created: DateTime<Utc>,
}

impl User {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// Internal, External or Unknown, as Gong classifies a party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affiliation {
    Internal,
    External,
    Unknown,
}

impl Affiliation {
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Internal => "Internal",
            Affiliation::External => "External",
            Affiliation::Unknown => "Unknown",
        }
    }
}

/// A person on a call (`parties[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    /// Set when the person is a Gong user.
    pub user_id: Option<String>,
    /// `None` for someone who never spoke.
    pub speaker_id: Option<String>,
    pub affiliation: Affiliation,
    pub phone: Option<String>,
}

/// The CRM objects a call is linked to (`context[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Crm {
    pub system: String,
    pub account_id: String,
    pub account_name: String,
    pub industry: String,
    pub opportunity_id: String,
    pub opportunity_name: String,
    pub stage: String,
    pub amount: i64,
}

/// One monologue of a transcript: consecutive sentences by one speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct Monologue {
    pub speaker_id: Option<String>,
    pub topic: Option<String>,
    /// (start ms, end ms, text), from the call's start.
    pub sentences: Vec<(i64, i64, String)>,
}

/// What Gong's AI made of a call ("returned when available").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Insights {
    pub brief: String,
    pub key_points: Vec<String>,
    /// (section, start s, duration s, items)
    pub outline: Vec<(String, f64, f64, Vec<String>)>,
    /// (title, items)
    pub highlights: Vec<(String, Vec<String>)>,
    /// (id, category, name)
    pub outcome: Option<(String, String, String)>,
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub title: String,
    pub url: String,
    pub scheduled: DateTime<Utc>,
    pub started: DateTime<Utc>,
    /// The zone the API writes this call's times in (Gong answers with offsets).
    pub zone: FixedOffset,
    /// Seconds.
    pub duration: i64,
    pub primary_user_id: String,
    pub direction: &'static str,
    pub system: &'static str,
    pub scope: &'static str,
    pub media: &'static str,
    pub language: &'static str,
    pub workspace_id: String,
    pub purpose: Option<String>,
    pub meeting_url: Option<String>,
    /// `None`: the API answers `null` (the state is unknown).
    pub is_private: Option<bool>,
    pub calendar_event_id: Option<String>,
    pub parties: Vec<Party>,
    pub crm: Option<Crm>,
    /// (name, duration s)
    pub topics: Vec<(String, i64)>,
    /// (id, name, count)
    pub trackers: Vec<(String, String, i64)>,
    /// `None` while the AI has not processed the call.
    pub insights: Option<Insights>,
    pub transcript: Vec<Monologue>,
}

/// A whole company.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub workspace_id: String,
    pub workspace_name: String,
    /// The company's app host, e.g. `us-48123.app.gong.io`.
    pub app_host: String,
    pub users: Vec<User>,
    pub calls: Vec<Call>,
    /// Seeded generator for calls added later.
    pub rng: crate::generate::Rng,
}

impl Workspace {
    pub fn call(&self, id: &str) -> Option<&Call> {
        self.calls.iter().find(|c| c.id == id)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
}
