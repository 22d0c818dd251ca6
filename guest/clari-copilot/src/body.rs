//! The searchable text of a call: readable sections in a fixed order, each left out when
//! the call has nothing for it.
//!
//! ```text
//! <title>
//!
//! Call
//! Type, Date, Duration, Disposition, Organizer
//! Internal participants / External participants / Joined  (one "- Name <email>" a line)
//!
//! CRM context
//! Opportunity (id), Account (id), Deal stage before the call, Deal stage now, Deal value,
//! Close date, Contacts, Contact ids, CRM source
//!
//! AI summary                 full summary, then key takeaways
//! Action items               "- <item> (owner: <speaker>) [mm:ss-mm:ss]"
//! Key moments                topics discussed with time ranges and summaries; trackers;
//!                            transcript annotations (tracker hits, AI labels); bookmarks
//! Competitor mentions        "- <name> (<sentiment>) at [mm:ss] by <speaker>: <reasoning>"
//! Transcript                 "[mm:ss] Speaker Name: text" ("[--:--]" without a start)
//! ```

use std::fmt::Write as _;

use crate::people::People;
use crate::time;
use crate::vocab;
use crate::wire::{Annotation, Call};

/// Renders the body of `call` titled `title`.
pub fn render(call: &Call, title: &str) -> String {
    let people = People::of(call);
    let call_ms = call.time.as_deref().and_then(time::parse_ms);
    let sections = [
        metadata(call, &people, call_ms),
        crm(call),
        summary(call),
        action_items(call),
        key_moments(call, &people, call_ms),
        competitors(call, &people),
        transcript(call, &people),
    ];
    let mut out = String::from(title.trim());
    for section in sections.into_iter().flatten() {
        out.push_str("\n\n");
        out.push_str(section.trim_end());
    }
    out.push('\n');
    out
}

/// A section: its heading and lines; `None` without lines.
fn section(heading: &str, lines: Vec<String>) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let mut s = String::from(heading);
    for l in lines {
        s.push('\n');
        s.push_str(&l);
    }
    Some(s)
}

fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// One line of free text: runs of whitespace (Unicode's, as `split_whitespace`) folded into
/// one space, none at either end.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    one_line_into(&mut out, s);
    out
}

/// [`one_line`], appended to `out`.
///
/// Transcripts are mostly ASCII words between single spaces, and this runs over every turn:
/// such stretches are copied whole (a word at a time cost a copy call per word inside the
/// component), and bytes below 0x80 are judged without decoding a character.
fn one_line_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let at_start = out.len();
    // The stretch being kept: words separated by single spaces, `None` between stretches.
    let mut kept: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let (space, len) = whitespace_at(s, i);
        if len == 0 {
            break;
        }
        if !space {
            kept.get_or_insert(i);
            i += len;
            continue;
        }
        // One plain space between two words stays inside the stretch.
        let next_is_word = bytes.get(i + 1).is_some_and(|_| !whitespace_at(s, i + 1).0);
        if bytes[i] == b' ' && kept.is_some() && next_is_word {
            i += 1;
            continue;
        }
        if let Some(start) = kept.take() {
            push_word(out, at_start, &s[start..i]);
        }
        i += len;
    }
    if let Some(start) = kept {
        push_word(out, at_start, &s[start..]);
    }
}

/// Whether the character at byte `i` of `s` is whitespace, and its length (0 past the end).
fn whitespace_at(s: &str, i: usize) -> (bool, usize) {
    match s.as_bytes().get(i) {
        None => (false, 0),
        Some(&b) if b < 0x80 => (matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'), 1),
        Some(_) => match s.get(i..).and_then(|r| r.chars().next()) {
            Some(c) => (c.is_whitespace(), c.len_utf8()),
            None => (false, 0),
        },
    }
}

/// Appends a stretch of words, after one space unless it is the first since `at_start`.
fn push_word(out: &mut String, at_start: usize, words: &str) {
    if out.len() > at_start {
        out.push(' ');
    }
    out.push_str(words);
}

fn range(start: Option<f64>, end: Option<f64>) -> Option<String> {
    match (start, end) {
        (Some(s), Some(e)) => Some(format!("[{}-{}]", time::offset(s), time::offset(e))),
        (Some(s), None) => Some(format!("[{}]", time::offset(s))),
        (None, Some(e)) => Some(format!("[until {}]", time::offset(e))),
        (None, None) => None,
    }
}

fn metadata(call: &Call, people: &People, call_ms: Option<i64>) -> Option<String> {
    let mut lines = Vec::new();
    if let Some(t) = text(&call.call_type) {
        lines.push(format!("Type: {}", vocab::call_type(t)));
    }
    if let Some(ms) = call_ms {
        lines.push(format!("Date: {}", time::format_human(ms)));
    }
    if let Some(d) = call.metrics.as_ref().and_then(|m| m.call_duration) {
        lines.push(format!("Duration: {}", time::duration(d)));
    }
    if let Some(d) = text(&call.disposition) {
        lines.push(format!("Disposition: {}", vocab::disposition(d)));
    }
    if let Some(org) = people.organizer().and_then(|o| o.label()) {
        lines.push(format!("Organizer: {org}"));
    }
    let internal: Vec<String> = people
        .internal()
        .into_iter()
        .filter_map(|(s, org)| {
            s.label().map(|l| {
                if org {
                    format!("- {l} (organizer)")
                } else {
                    format!("- {l}")
                }
            })
        })
        .collect();
    if !internal.is_empty() {
        lines.push("Internal participants:".into());
        lines.extend(internal);
    }
    for (heading, list) in [
        ("External participants:", people.external()),
        ("Joined:", people.joined()),
    ] {
        let labels: Vec<String> = list
            .iter()
            .filter_map(|s| s.label())
            .map(|l| format!("- {l}"))
            .collect();
        if !labels.is_empty() {
            lines.push(heading.into());
            lines.extend(labels);
        }
    }
    section("Call", lines)
}

fn with_id(name: Option<&str>, id: Option<&str>) -> Option<String> {
    match (name, id) {
        (Some(n), Some(i)) => Some(format!("{n} (id {i})")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(i)) => Some(format!("id {i}")),
        (None, None) => None,
    }
}

fn crm(call: &Call) -> Option<String> {
    let info = call.crm_info.as_ref();
    let mut lines = Vec::new();
    let deal_id = info.and_then(|i| text(&i.deal_id));
    let account_id = info.and_then(|i| text(&i.account_id));
    if let Some(o) = with_id(text(&call.deal_name), deal_id) {
        lines.push(format!("Opportunity: {o}"));
    }
    if let Some(a) = with_id(text(&call.account_name), account_id) {
        lines.push(format!("Account: {a}"));
    }
    if let Some(s) = text(&call.deal_stage_before_call) {
        lines.push(format!("Deal stage before the call: {s}"));
    }
    if let Some(s) = text(&call.deal_stage_live) {
        lines.push(format!("Deal stage now: {s}"));
    }
    if let Some(v) = text(&call.deal_value) {
        lines.push(format!("Deal value: {v}"));
    }
    if let Some(d) = text(&call.deal_close_date) {
        let shown = time::parse_ms(d)
            .map(time::format_date)
            .unwrap_or_else(|| d.to_string());
        lines.push(format!("Close date: {shown}"));
    }
    let contacts: Vec<&str> = call
        .contact_names
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if !contacts.is_empty() {
        lines.push(format!("Contacts: {}", contacts.join(", ")));
    }
    if let Some(i) = info
        && !i.contact_ids.is_empty()
    {
        lines.push(format!("Contact ids: {}", i.contact_ids.join(", ")));
    }
    if let Some(s) = info.and_then(|i| text(&i.source_crm)) {
        lines.push(format!("CRM source: {s}"));
    }
    section("CRM context", lines)
}

fn summary(call: &Call) -> Option<String> {
    let s = call.summary.as_ref()?;
    let mut lines = Vec::new();
    if let Some(full) = text(&s.full_summary) {
        lines.push(full.to_string());
    }
    let takeaways: Vec<String> = s
        .key_takeaways
        .iter()
        .map(|t| one_line(t))
        .filter(|t| !t.is_empty())
        .map(|t| format!("- {t}"))
        .collect();
    if !takeaways.is_empty() {
        lines.push("Key takeaways:".into());
        lines.extend(takeaways);
    }
    section("AI summary", lines)
}

fn action_items(call: &Call) -> Option<String> {
    let items = call
        .summary
        .as_ref()
        .map(|s| s.key_action_items.as_slice())
        .unwrap_or(&[]);
    let lines = items
        .iter()
        .filter_map(|a| {
            let what = one_line(text(&a.action_item)?);
            let mut line = format!("- {what}");
            if let Some(owner) = text(&a.speaker_name) {
                let _ = write!(line, " (owner: {owner})");
            }
            if let Some(r) = range(a.start_timestamp, a.end_timestamp) {
                let _ = write!(line, " {r}");
            }
            Some(line)
        })
        .collect();
    section("Action items", lines)
}

fn key_moments(call: &Call, people: &People, call_ms: Option<i64>) -> Option<String> {
    let mut lines = Vec::new();
    for (header, part) in [
        ("Topics discussed:", topic_lines(call)),
        ("Trackers:", tracker_lines(call)),
        ("Transcript annotations:", annotation_lines(call, people)),
        ("Bookmarks:", bookmark_lines(call, call_ms)),
    ] {
        if !part.is_empty() {
            lines.push(header.to_string());
            lines.extend(part);
        }
    }
    section("Key moments", lines)
}

fn topic_lines(call: &Call) -> Vec<String> {
    let topics = call
        .summary
        .as_ref()
        .map(|s| s.topics_discussed.as_slice())
        .unwrap_or(&[]);
    topics
        .iter()
        .filter_map(|t| {
            let name = text(&t.name);
            let about = text(&t.summary).map(one_line);
            let head = match (name, &about) {
                (Some(n), Some(a)) => format!("{n}: {a}"),
                (Some(n), None) => n.to_string(),
                (None, Some(a)) => a.clone(),
                (None, None) => return None,
            };
            Some(match range(t.start_timestamp, t.end_timestamp) {
                Some(r) => format!("- {r} {head}"),
                None => format!("- {head}"),
            })
        })
        .collect()
}

fn tracker_lines(call: &Call) -> Vec<String> {
    let categories = call
        .metrics
        .as_ref()
        .map(|m| m.categories.as_slice())
        .unwrap_or(&[]);
    categories
        .iter()
        .filter_map(|c| {
            let name = text(&c.name)?;
            Some(match c.occurences {
                Some(n) if n <= 0 => return None,
                Some(1) => format!("- {name} (1 mention)"),
                Some(n) => format!("- {name} ({n} mentions)"),
                None => format!("- {name}"),
            })
        })
        .collect()
}

fn annotation_lines(call: &Call, people: &People) -> Vec<String> {
    let mut out = Vec::new();
    for turn in &call.transcript {
        for a in &turn.annotations {
            let at = turn
                .start
                .map(|s| format!("[{}] ", time::offset(s)))
                .unwrap_or_default();
            let who = people.speaker(turn.person_id);
            let quote = |p: &Option<String>| {
                text(p)
                    .map(|p| format!(": \"{}\"", one_line(p)))
                    .unwrap_or_default()
            };
            out.push(match a {
                Annotation::Tracker {
                    tracker,
                    phrase,
                    category,
                } => {
                    let cat = text(category)
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    format!(
                        "- {at}Tracker {tracker}{cat}{}, said by {who}",
                        quote(phrase)
                    )
                }
                Annotation::Label { label, phrase } => {
                    format!("- {at}AI label {label}{}, said by {who}", quote(phrase))
                }
            });
        }
    }
    out
}

fn bookmark_lines(call: &Call, call_ms: Option<i64>) -> Vec<String> {
    call.bookmark_timestamps
        .iter()
        .filter_map(|b| match (time::parse_ms(b), call_ms) {
            (Some(at), Some(start)) if at >= start => Some(format!(
                "- [{}]",
                time::offset((at - start) as f64 / 1000.0)
            )),
            (Some(at), _) => Some(format!("- {}", time::format_human(at))),
            (None, _) => None,
        })
        .collect()
}

fn competitors(call: &Call, people: &People) -> Option<String> {
    let lines = call
        .competitor_sentiments
        .iter()
        .filter_map(|c| {
            let name = text(&c.competitor_name)?;
            let mut line = format!("- {name}");
            if let Some(s) = text(&c.sentiment) {
                let _ = write!(line, " ({s})");
            }
            if let Some(t) = c.turn_start_time {
                let _ = write!(line, " at [{}]", time::offset(t));
            }
            if c.person_id.is_some() {
                let _ = write!(line, " by {}", people.speaker(c.person_id));
            }
            if let Some(r) = text(&c.reasoning) {
                let _ = write!(line, ": {}", one_line(r));
            }
            Some(line)
        })
        .collect();
    section("Competitor mentions", lines)
}

/// Written straight into the section (the longest by far): no string a turn.
fn transcript(call: &Call, people: &People) -> Option<String> {
    let mut out = String::from("Transcript");
    for turn in &call.transcript {
        let Some(said) = text(&turn.text) else {
            continue;
        };
        out.push_str("\n[");
        match turn.start {
            Some(s) => time::push_offset(&mut out, s),
            None => out.push_str("--:--"),
        }
        out.push_str("] ");
        out.push_str(&people.speaker(turn.person_id));
        out.push_str(": ");
        one_line_into(&mut out, said);
    }
    (out.len() > "Transcript".len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{one_line, one_line_into};

    #[test]
    fn one_line_appends_after_what_is_there_without_a_leading_space() {
        let mut out = String::from("[00:01] Ann: ");
        one_line_into(&mut out, "  two   words ");
        assert_eq!(out, "[00:01] Ann: two words");
        let mut empty = String::new();
        one_line_into(&mut empty, " \t ");
        assert_eq!(empty, "");
    }

    /// The reference: what `one_line` replaced.
    fn folded(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn one_line_folds_like_split_whitespace() {
        for s in [
            "",
            " ",
            "a",
            "  a  b\t\tc\n",
            "a\u{0B}b\u{0C}c\rd",
            "\u{A0}non-breaking\u{A0}",
            "x\u{2028}y\u{3000}z\u{85}",
            "héllo   wörld",
            "\u{1F600} \u{1F600}",
            "\u{1C}\u{1D} keeps control characters that are not spaces",
        ] {
            assert_eq!(one_line(s), folded(s), "{s:?}");
        }
        // Random strings over an alphabet heavy in whitespace of every kind.
        let alphabet = [
            ' ',
            '\t',
            '\n',
            '\r',
            '\u{0B}',
            '\u{0C}',
            '\u{85}',
            '\u{A0}',
            '\u{1680}',
            '\u{2000}',
            '\u{200A}',
            '\u{200B}',
            '\u{2028}',
            '\u{202F}',
            '\u{3000}',
            'a',
            'Z',
            'é',
            '世',
            '\u{1F600}',
            '\u{1C}',
            '.',
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize;
            let mut s = String::new();
            let mut x = seed;
            for _ in 0..len {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            assert_eq!(one_line(&s), folded(&s), "{s:?}");
        }
    }
}
