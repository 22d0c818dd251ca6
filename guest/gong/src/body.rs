//! A call's searchable text: a header (date, duration, direction), the participants, the
//! CRM account and opportunity, Gong's AI blocks (brief, key points, outline, highlights,
//! outcome), topics and trackers, then the transcript as `[mm:ss] Speaker: text`, one line per
//! monologue. Absent blocks are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::crm::Crm;
use crate::iso;
use crate::people;
use crate::wire::{CallBasic, Content, Monologue, Party};

/// Everything the body is written from.
pub struct Parts<'a> {
    pub meta: &'a CallBasic,
    pub parties: &'a [Party],
    pub crm: &'a Crm,
    pub content: Option<&'a Content>,
    pub transcript: &'a [Monologue],
}

/// The body text.
pub fn render(p: &Parts) -> String {
    let mut out = String::new();
    header(&mut out, p.meta);
    participants(&mut out, p.parties);
    crm(&mut out, p.crm);
    if let Some(content) = p.content {
        summary_blocks(&mut out, content);
        outline_blocks(&mut out, content);
        tags_blocks(&mut out, content);
    }
    transcript(&mut out, p.parties, p.transcript);
    out.trim_end().to_string()
}

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A call's duration in whole minutes (rounded), from seconds.
pub fn minutes(seconds: Option<f64>) -> Option<i64> {
    let s = seconds.filter(|s| s.is_finite() && *s >= 0.0)?;
    // Saturating float-to-int conversion.
    Some((s / 60.0).round() as i64)
}

fn header(out: &mut String, meta: &CallBasic) {
    if let Some(ms) = meta.started_ms() {
        let _ = writeln!(out, "Date: {}", iso::readable_utc(ms));
    }
    if let Some(min) = minutes(meta.duration) {
        let _ = writeln!(out, "Duration: {min} min");
    }
    for (label, value) in [
        ("Direction", &meta.direction),
        ("Scope", &meta.scope),
        ("System", &meta.system),
        ("Purpose", &meta.purpose),
    ] {
        if let Some(v) = clean(value.as_deref()) {
            let _ = writeln!(out, "{label}: {v}");
        }
    }
    out.push('\n');
}

fn participants(out: &mut String, parties: &[Party]) {
    let lines: Vec<String> = parties.iter().filter_map(people::describe).collect();
    list(out, "Participants", lines.iter().map(String::as_str));
}

fn crm(out: &mut String, crm: &Crm) {
    let mut any = false;
    if let Some(account) = &crm.account {
        let _ = writeln!(out, "Account: {account}");
        any = true;
    }
    if let Some(opportunity) = &crm.opportunity {
        match &crm.stage {
            Some(stage) => {
                let _ = writeln!(out, "Opportunity: {opportunity} (stage: {stage})");
            }
            None => {
                let _ = writeln!(out, "Opportunity: {opportunity}");
            }
        }
        any = true;
    }
    if any {
        out.push('\n');
    }
}

fn summary_blocks(out: &mut String, c: &Content) {
    if let Some(brief) = clean(c.brief.as_deref()) {
        let _ = writeln!(out, "Brief:\n{brief}\n");
    }
    let points = c.key_points.iter().filter_map(|k| clean(k.text.as_deref()));
    list(out, "Key points", points);
}

fn outline_blocks(out: &mut String, c: &Content) {
    if !c.outline.is_empty() {
        out.push_str("Outline:\n");
        for section in &c.outline {
            if let Some(name) = clean(section.section.as_deref()) {
                let at = iso::offset_mm_ss(section.start_time.unwrap_or(0.0) * 1000.0);
                let _ = writeln!(out, "{name} ({at})");
            }
            for item in section
                .items
                .iter()
                .filter_map(|i| clean(i.text.as_deref()))
            {
                let _ = writeln!(out, "- {item}");
            }
        }
        out.push('\n');
    }
    if !c.highlights.is_empty() {
        out.push_str("Highlights:\n");
        for highlight in &c.highlights {
            if let Some(title) = clean(highlight.title.as_deref()) {
                let _ = writeln!(out, "{title}");
            }
            for item in highlight
                .items
                .iter()
                .filter_map(|i| clean(i.text.as_deref()))
            {
                let _ = writeln!(out, "- {item}");
            }
        }
        out.push('\n');
    }
    if let Some(outcome) = &c.call_outcome
        && let Some(name) = clean(outcome.name.as_deref()).or(clean(outcome.id.as_deref()))
    {
        match clean(outcome.category.as_deref()) {
            Some(category) => {
                let _ = writeln!(out, "Outcome: {name} ({category})\n");
            }
            None => {
                let _ = writeln!(out, "Outcome: {name}\n");
            }
        }
    }
}

fn tags_blocks(out: &mut String, c: &Content) {
    let topics: Vec<&str> = c
        .topics
        .iter()
        .filter_map(|t| clean(t.name.as_deref()))
        .collect();
    if !topics.is_empty() {
        let _ = writeln!(out, "Topics: {}\n", topics.join(", "));
    }
    let trackers: Vec<String> = c
        .trackers
        .iter()
        .filter_map(|t| {
            let name = clean(t.name.as_deref())?;
            Some(match t.count.filter(|n| *n >= 1.0) {
                Some(n) => format!("{name} ×{}", n.round() as i64),
                None => name.to_string(),
            })
        })
        .collect();
    if !trackers.is_empty() {
        let _ = writeln!(out, "Trackers: {}\n", trackers.join(", "));
    }
}

fn transcript(out: &mut String, parties: &[Party], monologues: &[Monologue]) {
    let speakers: BTreeMap<&str, &str> = people::speakers(parties);
    let mut header_written = false;
    for m in monologues {
        let text: Vec<&str> = m
            .sentences
            .iter()
            .filter_map(|s| clean(s.text.as_deref()))
            .collect();
        if text.is_empty() {
            continue;
        }
        if !header_written {
            out.push_str("Transcript:\n");
            header_written = true;
        }
        let start = m.sentences.iter().find_map(|s| s.start).unwrap_or(0.0);
        let speaker = m
            .speaker_id
            .as_deref()
            .and_then(|id| speakers.get(id.trim()).copied())
            .unwrap_or(people::UNKNOWN_SPEAKER);
        let _ = writeln!(
            out,
            "[{}] {speaker}: {}",
            iso::offset_mm_ss(start),
            text.join(" ")
        );
    }
}

/// A titled bullet list, left out when empty.
fn list<'a>(out: &mut String, title: &str, items: impl Iterator<Item = &'a str>) {
    let mut first = true;
    for item in items {
        if first {
            let _ = writeln!(out, "{title}:");
            first = false;
        }
        let _ = writeln!(out, "- {item}");
    }
    if !first {
        out.push('\n');
    }
}
