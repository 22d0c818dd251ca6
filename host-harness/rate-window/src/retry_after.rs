//! The host's `Retry-After` parser (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, turned
//! into a delay from `now`. The guest SDK has its own (`connector_sdk::time::retry_after`) so that
//! it depends on no host crate.

use std::time::{Duration, SystemTime};

/// The delay a `Retry-After` value asks for, measured from `now`. A date in the past is no
/// delay; a value that is neither form is `None`.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_garbage() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 13:00:00 GMT").unwrap();
        assert_eq!(parse(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse("Wed, 25 Nov 2026 13:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse("Tue, 24 Nov 2026 13:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("soon", now), None);
        assert_eq!(parse("-3", now), None);
    }
}
