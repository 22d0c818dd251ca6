//! Small formatting helpers for the console's pages: times, durations, highlighting of query
//! terms in already-plain text (escaped by the template, marked with `<mark>`).

use maud::{Markup, html};

/// `2026-11-25 14:03 UTC`.
pub fn utc(epoch_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_seconds, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A time for people: UTC in the page (`2026-11-25 14:03 UTC`), in a `<time>` element whose
/// `datetime` the page's script reads to add the viewer's local time beside it.
pub fn when(epoch_seconds: i64) -> Markup {
    match chrono::DateTime::from_timestamp(epoch_seconds, 0) {
        Some(d) => html! {
            time datetime=(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (utc(epoch_seconds)) }
        },
        None => html! { "?" },
    }
}

/// [`when`] of an ISO 8601 time (unparsable text is shown as given).
pub fn when_iso(iso: &str) -> Markup {
    match chrono::DateTime::parse_from_rfc3339(iso) {
        Ok(d) => when(d.timestamp()),
        Err(_) => html! { (iso) },
    }
}

/// The page's script: each `<time datetime>` gets the viewer's local time beside the UTC
/// text (nothing else runs; the text stays right without it).
pub const LOCAL_TIME_SCRIPT: &str = r#"document.querySelectorAll('time[datetime]').forEach(function(t){var d=new Date(t.getAttribute('datetime'));if(isNaN(d))return;var s=document.createElement('span');s.className='local-time';s.textContent=' ('+d.toLocaleString([], {year:'numeric',month:'2-digit',day:'2-digit',hour:'2-digit',minute:'2-digit'})+' your time)';t.after(s);});"#;

/// `3 min ago`, `in 40 s`.
pub fn relative(epoch_seconds: i64, now: i64) -> String {
    let d = now - epoch_seconds;
    let (n, future) = (d.unsigned_abs(), d < 0);
    let text = match n {
        0..=59 => format!("{n} s"),
        60..=3599 => format!("{} min", n / 60),
        3600..=172_799 => format!("{} h", n / 3600),
        _ => format!("{} days", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

pub fn seconds(s: u64) -> String {
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// `text` with every case-insensitive occurrence of a query term wrapped in `<mark>`; all
/// text is escaped by maud.
pub fn highlight(text: &str, query: &str) -> Markup {
    let terms: Vec<String> = query
        .split_whitespace()
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty())
        .collect();
    // Byte ranges to mark, found on a lowercase copy with the same char boundaries.
    let lower: String = text
        .chars()
        .map(|c| {
            let l: Vec<char> = c.to_lowercase().collect();
            if l.len() == 1 && l[0].len_utf8() == c.len_utf8() {
                l[0]
            } else {
                c
            }
        })
        .collect();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for t in &terms {
        let mut from = 0;
        while let Some(i) = lower[from..].find(t.as_str()) {
            let start = from + i;
            ranges.push((start, start + t.len()));
            from = start + t.len().max(1);
        }
    }
    ranges.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut at = 0;
    for (a, b) in merged {
        if !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        parts.push((false, &text[at..a]));
        parts.push((true, &text[a..b]));
        at = b;
    }
    parts.push((false, &text[at..]));
    html! {
        @for (marked, part) in parts {
            @if marked { mark { (part) } } @else { (part) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_marks_terms_and_escapes_everything() {
        let m = highlight("Pricing <b>talk</b> about PRICING", "pricing");
        assert_eq!(
            m.into_string(),
            "<mark>Pricing</mark> &lt;b&gt;talk&lt;/b&gt; about <mark>PRICING</mark>"
        );
        let m = highlight("<script>x</script>", "script");
        assert_eq!(
            m.into_string(),
            "&lt;<mark>script</mark>&gt;x&lt;/<mark>script</mark>&gt;"
        );
        assert_eq!(
            highlight("Ünïcode ß", "ß").into_string(),
            "Ünïcode <mark>ß</mark>"
        );
    }

    #[test]
    fn times_read_well() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(relative(100, 280), "3 min ago");
        assert_eq!(relative(300, 260), "in 40 s");
        assert_eq!(seconds(3725), "1 h 2 min");
    }
}
