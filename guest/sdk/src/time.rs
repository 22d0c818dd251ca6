//! Times as sources write them: ISO-8601 / RFC 3339 date-times to epoch milliseconds, and
//! HTTP's `Retry-After`. No calendar library: the component stays small.

use std::time::{Duration, SystemTime};

/// Epoch milliseconds of an ISO-8601 date or date-time: `2025-06-11`, `2025-06-11T14:25`,
/// `2025-06-11T14:25:00Z`, `2025-06-11 14:25:00.123+02:00`, `...+0200`, `...-05`. A
/// date-time without a zone is taken as UTC; fractions beyond milliseconds are dropped.
/// `None` when `raw` is none of these or names an impossible date or time.
pub fn parse_iso8601_ms(raw: &str) -> Option<i64> {
    let s = raw.trim().as_bytes();
    let year = digits(s.get(0..4)?)?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(s.get(5..7)?)?;
    let day = digits(s.get(8..10)?)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let rest = &s[10..];
    if rest.is_empty() {
        return days.checked_mul(86_400_000);
    }
    if !matches!(rest[0], b'T' | b't' | b' ') {
        return None;
    }
    let (time_ms, zone) = time_of_day(&rest[1..])?;
    let offset_ms = zone_offset_ms(zone)?;
    days.checked_mul(86_400_000)?
        .checked_add(time_ms)?
        .checked_sub(offset_ms)
}

/// `HH:MM[:SS[.fff...]]` in milliseconds, and what follows it (the zone).
fn time_of_day(s: &[u8]) -> Option<(i64, &[u8])> {
    let hour = digits(s.get(0..2)?)?;
    let minute = digits(s.get(3..5)?)?;
    if s.get(2) != Some(&b':') || hour > 23 || minute > 59 {
        return None;
    }
    let mut ms = (hour * 60 + minute) * 60_000;
    let mut rest = &s[5..];
    if rest.first() == Some(&b':') {
        let second = digits(rest.get(1..3)?)?;
        if second > 60 {
            return None;
        }
        ms += second * 1000;
        rest = &rest[3..];
        if matches!(rest.first(), Some(b'.' | b',')) {
            let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let mut frac = 0;
            for (i, b) in rest[1..=n].iter().take(3).enumerate() {
                frac += i64::from(b - b'0') * [100, 10, 1][i];
            }
            ms += frac;
            rest = &rest[1 + n..];
        }
    }
    Some((ms, rest))
}

/// A zone suffix in milliseconds east of UTC: empty or `Z` is UTC; `±HH`, `±HHMM`, `±HH:MM`.
fn zone_offset_ms(zone: &[u8]) -> Option<i64> {
    let (sign, rest) = match zone {
        [] | [b'Z' | b'z'] => return Some(0),
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return None,
    };
    let (h, m) = match rest {
        [h1, h2] => ([*h1, *h2], [b'0', b'0']),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => ([*h1, *h2], [*m1, *m2]),
        _ => return None,
    };
    let (h, m) = (digits(&h)?, digits(&m)?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m) * 60_000)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The delay a `Retry-After` value asks for (RFC 9110 §10.2.3: delay-seconds or an
/// HTTP-date), measured from `now`. A date in the past is no delay; anything else is `None`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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
    fn iso8601_forms() {
        let base = 1_749_651_900_000; // 2025-06-11T14:25:00Z
        for s in [
            "2025-06-11T14:25:00Z",
            "2025-06-11T14:25:00.000Z",
            "2025-06-11 14:25:00",
            "2025-06-11T14:25",
            "2025-06-11T16:25:00+02:00",
            "2025-06-11T16:25:00+0200",
            "2025-06-11T09:25:00-05",
            " 2025-06-11t14:25:00z ",
        ] {
            assert_eq!(parse_iso8601_ms(s), Some(base), "{s}");
        }
        assert_eq!(
            parse_iso8601_ms("2025-06-11T14:25:00.1239Z"),
            Some(base + 123)
        );
        assert_eq!(parse_iso8601_ms("1970-01-01"), Some(0));
        assert_eq!(parse_iso8601_ms("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_iso8601_ms("2024-02-29"), Some(1_709_164_800_000));
        for bad in [
            "",
            "2025",
            "2025-13-01",
            "2025-02-29",
            "2025-06-11T24:00",
            "2025-06-11T14:25:00.Z",
            "2025-06-11T14:25:00+2",
            "2025-06-11X14:25",
            "2025-06-11T14:25:00 UTC",
            "２０２５-06-11",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_both_forms_and_garbage() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 13:00:00 GMT").unwrap();
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 25 Nov 2026 13:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Tue, 24 Nov 2026 13:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }
}
