//! Secret values and their redaction. A [`Secret`] never prints itself; a [`Redactor`] scrubs
//! every known secret out of text before it reaches a log line, an error or a file.

use std::fmt;
use std::sync::{Arc, RwLock};

/// A credential value. `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

/// What a redacted secret looks like in output.
pub const REDACTED: &str = "[REDACTED]";

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

/// Replaces every registered secret in text. Cheap to clone; shared by everything that writes.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<Secret>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
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
        if let Ok(mut list) = self.secrets.write()
            && !list.contains(secret)
        {
            list.push(secret.clone());
            // Longest first, so a secret containing another is replaced whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        }
    }

    /// `text` with every registered secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let Ok(list) = self.secrets.read() else {
            return String::from(REDACTED);
        };
        let mut out = text.to_string();
        for s in list.iter() {
            if out.contains(s.expose()) {
                out = out.replace(s.expose(), REDACTED);
            }
        }
        out
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
    }
}
