//! Secret values and their redaction. A [`Secret`] never prints itself; a [`Redactor`] scrubs
//! every known secret out of text before it reaches a log line, an error or a file.

use std::fmt;
use std::sync::{Arc, RwLock};

pub use super::scrub::REDACTED;
use super::scrub::Scrubber;

/// A credential value. `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Finds and replaces every registered secret, raw or encoded (percent-encoding, base64 alone
/// or inside a larger value, JSON escapes, hex: see [`Scrubber`]). Cheap to clone; shared by
/// everything that writes and by the egress engine, which scrubs answers before a guest sees
/// them.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<RwLock<(Vec<Secret>, Scrubber)>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        let none: [&str; 0] = [];
        Redactor {
            inner: Arc::new(RwLock::new((Vec::new(), Scrubber::new(none)))),
        }
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `secret`. Values shorter than 4 characters are not registered: replacing them
    /// would mangle ordinary text, and such a value is not a credential worth the name.
    pub fn register(&self, secret: &Secret) {
        if secret.expose().len() < 4 {
            return;
        }
        // A poisoned lock still holds a valid list: recover it rather than stop redacting.
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !guard.0.contains(secret) {
            guard.0.push(secret.clone());
            let scrubber = Scrubber::new(guard.0.iter().map(Secret::expose));
            guard.1 = scrubber;
        }
    }

    /// Registers every one of `secrets` ([`Redactor::register`]'s rules), building the
    /// scrubber once for all of them (it is an automaton over every encoding of every secret:
    /// built once per secret, it was a visible share of an unchanged crawl's CPU).
    pub fn register_all<'a>(&self, secrets: impl IntoIterator<Item = &'a Secret>) {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let before = guard.0.len();
        for secret in secrets {
            if secret.expose().len() >= 4 && !guard.0.contains(secret) {
                guard.0.push(secret.clone());
            }
        }
        if guard.0.len() != before {
            let scrubber = Scrubber::new(guard.0.iter().map(Secret::expose));
            guard.1 = scrubber;
        }
    }

    /// Whether the secrets registered are exactly `secrets` (in any order, once each).
    pub fn holds_exactly<'a>(&self, secrets: impl IntoIterator<Item = &'a Secret>) -> bool {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for s in secrets {
            if s.expose().len() < 4 {
                continue;
            }
            if !guard.0.contains(s) {
                return false;
            }
            n += 1;
        }
        n == guard.0.len()
    }

    fn scrubber(&self) -> Scrubber {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// `text` with every registered secret, in any known encoding, replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        self.scrubber().scrub_str(text).into_owned()
    }

    /// `bytes` with every registered secret replaced, and whether anything was.
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> (Vec<u8>, bool) {
        let scrubber = self.scrubber();
        match scrubber.scrub_bytes(&bytes) {
            std::borrow::Cow::Borrowed(_) => (bytes, false),
            std::borrow::Cow::Owned(clean) => (clean, true),
        }
    }

    /// Whether `bytes` carry a registered secret in any known encoding.
    pub fn contains(&self, bytes: &[u8]) -> bool {
        self.scrubber().contains(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "[REDACTED] [REDACTED]");
    }

    #[test]
    fn redactor_scrubs_all_registered_values() {
        let r = Redactor::new();
        r.register(&Secret::new("abcd-key"));
        r.register(&Secret::new("abcd-key-longer"));
        r.register(&Secret::new("ab"));
        assert_eq!(
            r.redact("k=abcd-key-longer p=abcd-key ab"),
            "k=[REDACTED] p=[REDACTED] ab"
        );
        // Encoded forms too: base64 (as in Basic auth) and percent-encoding.
        let basic = "dXNlcjphYmNkLWtleS1sb25nZXI="; // base64("user:abcd-key-longer")
        assert!(r.contains(basic.as_bytes()));
        assert_eq!(r.redact("q=%61%62%63%64%2d%6b%65%79"), "q=[REDACTED]");
        assert!(!r.contains(b"nothing to see"));
    }
}
