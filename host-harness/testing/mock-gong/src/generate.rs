//! The deterministic company generator: users with a manager tree (some inactive), and calls
//! of every direction and system, private and public (and a few whose privacy the API answers
//! as `null`), with and without CRM links, AI insights and transcripts, internal, external and
//! phone-only parties, and times written in several zones with varying precision. A small
//! splitmix64 keeps the output identical for a seed whatever the dependency versions.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::model::{Affiliation, Call, Crm, Insights, Monologue, Party, User, Workspace};

/// splitmix64: tiny, fast, and stable forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6F9C_1B7A_22D4_0E31)
    }
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// A Gong id: 19 digits, above 2^53 (as real ids are).
    pub fn gong_id(&mut self) -> String {
        format!(
            "{}",
            1_000_000_000_000_000_000u64 + self.below(8_000_000_000_000_000_000)
        )
    }
}

const FIRST: &[&str] = &[
    "Amara", "Bruno", "Chloé", "Deepak", "Elin", "Fatima", "Gao", "Hugo", "Ines", "Jonas", "Keiko",
    "Luis", "Mei", "Nadia", "Oscar", "Pia", "Rohan", "Sven", "Tara", "Yara",
];
const LAST: &[&str] = &[
    "Adeyemi",
    "Berg",
    "Costa",
    "Dupont",
    "Eze",
    "Fernández",
    "Grün",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Petrov",
    "Rossi",
    "Singh",
];
const TITLES: &[&str] = &[
    "Account Executive",
    "SDR",
    "Sales Engineer",
    "Sales Manager",
    "CSM",
];
/// (account, domain, industry)
const ACCOUNTS: &[(&str, &str, &str)] = &[
    ("Initech", "initech.example", "Software"),
    ("Umbrella Health", "umbrella-health.example", "Healthcare"),
    ("Wayne Logistics", "waynelog.example", "Logistics"),
    ("Stark Energy", "starkenergy.example", "Energy"),
    ("Tyrell Retail", "tyrell.example", "Retail"),
    ("Cyberdyne Bank", "cyberdyne.example", "Financial Services"),
    ("Soylent Foods", "soylent.example", "Food"),
];
const TOPICS: &[&str] = &[
    "Pricing",
    "Security review",
    "Integration",
    "Onboarding",
    "Renewal",
    "Competition",
    "Next Steps",
    "Budget",
    "Timeline",
];
const TRACKERS: &[&str] = &[
    "Competitors",
    "Pricing objection",
    "Legal",
    "Discount",
    "ROI",
];
const STAGES: &[&str] = &["Discovery", "Demo", "Proposal", "Negotiation", "Closed Won"];
const PURPOSES: &[&str] = &["Discovery call", "Product demo", "Pricing review", "QBR"];
const SENTENCES: &[&str] = &[
    "Thanks for making the time today.",
    "Could you walk me through how your team handles this now?",
    "We looked at Globex last quarter, but their pricing did not work for us.",
    "Security will want to see the SOC 2 report before we sign.",
    "What would a pilot with two teams look like?",
    "Our renewal is in March, so the timeline matters.",
    "Let me share my screen and show you the dashboard.",
    "The integration with Salesforce takes about a day.",
    "I will send the proposal by Friday, with the discount we discussed.",
    "Ça marche, on se reparle jeudi.",
];
/// (direction, system, scope, media)
const SHAPES: &[(&str, &str, &str, &str)] = &[
    ("Conference", "Zoom", "External", "Video"),
    ("Conference", "Google Meet", "External", "Video"),
    ("Conference", "Microsoft Teams", "Internal", "Video"),
    ("Outbound", "Outreach", "External", "Audio"),
    ("Inbound", "Aircall", "External", "Audio"),
    ("Conference", "WebEx", "Unknown", "Video"),
];
const ZONES: &[i32] = &[0, -7 * 3600, 2 * 3600, 5 * 3600 + 1800, -5 * 3600];

pub const INTERNAL_DOMAIN: &str = "northwind-sales.example";

/// `n` users with a manager tree: the first is the top, every other reports to an earlier one.
pub fn users(rng: &mut Rng, n: usize, anchor: DateTime<Utc>) -> Vec<User> {
    let mut users: Vec<User> = Vec::with_capacity(n);
    for i in 0..n.max(1) {
        let first = *rng.pick(FIRST);
        let last = *rng.pick(LAST);
        let handle: String = format!("{first}.{last}{i}")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let manager_id = (i > 0).then(|| users[rng.below(i as u64) as usize].id.clone());
        users.push(User {
            id: rng.gong_id(),
            email: format!("{handle}@{INTERNAL_DOMAIN}"),
            first_name: first.into(),
            last_name: last.into(),
            title: (!rng.chance(20)).then(|| rng.pick(TITLES).to_string()),
            manager_id,
            // A few people left; Gong keeps them listed, inactive.
            active: i < 2 || !rng.chance(8),
            created: anchor - Duration::days(400 + rng.below(300) as i64),
        });
    }
    users
}

/// The company: `n_users` users and `n_calls` calls over `history_days` before `anchor`.
pub fn workspace(
    seed: u64,
    n_calls: usize,
    n_users: usize,
    anchor: DateTime<Utc>,
    history_days: u32,
) -> Workspace {
    let mut rng = Rng::new(seed);
    let users = users(&mut rng, n_users, anchor);
    let app_host = format!("us-{}.app.gong.io", 10_000 + rng.below(90_000));
    let workspace_id = rng.gong_id();
    let mut ws = Workspace {
        workspace_id,
        workspace_name: "Initial workspace".into(),
        app_host,
        users,
        calls: Vec::with_capacity(n_calls),
        rng: Rng::new(seed ^ 0xADD),
    };
    let span = i64::from(history_days.max(1)) * 86_400;
    for _ in 0..n_calls {
        let at = anchor - Duration::seconds(3_600 + rng.below(span as u64) as i64);
        let c = call(&mut rng, &ws, at);
        ws.calls.push(c);
    }
    ws.calls
        .sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.id.cmp(&b.id)));
    ws
}

/// One generated call that started at `started`.
pub fn call(rng: &mut Rng, ws: &Workspace, started: DateTime<Utc>) -> Call {
    let id = rng.gong_id();
    let (direction, system, scope, media) = *rng.pick(SHAPES);
    let host_user = &ws.users[rng.below(ws.users.len() as u64) as usize];
    let account = *rng.pick(ACCOUNTS);
    let parties = parties(rng, ws, host_user, account, scope);
    let duration = if rng.chance(10) {
        20 + rng.below(100) as i64
    } else {
        300 + rng.below(3_300) as i64
    };
    let talked = duration >= 120;
    let topics = call_topics(rng, talked);
    let trackers = call_trackers(rng, talked);
    let crm = (scope != "Internal" && rng.chance(75)).then(|| call_crm(rng, account));
    let speakers: Vec<String> = parties
        .iter()
        .filter_map(|p| p.speaker_id.clone())
        .collect();
    let names: Vec<String> = topics_names(&topics);
    let transcript = if talked && !speakers.is_empty() {
        transcript(rng, &speakers, &names)
    } else {
        Vec::new()
    };
    let insights = (talked && rng.chance(85)).then(|| insights(rng, account.0));
    let is_private = if rng.chance(2) {
        None
    } else {
        Some(rng.chance(15))
    };
    let zone = FixedOffset::east_opt(*rng.pick(ZONES))
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    Call {
        url: format!("https://{}/call?id={id}", ws.app_host),
        title: title(rng, scope, account.0),
        scheduled: started - Duration::minutes(rng.below(3) as i64),
        started,
        zone,
        duration,
        primary_user_id: host_user.id.clone(),
        direction,
        system,
        scope,
        media,
        language: if rng.chance(5) {
            "fre"
        } else if talked {
            "eng"
        } else {
            "zxx"
        },
        workspace_id: ws.workspace_id.clone(),
        purpose: rng.chance(60).then(|| rng.pick(PURPOSES).to_string()),
        meeting_url: (media == "Video")
            .then(|| format!("https://zoom.example/j/{}", rng.below(10_000_000_000))),
        is_private,
        calendar_event_id: rng.chance(70).then(|| format!("evt{:x}", rng.next())),
        parties,
        crm,
        topics,
        trackers,
        insights,
        transcript,
        id,
    }
}

/// A talked call's topics, each once, with seconds spent (none for a call nobody talked on).
fn call_topics(rng: &mut Rng, talked: bool) -> Vec<(String, i64)> {
    if !talked {
        return Vec::new();
    }
    let drawn: Vec<(String, i64)> = (0..1 + rng.below(3))
        .map(|_| (rng.pick(TOPICS).to_string(), rng.below(600) as i64))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    drawn
        .into_iter()
        .filter(|(n, _)| seen.insert(n.clone()))
        .collect()
}

/// A talked call's trackers: id, name and count.
fn call_trackers(rng: &mut Rng, talked: bool) -> Vec<(String, String, i64)> {
    if !talked {
        return Vec::new();
    }
    (0..rng.below(3))
        .map(|i| {
            (
                format!("{}", 9_000_000 + i),
                TRACKERS[(i as usize + rng.below(5) as usize) % TRACKERS.len()].to_string(),
                1 + rng.below(7) as i64,
            )
        })
        .collect()
}

/// The CRM context of a call with `account`.
fn call_crm(rng: &mut Rng, account: (&str, &str, &str)) -> Crm {
    Crm {
        system: "Salesforce".into(),
        account_id: format!("001{:015}", rng.below(1_000_000_000_000_000)),
        account_name: account.0.into(),
        industry: account.2.into(),
        opportunity_id: format!("006{:015}", rng.below(1_000_000_000_000_000)),
        opportunity_name: format!(
            "{} - {}",
            account.0,
            rng.pick(&["Expansion", "New Business", "Renewal"])
        ),
        stage: rng.pick(STAGES).to_string(),
        amount: 5_000 + (rng.below(200) as i64) * 1_000,
    }
}

fn topics_names(topics: &[(String, i64)]) -> Vec<String> {
    topics.iter().map(|(n, _)| n.clone()).collect()
}

fn title(rng: &mut Rng, scope: &str, account: &str) -> String {
    match scope {
        "Internal" => rng
            .pick(&["Weekly pipeline review", "Deal desk", "Forecast call"])
            .to_string(),
        _ => format!("{account} | {}", rng.pick(PURPOSES)),
    }
}

/// The host, maybe colleagues, the customer's people, sometimes a dial-in with no email, and
/// (rarely) no parties at all, as the API sometimes answers.
fn parties(
    rng: &mut Rng,
    ws: &Workspace,
    host: &User,
    account: (&str, &str, &str),
    scope: &str,
) -> Vec<Party> {
    if rng.chance(2) {
        return Vec::new();
    }
    let mut out = vec![internal_party(rng, host)];
    for _ in 0..rng.below(3) {
        let u = &ws.users[rng.below(ws.users.len() as u64) as usize];
        if out
            .iter()
            .all(|p| p.user_id.as_deref() != Some(u.id.as_str()))
        {
            out.push(internal_party(rng, u));
        }
    }
    if scope != "Internal" {
        for _ in 0..1 + rng.below(3) {
            let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
            let handle: String = format!("{first}.{last}")
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            out.push(Party {
                id: rng.gong_id(),
                name: Some(format!("{first} {last}")),
                email: Some(format!("{handle}@{}", account.1)),
                title: rng.chance(50).then(|| "Director of Operations".to_string()),
                user_id: None,
                speaker_id: rng.chance(85).then(|| rng.gong_id()),
                affiliation: Affiliation::External,
                phone: None,
            });
        }
        if rng.chance(10) {
            out.push(Party {
                id: rng.gong_id(),
                name: None,
                email: None,
                title: None,
                user_id: None,
                speaker_id: None,
                affiliation: Affiliation::Unknown,
                phone: Some(format!("+1415555{:04}", rng.below(10_000))),
            });
        }
    }
    out
}

fn internal_party(rng: &mut Rng, u: &User) -> Party {
    Party {
        id: rng.gong_id(),
        name: Some(u.full_name()),
        email: Some(u.email.clone()),
        title: u.title.clone(),
        user_id: Some(u.id.clone()),
        speaker_id: Some(rng.gong_id()),
        affiliation: Affiliation::Internal,
        phone: None,
    }
}

fn transcript(rng: &mut Rng, speakers: &[String], topics: &[String]) -> Vec<Monologue> {
    let mut at = 0i64;
    (0..3 + rng.below(8))
        .map(|_| {
            let sentences = (0..1 + rng.below(3))
                .map(|_| {
                    let len = 2_000 + rng.below(6_000) as i64;
                    let s = (at, at + len, rng.pick(SENTENCES).to_string());
                    at += len + rng.below(800) as i64;
                    s
                })
                .collect();
            Monologue {
                speaker_id: rng.chance(97).then(|| rng.pick(speakers).clone()),
                topic: (!topics.is_empty() && rng.chance(50)).then(|| rng.pick(topics).clone()),
                sentences,
            }
        })
        .collect()
}

fn insights(rng: &mut Rng, account: &str) -> Insights {
    Insights {
        brief: format!(
            "{account} reviewed the proposal and raised security and pricing questions."
        ),
        key_points: vec![
            format!("{account} wants a two-team pilot"),
            "Security review needs the SOC 2 report".into(),
        ],
        outline: vec![
            (
                "Introductions".into(),
                0.0,
                95.5,
                vec!["Agenda agreed".into()],
            ),
            (
                "Pricing".into(),
                95.5,
                310.0,
                vec!["Discount discussed".into(), "Budget owner named".into()],
            ),
        ],
        highlights: vec![(
            "Next steps".into(),
            vec!["Send the proposal by Friday".into()],
        )],
        outcome: rng.chance(70).then(|| {
            let (id, cat, name) = *rng.pick(&[
                ("MEETING_BOOKED", "Answered", "Meeting booked"),
                ("LEFT_VOICEMAIL", "Not answered", "Left voicemail"),
                ("NOT_INTERESTED", "Answered", "Not interested"),
            ]);
            (id.to_string(), cat.to_string(), name.to_string())
        }),
    }
}
