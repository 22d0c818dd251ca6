//! Console sign-in: the operator gives the admin token once, gets a session cookie, and
//! every form carries the session's CSRF token. Sessions are random 128-bit ids kept in
//! memory, bounded in number and age; a restart signs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie that carries the session id.
pub const COOKIE: &str = "harness_console";

/// A session lives this long after sign-in.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// At most this many sessions at once; the oldest goes first.
pub const MAX_SESSIONS: usize = 256;

#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    created: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// 128 random bits as hex.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session: (id for the cookie, the session).
    pub fn open(&self) -> anyhow::Result<(String, Session)> {
        let id = random_token()?;
        let session = Session {
            csrf: random_token()?,
            created: Instant::now(),
        };
        let mut all = self.lock();
        all.retain(|_, s| s.created.elapsed() < MAX_AGE);
        while all.len() >= MAX_SESSIONS {
            let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            all.remove(&oldest);
        }
        all.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session with this id.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut all = self.lock();
        match all.get(id) {
            Some(s) if s.created.elapsed() < MAX_AGE => Some(s.clone()),
            Some(_) => {
                all.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The session id in a `Cookie` header, if any.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_bounded_and_closable() {
        let s = Sessions::default();
        let (a, sa) = s.open().unwrap();
        let (b, sb) = s.open().unwrap();
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(a.len(), 32);
        assert!(s.get(&a).is_some());
        s.close(&a);
        assert!(s.get(&a).is_none());
        for _ in 0..MAX_SESSIONS + 10 {
            s.open().unwrap();
        }
        assert!(s.lock().len() <= MAX_SESSIONS);
    }

    #[test]
    fn cookie_parsing_and_secret_comparison() {
        assert_eq!(cookie_value("a=1; harness_console=abc; b=2"), Some("abc"));
        assert_eq!(cookie_value("harness_consoleX=abc"), None);
        assert!(crate::serve::api::same_secret("abc", "abc"));
        assert!(!crate::serve::api::same_secret("abd", "abc"));
        assert!(!crate::serve::api::same_secret("ab", "abc"));
    }
}
