//! Guest text quoted in a host message (a refusal, a log line): control and bidi characters
//! escaped, so a path holding `\r\n` cannot put a forged line in the host's output, and the
//! length capped, so a guest cannot flood it. Every message of this crate that quotes a
//! guest's path, header name, upstream name or URL goes through [`quote`].

/// The most characters of guest text a message quotes.
pub const MAX_QUOTED_CHARS: usize = 120;

/// `text` made safe to print inside a host message.
pub fn quote(text: &str) -> String {
    quote_at_most(text, MAX_QUOTED_CHARS)
}

/// [`quote`] capped at `max` printed characters (escapes count as what they print).
pub fn quote_at_most(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    let mut shown = 0usize;
    for c in text.chars() {
        let piece: String = if unsafe_char(c) {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        if shown + n > max {
            out.push('…');
            break;
        }
        shown += n;
        out.push_str(&piece);
    }
    out
}

/// Whether `c` could change how output looks beyond its own glyph.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_one_bounded_line() {
        let forged = format!(
            "/x\r\nINFO crawl: full crawl completed\x1b[2J\0\u{202e}{}",
            "y".repeat(10_000)
        );
        let q = quote(&forged);
        assert!(!q.chars().any(unsafe_char), "{q}");
        assert!(q.starts_with("/x\\r\\nINFO"), "{q}");
        assert!(q.chars().count() <= MAX_QUOTED_CHARS + 1);
        assert_eq!(quote("/calls?limit=1"), "/calls?limit=1");
    }
}
