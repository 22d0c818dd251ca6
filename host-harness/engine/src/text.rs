//! Text that came from a guest, made safe to print or store: control characters (newlines,
//! carriage returns, ANSI escapes, NULs, bidi overrides) are escaped so a guest cannot forge
//! the host's own output, and length is capped so a guest cannot flood a terminal, a log or
//! the state database.
//!
//! This is the host's one escaping routine: the engine uses it for ids, reasons and errors in
//! its reports, the runtime for guest log lines and failed calls, and egress (re-exported as
//! `egress::quote`) for refusals that quote a guest's path, upstream or header name. Every
//! capped form escapes first and cuts the escaped text, so the cap bounds what is printed,
//! and never cuts inside an escape.

use std::fmt::Write;

/// The longest error message kept from a guest, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 2048;
/// The longest log line kept from a guest, in bytes.
pub const MAX_LOG_LINE_BYTES: usize = 2048;
/// The most log lines one export call may write; the rest are counted and dropped.
pub const MAX_LOG_LINES_PER_CALL: u32 = 1000;
/// The most log bytes one export call may write.
pub const MAX_LOG_BYTES_PER_CALL: usize = 256 * 1024;
/// The longest skip reason kept, in bytes.
pub const MAX_REASON_BYTES: usize = 200;
/// The longest id kept (Glean's limit on a document id).
pub const MAX_ID_BYTES: usize = 200;
/// The longest guest-derived text a crawl report line shows (a stop reason, a failure's
/// message), in bytes: room for a message already cut to [`MAX_MESSAGE_BYTES`] plus the
/// context around it, so cleaning it again cuts nothing.
pub const MAX_REPORT_TEXT_BYTES: usize = 2 * MAX_MESSAGE_BYTES;
/// The most characters of guest text a one-line message quotes ([`quote`]).
pub const MAX_QUOTED_CHARS: usize = 120;

/// Whether `c` could change how output looks beyond its own glyph.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Appends how `c` prints in host output: itself, or its escape (`\n`, `\r`, `\t`, `\u{1b}`...).
fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `text` escaped until the next character's printed form would take the output past `max`
/// (as `measure` counts it); with the byte offset in `text` where it stopped, if it had to.
fn escape_within(
    text: &str,
    max: usize,
    measure: impl Fn(&str) -> usize,
) -> (String, Option<usize>) {
    let mut out = String::with_capacity(text.len().min(max).saturating_add(16));
    let (mut used, mut piece) = (0usize, String::with_capacity(12));
    for (at, c) in text.char_indices() {
        piece.clear();
        push_shown(&mut piece, c);
        let n = measure(&piece);
        if used.saturating_add(n) > max {
            return (out, Some(at));
        }
        used += n;
        out.push_str(&piece);
    }
    (out, None)
}

/// `text` with every control or bidi character escaped (`\n`, `\r`, `\t`, `\u{1b}`...).
/// Escaping twice changes nothing more: the output holds no character it would escape.
pub fn escape(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    escape_within(text, usize::MAX, str::len).0
}

/// `text` cut to at most `max` bytes on a character boundary, saying how much was cut. Does
/// not escape: see [`clean`] for text that is printed.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes cut)", &text[..end], text.len() - end)
}

/// `text` escaped and cut to at most `max` bytes of escaped text, saying how many bytes of
/// `text` were cut: the result is one line of at most `max` bytes plus a short marker.
pub fn clean(text: &str, max: usize) -> String {
    match escape_within(text, max, str::len) {
        (out, None) => out,
        (mut out, Some(at)) => {
            let _ = write!(out, "… ({} more bytes cut)", text.len() - at);
            out
        }
    }
}

/// `text` made safe to quote inside a one-line host message (a refusal, a log line): escaped
/// and at most [`MAX_QUOTED_CHARS`] printed characters, then `…` if it was cut.
pub fn quote(text: &str) -> String {
    quote_at_most(text, MAX_QUOTED_CHARS)
}

/// [`quote`] capped at `max` printed characters (an escape counts as what it prints).
pub fn quote_at_most(text: &str, max: usize) -> String {
    let (mut out, cut) = escape_within(text, max, |p| p.chars().count());
    if cut.is_some() {
        out.push('…');
    }
    out
}

/// The log volume of one export call.
#[derive(Debug, Default)]
pub struct LogBudget {
    lines: u32,
    bytes: usize,
    dropped: u64,
}

impl LogBudget {
    /// Whether a line of `len` bytes may still be written; counts it either way.
    pub fn admit(&mut self, len: usize) -> bool {
        let len = len.min(MAX_LOG_LINE_BYTES);
        if self.lines >= MAX_LOG_LINES_PER_CALL || self.bytes + len > MAX_LOG_BYTES_PER_CALL {
            self.dropped += 1;
            return false;
        }
        self.lines += 1;
        self.bytes += len;
        true
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_output() {
        let forged = "ok\ncrawl completed: 999 indexed\r\x1b[2J\u{202e}x";
        let e = escape(forged);
        assert!(!e.chars().any(is_unsafe), "{e}");
        assert_eq!(
            e,
            "ok\\ncrawl completed: 999 indexed\\r\\u{1b}[2J\\u{202e}x"
        );
        assert_eq!(escape("plain – unicode ✓"), "plain – unicode ✓");
    }

    #[test]
    fn truncates_on_a_char_boundary_and_says_so() {
        let t = truncate(&"é".repeat(10), 5);
        assert!(t.starts_with("éé…"), "{t}");
        assert!(t.contains("16 more bytes cut"), "{t}");
        assert_eq!(truncate("short", 10), "short");
        let big = "x".repeat(10_000_000);
        assert!(clean(&big, MAX_MESSAGE_BYTES).len() < MAX_MESSAGE_BYTES + 64);
    }

    #[test]
    fn the_cap_bounds_the_escaped_text_and_never_splits_an_escape() {
        // Every byte a NUL: each prints as six characters, and the cap still holds.
        let nuls = "\0".repeat(10_000);
        let c = clean(&nuls, MAX_LOG_LINE_BYTES);
        assert!(c.len() < MAX_LOG_LINE_BYTES + 64, "{} bytes", c.len());
        assert!(c.starts_with("\\u{0}\\u{0}"), "{c}");
        let shown = c.split('…').next().unwrap_or_default();
        assert!(shown.ends_with("\\u{0}"), "an escape was split: {shown}");
        // Cleaning what was cleaned (with room for the marker) changes nothing.
        let once = clean(&nuls, MAX_MESSAGE_BYTES);
        assert_eq!(clean(&once, MAX_REPORT_TEXT_BYTES), once);
        assert_eq!(escape(&once), once);
    }

    #[test]
    fn quoted_text_is_one_bounded_line() {
        let forged = format!(
            "/x\r\nINFO crawl: full crawl completed\x1b[2J\0\u{202e}{}",
            "y".repeat(10_000)
        );
        let q = quote(&forged);
        assert!(!q.chars().any(is_unsafe), "{q}");
        assert!(q.starts_with("/x\\r\\nINFO"), "{q}");
        assert!(q.chars().count() <= MAX_QUOTED_CHARS + 1);
        assert!(q.ends_with('…'), "{q}");
        assert_eq!(quote("/calls?limit=1"), "/calls?limit=1");
        assert_eq!(quote_at_most("\u{1b}[2J", 5), "…");
    }

    #[test]
    fn log_budget_caps_lines_and_bytes() {
        let mut b = LogBudget::default();
        let admitted = (0..5000).filter(|_| b.admit(10)).count();
        assert_eq!(admitted, MAX_LOG_LINES_PER_CALL as usize);
        assert_eq!(b.dropped(), 5000 - u64::from(MAX_LOG_LINES_PER_CALL));
        let mut b = LogBudget::default();
        let admitted = (0..5000).filter(|_| b.admit(100_000)).count();
        assert_eq!(admitted, MAX_LOG_BYTES_PER_CALL / MAX_LOG_LINE_BYTES);
    }
}
