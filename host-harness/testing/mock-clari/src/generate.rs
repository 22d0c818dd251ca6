//! The deterministic workspace generator: users, and calls of every type and status, public and
//! private, with and without CRM context, internal, external and joined participants, short and
//! long transcripts, unicode, and summary timestamps as numbers or strings. A small splitmix64
//! generator keeps the output identical for a seed whatever the dependency versions.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Call, Crm, Participant, Turn, User, Workspace};

/// splitmix64: tiny, fast, and stable forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
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
    pub fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            (a & 0x0fff) as u16,
            ((b >> 48) as u16 & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

const FIRST: &[&str] = &[
    "April", "Ben", "Chen", "Dana", "Émile", "Farah", "Gustavo", "Hana", "Ivan", "Jun", "Kofi",
    "Lena", "Marta", "Noah", "Olu", "Priya", "Quinn", "Rafael", "Sofia", "Tomás", "Uma", "Viktor",
    "Wen", "Xavier", "Yuki", "Zoë",
];
const LAST: &[&str] = &[
    "Abara",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Rossi",
    "Singh",
    "Tanaka",
    "Ünal",
    "Vargas",
    "渡辺",
    "Núñez",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Acme Corp", "acme.com"),
    ("Globex", "globex.io"),
    ("Initech", "initech.com"),
    ("Umbrella Health", "umbrella-health.org"),
    ("Stark Logistics", "starklogistics.com"),
    ("Wayne Analytics", "wayne-analytics.com"),
    ("Soylent Foods", "soylent.example"),
    ("Hooli", "hooli.xyz"),
    ("Tyrell Systems", "tyrell.systems"),
    ("Müller & Söhne GmbH", "mueller-soehne.de"),
    ("株式会社サクラ", "sakura.co.jp"),
];
const TOPICS: &[&str] = &[
    "Pricing",
    "Security",
    "Integration",
    "Onboarding",
    "Timeline",
    "Renewal",
    "Procurement",
    "Competition",
    "ROI",
    "Implementation",
    "Legal",
    "Support",
];
const COMPETITORS: &[&str] = &[
    "Gong",
    "Chorus",
    "Outreach",
    "Salesloft",
    "Avoma",
    "Fireflies",
];
const STAGES: &[&str] = &[
    "Discovery",
    "Qualification",
    "Demo",
    "Proposal",
    "Negotiation",
    "Closed Won",
];
const TYPES: &[&str] = &[
    "ZOOM",
    "GOOGLE_MEET",
    "MS_TEAMS",
    "RECORDING",
    "AIRCALL_RECORDING",
    "RINGCENTRAL",
    "OUTREACH",
    "HUBSPOT",
    "SALESLOFT",
    "DIALPAD",
    "GOTO_MEETING",
    "FRESHCALLER",
    "BLUE_JEANS",
    "FRONTSPIN",
    "TALKDESK",
];
const SENTENCES: &[&str] = &[
    "Thanks for making the time today.",
    "Could you walk me through how your team handles pricing approvals?",
    "We are comparing a few vendors before the end of the quarter.",
    "Security review usually takes about three weeks on our side.",
    "The integration with our CRM is the part I worry about most.",
    "Let me share the proposal and the rollout timeline after this call.",
    "Our budget was approved, but procurement wants a multi-year option.",
    "We tried another tool last year and adoption was low.",
    "Can you send the SOC 2 report and the data processing agreement?",
    "Onboarding for forty reps should be done in two sprints.",
    "Ça marche pour nous, merci beaucoup.",
    "Das klingt gut, wir brauchen aber eine deutsche Rechnung.",
    "来週までに見積もりをお送りします。",
    "What would a pilot with one team look like?",
];

pub const INTERNAL_DOMAIN: &str = "acme-revenue.com";

pub fn users(rng: &mut Rng, n: usize) -> Vec<User> {
    let mut out: Vec<User> = Vec::with_capacity(n);
    for i in 0..n.max(1) {
        let first = *rng.pick(FIRST);
        let last = *rng.pick(LAST);
        let local: String = format!("{}.{}{}", first, last, i)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let role = match i % 6 {
            0 => "MANAGER",
            5 => "OBSERVER",
            _ => "REP",
        };
        let manager_id = if role == "REP" {
            out.first().map(|m| m.id.clone())
        } else {
            None
        };
        out.push(User {
            id: rng.uuid(),
            email: format!("{local}@{INTERNAL_DOMAIN}"),
            name: format!("{first} {last}"),
            role: role.into(),
            is_recording: role != "OBSERVER",
            manager_id,
        });
    }
    out
}

/// A status for a call at `time`, given `anchor` as now.
fn status(rng: &mut Rng, time: DateTime<Utc>, anchor: DateTime<Utc>) -> &'static str {
    if time > anchor {
        return "SCHEDULED";
    }
    let age = anchor - time;
    if age < Duration::hours(2) {
        return *rng.pick(&["INPROGRESS", "WAITING_IN_QUEUE", "PROCESSING", "PROCESSED"]);
    }
    if rng.chance(88) {
        "POST_PROCESSING_DONE"
    } else {
        *rng.pick(&[
            "NO_DATA_INCALL",
            "ERROR_IN_TRANSCRIBE",
            "ERROR_IN_PROCESSING",
            "CALL_DID_NOT_HAPPEN",
            "NOBODY_JOINED_CALL",
            "BOTJOIN_DENIED",
            "UNABLE_TO_JOIN",
            "IGNORED_BY_USER",
            "PROCESSING",
        ])
    }
}

/// One generated call numbered `n`: its fields drawn from `rng` in the order of the API's
/// call record (the order of the draws is what makes a seed's workspace the same every time).
pub fn call(
    rng: &mut Rng,
    n: usize,
    users: &[User],
    anchor: DateTime<Utc>,
    time: Option<DateTime<Utc>>,
) -> Call {
    let time = time.unwrap_or_else(|| call_time(rng, anchor));
    let status = status(rng, time, anchor).to_string();
    let call_type = if n % 17 == 3 {
        "RECORDING".to_string()
    } else {
        rng.pick(TYPES).to_string()
    };
    let (company, domain) = *rng.pick(COMPANIES);
    let internal = internal_people(rng, users);
    let (external, person) = external_people(rng, domain, internal.len() as i64);
    let joined = joined(rng, &external);
    let processed = status == "POST_PROCESSING_DONE";
    let duration = if processed || status == "PROCESSED" {
        if rng.chance(10) {
            3600 + rng.below(3600)
        } else {
            120 + rng.below(2400)
        }
    } else {
        0
    };
    let crm = rng.chance(70).then(|| crm(rng, company, anchor, &external));
    let speakers = person.max(1);
    let transcript = transcript(rng, processed, speakers);
    let topics = topics(rng);
    let title = title(rng, &call_type, &crm, company);
    let competitors = competitors(rng, processed, speakers);
    let last_modified = last_modified(rng, &status, time, duration, anchor);
    Call {
        id: rng.uuid(),
        source_id: (call_type != "ZOOM").then(|| {
            if call_type == "RECORDING" {
                "REQUESTED_POST".into()
            } else {
                format!("src-{n}")
            }
        }),
        title,
        internal,
        external,
        joined,
        status,
        call_type: call_type.clone(),
        time,
        last_modified,
        duration,
        private: rng.chance(25),
        crm,
        transcript,
        topics,
        numeric_timestamps: rng.chance(50),
        competitors,
        calendar: call_type != "RECORDING" && rng.chance(60),
        bookmarks: if processed && rng.chance(20) {
            vec![time + Duration::seconds(90)]
        } else {
            vec![]
        },
    }
}

/// When a call happens: spread over the 180 days before the anchor, a few scheduled just
/// after it, a few very recent; whole milliseconds.
fn call_time(rng: &mut Rng, anchor: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = match rng.below(100) {
        0..=2 => -(rng.below(3 * 24 * 60) as i64) - 30,
        3..=6 => rng.below(90) as i64 + 1,
        _ => rng.below(180 * 24 * 60) as i64 + 120,
    };
    let t = anchor - Duration::minutes(minutes);
    t - Duration::milliseconds(t.timestamp_subsec_millis() as i64)
}

/// One to three of the workspace's users (each once), with their person ids.
fn internal_people(rng: &mut Rng, users: &[User]) -> Vec<(String, i64)> {
    let n_internal = 1 + rng.below(3) as usize;
    let mut internal: Vec<(String, i64)> = Vec::new();
    for i in 0..n_internal {
        let u = rng.pick(users);
        if !internal.iter().any(|(id, _)| *id == u.id) {
            internal.push((u.id.clone(), i as i64));
        }
    }
    internal
}

/// Up to three people of the customer's company, numbered from `person`; returns them and
/// the next person id.
fn external_people(rng: &mut Rng, domain: &str, mut person: i64) -> (Vec<Participant>, i64) {
    let mut external = Vec::new();
    for _ in 0..rng.below(4) {
        let first = *rng.pick(FIRST);
        let last = *rng.pick(LAST);
        let email_local: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        external.push(Participant {
            name: Some(format!("{first} {last}")),
            email: Some(format!(
                "{}@{domain}",
                if email_local.is_empty() {
                    "contact".into()
                } else {
                    email_local
                }
            )),
            phone: rng
                .chance(30)
                .then(|| format!("+1415555{:04}", rng.below(10_000))),
            person_id: Some(person),
        });
        person += 1;
    }
    (external, person)
}

/// The external people who joined, by name only, as Clari reports them.
fn joined(rng: &mut Rng, external: &[Participant]) -> Vec<Participant> {
    external
        .iter()
        .filter(|_| rng.chance(70))
        .map(|p| Participant {
            name: p.name.clone(),
            email: None,
            phone: None,
            person_id: None,
        })
        .collect()
}

/// The CRM deal a call is linked to.
fn crm(rng: &mut Rng, company: &str, anchor: DateTime<Utc>, external: &[Participant]) -> Crm {
    Crm {
        deal_name: format!(
            "{company} - {}",
            rng.pick(&["Expansion", "New Business", "Renewal", "Pilot"])
        ),
        deal_value: format!("{}", (5 + rng.below(200)) * 1000),
        deal_close_date: anchor + Duration::days(rng.below(120) as i64),
        deal_stage_before_call: rng.pick(STAGES).to_string(),
        deal_stage_live: rng.pick(STAGES).to_string(),
        account_name: company.to_string(),
        contact_names: external.iter().filter_map(|p| p.name.clone()).collect(),
        source_crm: rng.pick(&["SALESFORCE", "HUBSPOT"]).to_string(),
        deal_id: format!("006{:012}", rng.below(1_000_000_000_000)),
        account_id: format!("001{:012}", rng.below(1_000_000_000_000)),
        contact_ids: external
            .iter()
            .map(|_| format!("{:024x}", rng.next() as u128 * 7919))
            .collect(),
    }
}

/// A processed call's transcript (now and then none, now and then a long one); a turn now
/// and then names a speaker nobody on the call lists.
fn transcript(rng: &mut Rng, processed: bool, speakers: i64) -> Vec<Turn> {
    let turns = if !processed || rng.chance(5) {
        0
    } else if rng.chance(10) {
        300 + rng.below(300) as usize
    } else {
        4 + rng.below(30) as usize
    };
    let mut transcript = Vec::with_capacity(turns);
    let mut t = 1.0f64;
    for i in 0..turns {
        let len = 2.0 + rng.below(20) as f64 + rng.below(100) as f64 / 100.0;
        let annotations = if rng.chance(8) {
            vec![
                serde_json::json!({"tracker": rng.pick(TOPICS), "phrase": "price", "category": "Commercial"}),
            ]
        } else if rng.chance(4) {
            vec![serde_json::json!({"label": "Next steps", "phrase": "send the proposal"})]
        } else {
            vec![]
        };
        transcript.push(Turn {
            text: rng.pick(SENTENCES).to_string(),
            start: t,
            end: t + len,
            person_id: if i % 41 == 40 {
                speakers + 3
            } else {
                rng.below(speakers as u64) as i64
            },
            annotations,
        });
        t += len + 0.5;
    }
    transcript
}

/// Up to three distinct topics.
fn topics(rng: &mut Rng) -> Vec<String> {
    (0..rng.below(4))
        .map(|_| rng.pick(TOPICS).to_string())
        .fold(Vec::new(), |mut acc, x| {
            if !acc.contains(&x) {
                acc.push(x);
            }
            acc
        })
}

/// A title as sales teams write them: from the deal when there is one.
fn title(rng: &mut Rng, call_type: &str, crm: &Option<Crm>, company: &str) -> String {
    match (call_type, crm) {
        ("RECORDING", _) => format!("Recording: {} follow-up", company),
        (_, Some(c)) => format!(
            "{} – {}",
            c.deal_name,
            rng.pick(&[
                "Discovery call",
                "Demo",
                "Pricing review",
                "Security Q&A",
                "Kickoff"
            ])
        ),
        _ => format!("{company} intro call"),
    }
}

/// A competitor mention, on about a third of the processed calls.
fn competitors(rng: &mut Rng, processed: bool, speakers: i64) -> Vec<serde_json::Value> {
    if processed && rng.chance(35) {
        vec![serde_json::json!({
            "competitor_name": rng.pick(COMPETITORS),
            "sentiment": rng.pick(&["POSITIVE", "NEGATIVE", "NEUTRAL"]),
            "reasoning": "The buyer compared onboarding effort and price.",
            "personId": format!("{}", rng.below(speakers as u64)),
            "turn_start_time": format!("{:.1}", rng.below(600) as f64 + 0.5),
        })]
    } else {
        vec![]
    }
}

/// When Clari last changed the call: the day before for a scheduled one, otherwise minutes
/// after it ended; never after the anchor (plus a few milliseconds).
fn last_modified(
    rng: &mut Rng,
    status: &str,
    time: DateTime<Utc>,
    duration: u64,
    anchor: DateTime<Utc>,
) -> DateTime<Utc> {
    let last_modified = if status == "SCHEDULED" {
        time - Duration::days(1)
    } else {
        time + Duration::seconds(duration as i64) + Duration::minutes(5 + rng.below(40) as i64)
    };
    last_modified.min(anchor) + Duration::milliseconds(rng.below(1000) as i64)
}

/// A whole workspace.
pub fn workspace(seed: u64, calls: usize, n_users: usize, anchor: DateTime<Utc>) -> Workspace {
    workspace_over(seed, calls, n_users, anchor, 180)
}

/// A workspace whose calls are spread over `days` before the anchor (180 in [`workspace`]).
pub fn workspace_over(
    seed: u64,
    calls: usize,
    n_users: usize,
    anchor: DateTime<Utc>,
    days: u32,
) -> Workspace {
    let mut rng = Rng::new(seed);
    let users = users(&mut rng, n_users);
    let calls = (0..calls)
        .map(|n| {
            let time = (days != 180).then(|| spread_time(&mut rng, anchor, days));
            call(&mut rng, n, &users, anchor, time)
        })
        .collect();
    Workspace { users, calls, rng }
}

/// A time in the `days` before the anchor (two hours at least before it).
fn spread_time(rng: &mut Rng, anchor: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let minutes = rng.below(u64::from(days.max(1)) * 24 * 60) as i64 + 120;
    let t = anchor - Duration::minutes(minutes);
    t - Duration::milliseconds(t.timestamp_subsec_millis() as i64)
}
