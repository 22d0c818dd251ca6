//! Secret scrubbing for a connector host.
//!
//! The host injects credentials into outgoing HTTP requests; an upstream may echo
//! them back (debug endpoints, error pages). [`Scrubber`] finds every secret value
//! in raw form and in the usual encodings (percent/form encoding, base64 alone or
//! embedded as in Basic auth, JSON escaping, hex) and replaces it with [`REDACTED`].
//!
//! All forms are compiled into one ASCII-case-insensitive Aho-Corasick automaton;
//! every candidate match is then verified against a per-byte mask, so only hex
//! digits (in `%XX`, `\uXXXX` and hex forms) compare case-insensitively while raw
//! and base64 bytes stay case-sensitive. Overlapping matches are merged, so a secret
//! that contains (or overlaps) another is replaced whole.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// Replacement text for every secret occurrence.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this many bytes are ignored.
const MIN_SECRET_LEN: usize = 4;
/// Embedded-base64 cores shorter than this are not used (too many false positives).
const MIN_CORE_LEN: usize = 8;

/// `NON_ALPHANUMERIC` minus the bytes in `keep`.
const fn encode_all_but(keep: &[u8]) -> AsciiSet {
    let mut set = NON_ALPHANUMERIC.add(b'%'); // an owned copy ('%' is already in it)
    let mut i = 0;
    while i < keep.len() {
        set = set.remove(keep[i]);
        i += 1;
    }
    set
}
/// RFC 3986 unreserved; WHATWG `application/x-www-form-urlencoded`; JS `encodeURIComponent`.
const UNRESERVED: &AsciiSet = &encode_all_but(b"-._~");
const FORM: &AsciiSet = &encode_all_but(b"*-._");
const COMPONENT: &AsciiSet = &encode_all_but(b"-_.!~*'()");

/// One searchable form: its bytes plus which bytes may differ in ASCII case.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Pattern {
    bytes: Vec<u8>,
    fold: Vec<bool>,
}

impl Pattern {
    fn exact(bytes: &[u8]) -> Self {
        let mut p = Self::default();
        p.push(bytes, false);
        p
    }
    fn push(&mut self, bytes: &[u8], fold: bool) {
        self.bytes.extend_from_slice(bytes);
        self.fold.extend(std::iter::repeat_n(fold, bytes.len()));
    }
    /// Builds a pattern from percent-encoded text: the two digits after each `%` fold case.
    /// (`%` is always in the encode set, so every `%` in the text starts an escape.)
    fn from_percent(text: &str) -> Self {
        let bytes = text.as_bytes().to_vec();
        let mut fold = vec![false; bytes.len()];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'%' {
                fold.iter_mut().skip(i + 1).take(2).for_each(|f| *f = true);
            }
        }
        Self { bytes, fold }
    }
    /// Whether `hay` (same length) equals this pattern under its case mask.
    fn verify(&self, hay: &[u8]) -> bool {
        hay.len() == self.bytes.len()
            && self
                .bytes
                .iter()
                .zip(hay)
                .zip(&self.fold)
                .all(|((&p, &h), &f)| p == h || (f && p.eq_ignore_ascii_case(&h)))
    }
}

struct Inner {
    /// Over the patterns' prefixes (see [`PREFIX_LEN`]); `None` only if it could not be
    /// built, and then a naive scan is used.
    automaton: Option<AhoCorasick>,
    /// For each prefix of the automaton, the patterns that start with it.
    by_prefix: Vec<Vec<usize>>,
    patterns: Vec<Pattern>,
    secrets: usize,
}

/// The automaton holds each pattern's first bytes only; a prefix found is verified against the
/// whole pattern. A Scrubber is built for every crawl (secrets are read again each time), and
/// an automaton of whole patterns (twenty-odd encodings of each secret) took a tenth of the
/// host's CPU per unchanged crawl in the density benchmark; prefixes cut its size several-fold.
const PREFIX_LEN: usize = 12;

/// Finds and redacts secret values in every supported encoding. Cheap to clone.
#[derive(Clone)]
pub struct Scrubber {
    inner: Arc<Inner>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.inner.secrets)
            .field("patterns", &self.inner.patterns.len())
            .finish()
    }
}

impl Scrubber {
    /// Builds the matcher for these secret values. Values shorter than 4 bytes are ignored (too short to be credentials; replacing them would mangle text).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(secrets: I) -> Self {
        let mut values: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        values.sort();
        values.dedup();
        let mut patterns: Vec<Pattern> = values.iter().flat_map(|s| forms(s)).collect();
        patterns.sort();
        patterns.dedup();
        let mut prefixes: Vec<&[u8]> = Vec::new();
        let mut by_prefix: Vec<Vec<usize>> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let prefix = &p.bytes[..p.bytes.len().min(PREFIX_LEN)];
            match prefixes.iter().position(|q| q.eq_ignore_ascii_case(prefix)) {
                Some(at) => by_prefix[at].push(i),
                None => {
                    prefixes.push(prefix);
                    by_prefix.push(vec![i]);
                }
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            // A contiguous NFA: a Scrubber is built for every crawl (secrets are read again
            // each time), and a DFA's construction was a tenth of the host's CPU in the
            // density benchmark; searching the few patterns of a tenant's secrets does not
            // need a DFA's speed.
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&prefixes)
                .ok()
        };
        Self {
            inner: Arc::new(Inner {
                automaton,
                by_prefix,
                patterns,
                secrets: values.len(),
            }),
        }
    }

    /// Whether no secret (of at least 4 bytes) was given.
    pub fn is_empty(&self) -> bool {
        self.inner.secrets == 0
    }

    /// Whether `bytes` contains any form of any secret.
    pub fn contains(&self, bytes: &[u8]) -> bool {
        let mut found = false;
        self.for_each_match(bytes, |_, _| {
            found = true;
            false
        });
        found
    }

    /// `bytes` with every occurrence of every form replaced by REDACTED (leftmost-longest matching, so a secret containing another is replaced whole). Returns Cow::Borrowed when nothing matched.
    ///
    /// Stronger than plain leftmost-longest: all occurrences, including overlapping
    /// ones, are found and each merged span is replaced once, so no fragment survives.
    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut spans = Vec::new();
        self.for_each_match(bytes, |s, e| {
            spans.push((s, e));
            true
        });
        if spans.is_empty() {
            return Cow::Borrowed(bytes);
        }
        spans.sort_unstable();
        let mut out = Vec::with_capacity(bytes.len());
        let mut pos = 0;
        let mut iter = spans.into_iter().peekable();
        while let Some((start, mut end)) = iter.next() {
            while let Some(&(s, e)) = iter.peek() {
                if s >= end {
                    break;
                }
                end = end.max(e);
                iter.next();
            }
            out.extend_from_slice(&bytes[pos..start]);
            out.extend_from_slice(REDACTED.as_bytes());
            pos = end;
        }
        out.extend_from_slice(&bytes[pos..]);
        Cow::Owned(out)
    }

    /// `text` with every secret form replaced by REDACTED; the result is valid UTF-8.
    pub fn scrub_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.scrub_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Every pattern is either ASCII or a whole valid UTF-8 string, so spans fall
            // on char boundaries; the lossy fallback only guards that invariant.
            Cow::Owned(v) => Cow::Owned(match String::from_utf8(v) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        }
    }

    /// Calls `f(start, end)` for every verified match until it returns false.
    fn for_each_match(&self, hay: &[u8], mut f: impl FnMut(usize, usize) -> bool) {
        let inner = &*self.inner;
        if let Some(ac) = &inner.automaton {
            for m in ac.find_overlapping_iter(hay) {
                for &i in &inner.by_prefix[m.pattern().as_usize()] {
                    let p = &inner.patterns[i];
                    let end = m.start() + p.bytes.len();
                    let Some(window) = hay.get(m.start()..end) else {
                        continue;
                    };
                    if p.verify(window) && !f(m.start(), end) {
                        return;
                    }
                }
            }
        } else {
            for p in &inner.patterns {
                let n = p.bytes.len(); // never 0: secrets have at least 4 bytes
                for (start, window) in hay.windows(n).enumerate() {
                    if p.verify(window) && !f(start, start + n) {
                        return;
                    }
                }
            }
        }
    }
}

/// Every searchable form of one secret.
fn forms(secret: &str) -> Vec<Pattern> {
    let raw = secret.as_bytes();
    let mut out = vec![Pattern::exact(raw)];
    // Percent / form encoding (hex digits fold case, so upper and lower both match).
    for set in [UNRESERVED, FORM, COMPONENT] {
        let enc = percent_encode(raw, set).to_string();
        out.push(Pattern::from_percent(&enc.replace("%20", "+")));
        out.push(Pattern::from_percent(&enc));
    }
    let full: String = raw.iter().map(|b| format!("%{b:02X}")).collect();
    out.push(Pattern::from_percent(&full));
    // Base64 of the secret alone.
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(Pattern::exact(engine.encode(raw).as_bytes()));
    }
    // Base64 of the secret embedded at each alignment: keep only the characters whose
    // six bits all come from the secret.
    for align in 0..3usize {
        let mut buf = vec![0u8; align];
        buf.extend_from_slice(raw);
        let enc = STANDARD_NO_PAD.encode(&buf);
        let first = (8 * align).div_ceil(6);
        let last = 8 * (align + raw.len()) / 6;
        if let Some(core) = enc.get(first..last).filter(|c| c.len() >= MIN_CORE_LEN) {
            out.push(Pattern::exact(core.as_bytes()));
            let url = core.replace('+', "-").replace('/', "_");
            out.push(Pattern::exact(url.as_bytes()));
        }
    }
    // JSON string escaping: plain, with `\/`, and ASCII-only (`\uXXXX` for non-ASCII).
    for (slash, ascii) in [(false, false), (true, false), (false, true), (true, true)] {
        let p = json_escape(secret, slash, ascii);
        if p.bytes != raw {
            out.push(p);
        }
    }
    // Hex of the bytes (folds case, so upper and lower both match).
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut p = Pattern::default();
    p.push(hex.as_bytes(), true);
    out.push(p);
    out
}

/// serde_json-style escaping of `s` (without the surrounding quotes).
fn json_escape(s: &str, slash: bool, ascii: bool) -> Pattern {
    let mut p = Pattern::default();
    let mut buf = [0u16; 2];
    for c in s.chars() {
        match c {
            '"' => p.push(b"\\\"", false),
            '\\' => p.push(b"\\\\", false),
            '/' if slash => p.push(b"\\/", false),
            '\u{8}' => p.push(b"\\b", false),
            '\u{c}' => p.push(b"\\f", false),
            '\n' => p.push(b"\\n", false),
            '\r' => p.push(b"\\r", false),
            '\t' => p.push(b"\\t", false),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                for unit in c.encode_utf16(&mut buf) {
                    p.push(b"\\u", false);
                    p.push(format!("{unit:04x}").as_bytes(), true);
                }
            }
            c => p.push(c.encode_utf8(&mut [0u8; 4]).as_bytes(), false),
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "s3cr3t-Key/with+chars=";
    const B: &str = "hunter2-very-secret";

    /// Asserts `form` is found and removed when surrounded by ordinary text.
    fn assert_redacted(sc: &Scrubber, form: &str) {
        let text = format!("echo: <{form}> end");
        assert!(sc.contains(text.as_bytes()), "not found: {form}");
        let want = format!("echo: <{REDACTED}> end");
        assert_eq!(&*sc.scrub_bytes(text.as_bytes()), want.as_bytes(), "{form}");
        assert!(matches!(sc.scrub_str(&text), Cow::Owned(s) if s == want));
    }

    /// Independent percent encoder: with `Some(keep)`, alphanumerics and `keep` stay raw.
    fn pct(s: &str, keep: Option<&[u8]>, plus: bool, lower: bool) -> String {
        let raw = |b: u8| keep.is_some_and(|k| b.is_ascii_alphanumeric() || k.contains(&b));
        let enc = |b: u8| match (b, plus, lower) {
            (b' ', true, _) => "+".to_owned(),
            (b, ..) if raw(b) => (b as char).to_string(),
            (b, _, false) => format!("%{b:02X}"),
            (b, _, true) => format!("%{b:02x}"),
        };
        s.bytes().map(enc).collect()
    }

    fn all_forms(s: &str) -> Vec<String> {
        let r = s.as_bytes();
        let json = s.replace('\\', "\\\\").replace('"', "\\\"");
        let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let mut v = vec![s.to_owned(), json.replace('/', "\\/"), json];
        let keeps: [Option<&[u8]>; 3] = [Some(b"-._~"), Some(b"*-._"), None];
        for (keep, plus, lower) in keeps
            .into_iter()
            .flat_map(|k| [(k, k.is_some(), false), (k, false, true)])
        {
            v.push(pct(s, keep, plus, lower));
        }
        v.extend([hex.to_uppercase(), hex]);
        v.extend([STANDARD.encode(r), STANDARD_NO_PAD.encode(r)]);
        v.extend([URL_SAFE.encode(r), URL_SAFE_NO_PAD.encode(r)]);
        v
    }

    #[test]
    fn every_form_of_both_secrets_is_found_and_removed() {
        let sc = Scrubber::new([A, B]);
        for secret in [A, B] {
            for form in all_forms(secret) {
                assert_redacted(&sc, &form);
            }
        }
        // Mixed-case hex digits in a percent escape still match.
        assert_redacted(&sc, "s3cr3t-Key%2fwith%2Bchars%3d");
    }

    #[test]
    fn form_encoding_with_space_and_json_control_chars() {
        let s = "pass word\t\"q\"/x";
        let sc = Scrubber::new([s]);
        assert_redacted(&sc, "pass+word%09%22q%22%2Fx");
        assert_redacted(&sc, "pass%20word%09%22q%22%2Fx");
        assert_redacted(&sc, r#"pass word\t\"q\"/x"#);
        assert_redacted(&sc, r#"pass word\t\"q\"\/x"#);
        let ctl = Scrubber::new(["ab\u{1f}cd"]);
        assert_redacted(&ctl, r"ab\u001fcd");
        assert_redacted(&ctl, r"ab\u001Fcd");
    }

    #[test]
    fn secrets_sharing_a_long_prefix_are_each_found_whole() {
        let (one, two) = ("shared-prefix-0123-alpha", "shared-prefix-0123-beta");
        let sc = Scrubber::new([one, two]);
        assert_redacted(&sc, one);
        assert_redacted(&sc, two);
        assert!(
            !sc.contains(b"shared-prefix-0123-gamma"),
            "a prefix alone is no match"
        );
        assert!(
            !sc.contains(b"shared-prefix-01"),
            "nor is a cut-off one at the end"
        );
        assert_eq!(
            sc.scrub_str("a shared-prefix-0123-beta and shared-prefix-0123-alpha."),
            "a [REDACTED] and [REDACTED]."
        );
    }

    #[test]
    fn naive_fallback_matches_like_the_automaton() {
        let (patterns, automaton) = (forms(B), None);
        let sc = Scrubber {
            inner: Arc::new(Inner {
                automaton,
                by_prefix: Vec::new(),
                patterns,
                secrets: 1,
            }),
        };
        for form in all_forms(B) {
            assert_redacted(&sc, &form);
        }
        assert!(!sc.contains(b"hunt"));
    }

    #[test]
    fn raw_and_base64_forms_stay_case_sensitive() {
        let sc = Scrubber::new([A, B]);
        assert!(!sc.contains(B.to_uppercase().as_bytes()));
        assert!(!sc.contains(STANDARD.encode(B).to_lowercase().as_bytes()));
        assert!(!sc.contains(b"S3CR3T-KEY%2Fwith%2Bchars%3D"));
    }

    #[test]
    fn basic_auth_base64_detected_at_every_alignment() {
        let sc = Scrubber::new([A, B]);
        for secret in [A, B] {
            // Prefix lengths 6, 7, 8 put the secret at offsets 0, 1, 2 mod 3.
            for prefix in ["alice:", "alice1:", "alice12:"] {
                for suffix in ["", ":x", "\n"] {
                    let plain = format!("{prefix}{secret}{suffix}");
                    for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
                        let enc = engine.encode(&plain);
                        let header = format!("Authorization: Basic {enc}");
                        assert!(sc.contains(header.as_bytes()), "{prefix}|{suffix}");
                        let out = sc.scrub_str(&header);
                        assert!(out.contains(REDACTED));
                        assert!(!sc.contains(out.as_bytes()));
                        assert!(!out.contains(&enc));
                    }
                }
            }
        }
    }

    #[test]
    fn clean_text_is_borrowed_and_unchanged() {
        let sc = Scrubber::new([A, B]);
        let text = "HTTP/1.1 200 OK\r\nAuthorization: Basic YWxpY2U6cGFzc3dvcmQ=\r\n{\"hunter\":\"secret\"}";
        assert!(!sc.contains(text.as_bytes()));
        let b = text.as_bytes();
        assert!(matches!(sc.scrub_bytes(b), Cow::Borrowed(x) if x == b));
        assert!(matches!(sc.scrub_str(text), Cow::Borrowed(t) if t == text));
        assert!(matches!(sc.scrub_str(""), Cow::Borrowed("")));
    }

    #[test]
    fn short_secrets_are_ignored() {
        let sc = Scrubber::new(["abc", "", "x"]);
        assert!(sc.is_empty());
        assert!(!sc.contains(b"abc x"));
        assert!(matches!(sc.scrub_str("abc x"), Cow::Borrowed(_)));
        let sc = Scrubber::new(vec!["abc".to_string(), B.to_string()]);
        assert!(!sc.is_empty());
        assert_eq!(sc.scrub_str(&format!("abc {B}")), format!("abc {REDACTED}"));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let sc = Scrubber::new([A, B]);
        let dbg = format!("{sc:?} {:#?}", sc.clone());
        assert!(!sc.contains(dbg.as_bytes()), "{dbg}");
        assert!(!dbg.contains("hunter") && !dbg.contains("s3cr3t"));
        assert!(dbg.contains("Scrubber"));
    }

    #[test]
    fn scrub_str_keeps_valid_utf8() {
        let s = "pässwörd-ü€🔑";
        let sc = Scrubber::new([s, B]);
        let ascii = r"p\u00e4ssw\u00f6rd-\u00fc\u20ac\ud83d\udd11";
        let text = format!("héllo {s} wörld {B} — {ascii} ✓");
        let out = sc.scrub_str(&text);
        assert_eq!(out.matches(REDACTED).count(), 3, "{out}");
        assert!(out.starts_with("héllo ") && out.ends_with(" ✓"));
        assert!(std::str::from_utf8(out.as_bytes()).is_ok());
        assert_redacted(&sc, r"p\u00E4ssw\u00F6rd-\u00FC\u20AC\uD83D\uDD11");
    }

    #[test]
    fn containing_and_overlapping_secrets_are_replaced_whole() {
        let sc = Scrubber::new(["very", B]);
        let (text, r) = (format!("x {B} y very z"), REDACTED);
        assert_eq!(sc.scrub_str(&text), format!("x {r} y {r} z"));
        let sc = Scrubber::new(["abcdef12", "ef12ghij"]);
        assert_eq!(sc.scrub_str("<abcdef12ghij>"), format!("<{REDACTED}>"));
    }
}
