//! Text that came from a guest, made safe to print or store: control characters (newlines,
//! carriage returns, ANSI escapes, bidi overrides) are escaped so a guest cannot forge the
//! host's own output, and length is capped so a guest cannot flood a terminal, a log or the
//! state database.

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

/// Whether `c` could change how output looks beyond its own glyph.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with every control or bidi character escaped (`\n`, `\r`, `\t`, `\u{1b}`...).
pub fn escape(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
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
    out
}

/// `text` cut to at most `max` bytes on a character boundary, saying how much was cut.
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

/// Escaped, and at most about `max` bytes of escaped text (an escape is never split): the
/// cap holds for what is printed, so 10,000 control characters cannot print as 60 KB.
pub fn clean(text: &str, max: usize) -> String {
    let escaped = escape(&truncate(text, max));
    if escaped.len() <= max.saturating_add(48) {
        return escaped;
    }
    // Cut the escaped text after the last whole character or escape within `max`.
    let mut out = String::with_capacity(max + 48);
    let mut shown_input = 0usize;
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut [0u8; 4]));
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
        shown_input += c.len_utf8();
    }
    out.push_str(&format!(
        "… ({} more bytes cut)",
        text.len().saturating_sub(shown_input)
    ));
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
        // The cap holds for the escaped text too: control characters print several bytes each.
        let nuls = "\u{0}".repeat(10_000);
        let cleaned = clean(&nuls, MAX_MESSAGE_BYTES);
        assert!(
            cleaned.len() < MAX_MESSAGE_BYTES + 64,
            "{} bytes",
            cleaned.len()
        );
        assert!(cleaned.ends_with("more bytes cut)"), "{cleaned}");
        assert!(!cleaned.contains('\u{0}'));
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
