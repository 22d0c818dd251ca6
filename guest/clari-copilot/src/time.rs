//! Time on the wire and in text: parsing Clari's date-times into epoch milliseconds,
//! formatting query bounds, history-window arithmetic, and `mm:ss` offsets for the body.

use chrono::format::{Fixed, Item, Numeric, Pad, Parsed, parse};
use chrono::{DateTime, Datelike, Months, SecondsFormat, TimeZone, Timelike, Utc};

// The formats `parse_ms` tries after RFC 3339, as the items chrono's `StrftimeItems` makes of
// them (a test checks they are the same). Parsing with ready-made items rather than strftime
// strings is what `parse_from_str` does, without the strftime parser in the component.
const YEAR: Item<'static> = Item::Numeric(Numeric::Year, Pad::Zero);
const MONTH: Item<'static> = Item::Numeric(Numeric::Month, Pad::Zero);
const DAY: Item<'static> = Item::Numeric(Numeric::Day, Pad::Zero);
const HOUR: Item<'static> = Item::Numeric(Numeric::Hour, Pad::Zero);
const MINUTE: Item<'static> = Item::Numeric(Numeric::Minute, Pad::Zero);
const SECOND: Item<'static> = Item::Numeric(Numeric::Second, Pad::Zero);
const FRACTION: Item<'static> = Item::Fixed(Fixed::Nanosecond);
const DASH: Item<'static> = Item::Literal("-");
const COLON: Item<'static> = Item::Literal(":");
const T: Item<'static> = Item::Literal("T");
const SPACE: Item<'static> = Item::Space(" ");

/// `%Y-%m-%d %H:%M:%S%.f%:z`, `%Y-%m-%dT%H:%M:%S%.f%z`, `%Y-%m-%d %H:%M:%S%.f%z`.
#[rustfmt::skip]
const ZONED: [&[Item<'static>]; 3] = [
    &[YEAR, DASH, MONTH, DASH, DAY, SPACE, HOUR, COLON, MINUTE, COLON, SECOND, FRACTION, Item::Fixed(Fixed::TimezoneOffsetColon)],
    &[YEAR, DASH, MONTH, DASH, DAY, T, HOUR, COLON, MINUTE, COLON, SECOND, FRACTION, Item::Fixed(Fixed::TimezoneOffset)],
    &[YEAR, DASH, MONTH, DASH, DAY, SPACE, HOUR, COLON, MINUTE, COLON, SECOND, FRACTION, Item::Fixed(Fixed::TimezoneOffset)],
];
/// `%Y-%m-%dT%H:%M:%S%.f`, `%Y-%m-%d %H:%M:%S%.f`, `%Y-%m-%dT%H:%M`.
#[rustfmt::skip]
const NAIVE: [&[Item<'static>]; 3] = [
    &[YEAR, DASH, MONTH, DASH, DAY, T, HOUR, COLON, MINUTE, COLON, SECOND, FRACTION],
    &[YEAR, DASH, MONTH, DASH, DAY, SPACE, HOUR, COLON, MINUTE, COLON, SECOND, FRACTION],
    &[YEAR, DASH, MONTH, DASH, DAY, T, HOUR, COLON, MINUTE],
];
/// `%Y-%m-%d`.
const DATE: &[Item<'static>] = &[YEAR, DASH, MONTH, DASH, DAY];

fn parsed(s: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut parsed = Parsed::new();
    parse(&mut parsed, s, items.iter()).ok()?;
    Some(parsed)
}

/// Epoch milliseconds of a Clari date-time. Accepts RFC 3339 (`2025-06-11T14:25:00.000Z`,
/// offsets), a date-time without zone (taken as UTC), a bare date, and epoch seconds or
/// milliseconds (as a number or a numeric string). `None` when it is none of those.
pub fn parse_ms(raw: &str) -> Option<i64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    // RFC 3339 with a space instead of `T`, or an offset without a colon (`+0000`).
    // As `DateTime::parse_from_str` with each format.
    for items in ZONED {
        if let Some(dt) = parsed(s, items).and_then(|p| p.to_datetime().ok()) {
            return Some(dt.timestamp_millis());
        }
    }
    // As `NaiveDateTime::parse_from_str`.
    for items in NAIVE {
        if let Some(naive) = parsed(s, items).and_then(|p| p.to_naive_datetime_with_offset(0).ok())
        {
            return Some(naive.and_utc().timestamp_millis());
        }
    }
    // As `NaiveDate::parse_from_str`.
    if let Some(date) = parsed(s, DATE).and_then(|p| p.to_naive_date().ok()) {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().timestamp_millis());
    }
    let number: f64 = s.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    // Ten-digit values are seconds (until 2286); larger ones milliseconds.
    let ms = if number < 1e11 {
        number * 1000.0
    } else {
        number
    };
    if ms > 32_503_680_000_000.0 {
        return None; // after the year 3000: not a timestamp
    }
    Some(ms.round() as i64)
}

/// A query bound as Clari expects it: ISO-8601 UTC with milliseconds, `2025-06-11T14:25:00.000Z`.
pub fn format_query(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        // Out of chrono's range: clamp to the epoch (never reached with validated windows).
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// A date-time for people: `2025-06-11 14:25 UTC` (chrono's `%Y-%m-%d %H:%M UTC`).
pub fn format_human(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(dt) => format!(
            "{} {:02}:{:02} UTC",
            format_date(ms),
            dt.hour(),
            dt.minute()
        ),
        None => ms.to_string(),
    }
}

/// A date for people: `2025-09-30` (chrono's `%Y-%m-%d`: a year outside 0..=9999 gets a sign
/// and at least four digits).
pub fn format_date(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(dt) => {
            let y = dt.year();
            if (0..10_000).contains(&y) {
                format!("{y:04}-{:02}-{:02}", dt.month(), dt.day())
            } else {
                format!("{y:+05}-{:02}-{:02}", dt.month(), dt.day())
            }
        }
        None => ms.to_string(),
    }
}

/// `months` calendar months before `ms` (the start of a history window).
pub fn months_before(ms: i64, months: u32) -> i64 {
    Utc.timestamp_millis_opt(ms)
        .single()
        .and_then(|dt| dt.checked_sub_months(Months::new(months)))
        .map(|dt| dt.timestamp_millis())
        .unwrap_or_else(|| ms.saturating_sub(i64::from(months).saturating_mul(31 * 86_400_000)))
}

/// An offset into a call as `mm:ss` (minutes not capped at 59): `[75:03]` is 1 h 15 min 3 s.
///
/// Offsets come to the millisecond, and are rounded to it before whole seconds are taken, so
/// that the last bit of the number's parse cannot move a line to the previous second. That bit
/// differs between builds: inside the component serde_json parses floats with its fast
/// algorithm (which can be one unit in the last place off), while a native build that shares
/// serde_json with crates enabling `float_roundtrip` parses them exactly. The same offset
/// could land on either side of a whole second and show as `01:42` in one build and `01:43`
/// in the other.
pub fn offset(seconds: f64) -> String {
    let mut out = String::with_capacity(5);
    push_offset(&mut out, seconds);
    out
}

/// [`offset`], appended to `out` (without a formatter: it runs for every transcript turn).
pub fn push_offset(out: &mut String, seconds: f64) {
    let total = if seconds.is_finite() && seconds > 0.0 {
        ((seconds * 1000.0).round() as u64) / 1000
    } else {
        0
    };
    push_two_digits_at_least(out, total / 60);
    out.push(':');
    push_two_digits_at_least(out, total % 60);
}

/// `n` in decimal, zero-padded to two digits (as `{:02}`): seconds and the minutes of calls
/// under 100 minutes without the formatter, longer calls with it.
fn push_two_digits_at_least(out: &mut String, n: u64) {
    if n < 100 {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{n}");
    }
}

/// A duration for people: `1 h 5 min`, `12 min 4 s`, `45 s`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 && sec == 0 {
        format!("{m} min")
    } else if m > 0 {
        format!("{m} min {sec} s")
    } else {
        format!("{sec} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_as_the_formatter_wrote_them() {
        for seconds in (0..20_000u64)
            .map(|n| n as f64 * 0.77)
            .chain([1e7, 3.6e9, -0.0])
        {
            let total = if seconds > 0.0 {
                ((seconds * 1000.0).round() as u64) / 1000
            } else {
                0
            };
            let expected = format!("{:02}:{:02}", total / 60, total % 60);
            assert_eq!(offset(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn parses_clari_shapes() {
        let ms = 1_749_651_900_000; // 2025-06-11T14:25:00Z
        assert_eq!(parse_ms("2025-06-11T14:25:00.000Z"), Some(ms));
        assert_eq!(parse_ms("2025-06-11T14:25:00Z"), Some(ms));
        assert_eq!(parse_ms("2025-06-11T16:25:00+02:00"), Some(ms));
        assert_eq!(parse_ms("2025-06-11T14:25:00+0000"), Some(ms));
        assert_eq!(parse_ms("2025-06-11T14:25:00"), Some(ms));
        assert_eq!(parse_ms("2025-06-11 14:25:00.000"), Some(ms));
        assert_eq!(parse_ms("1749651900"), Some(ms));
        assert_eq!(parse_ms("1749651900000"), Some(ms));
        assert_eq!(parse_ms("2025-06-11"), Some(1_749_600_000_000));
        assert_eq!(parse_ms("2025-06-11T14:25:00.310Z"), Some(ms + 310));
        for bad in ["", "  ", "yesterday", "2025-13-40", "-5", "NaN", "1e300"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_queries_with_milliseconds() {
        assert_eq!(format_query(1_749_651_900_310), "2025-06-11T14:25:00.310Z");
        assert_eq!(format_query(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_ms(&format_query(1_749_651_900_311)),
            Some(1_749_651_900_311)
        );
    }

    #[test]
    fn windows_and_offsets() {
        let now = parse_ms("2026-03-31T10:00:00Z").unwrap();
        assert_eq!(
            format_query(months_before(now, 1)),
            "2026-02-28T10:00:00.000Z"
        );
        assert_eq!(
            format_query(months_before(now, 12)),
            "2025-03-31T10:00:00.000Z"
        );
        assert_eq!(offset(0.0), "00:00");
        assert_eq!(offset(61.9), "01:01");
        assert_eq!(offset(4503.0), "75:03");
        assert_eq!(offset(-3.0), "00:00");
        assert_eq!(offset(f64::NAN), "00:00");
        // One unit in the last place either side of a whole second reads as that second.
        assert_eq!(offset(102.99999999999999), "01:43");
        assert_eq!(offset(103.00000000000001), "01:43");
        assert_eq!(offset(102.9994), "01:42");
        assert_eq!(duration(104), "1 min 44 s");
        assert_eq!(duration(3900), "1 h 5 min");
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(format_human(1_749_651_900_000), "2025-06-11 14:25 UTC");
        assert_eq!(format_date(1_749_651_900_000), "2025-06-11");
    }

    #[test]
    fn items_are_the_strftime_formats() {
        use chrono::format::StrftimeItems;
        fn items(f: &str) -> Vec<Item<'_>> {
            StrftimeItems::new(f).collect()
        }
        let formats = [
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
        ];
        for (f, i) in formats.iter().zip(ZONED) {
            assert_eq!(items(f), i, "{f}");
        }
        let formats = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ];
        for (f, i) in formats.iter().zip(NAIVE) {
            assert_eq!(items(f), i, "{f}");
        }
        assert_eq!(items("%Y-%m-%d"), DATE);
    }

    #[test]
    fn human_formats_match_chrono_strftime() {
        // Edges of chrono's range, years with signs, and ordinary instants.
        let mut samples = vec![
            DateTime::<Utc>::MIN_UTC.timestamp_millis(),
            DateTime::<Utc>::MAX_UTC.timestamp_millis(),
            i64::MIN,
            i64::MAX,
            0,
            -1,
            1_749_651_900_000,
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // -0001-12-31
            253_402_300_799_999, // 9999-12-31
            253_402_300_800_000, // 10000-01-01
            -62_198_755_200_000,
            32_503_680_000_000,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push((x as i64) % 8_210_298_412_800_000);
        }
        for ms in samples {
            let chrono_human = match Utc.timestamp_millis_opt(ms).single() {
                Some(dt) => dt.format("%Y-%m-%d %H:%M UTC").to_string(),
                None => ms.to_string(),
            };
            let chrono_date = match Utc.timestamp_millis_opt(ms).single() {
                Some(dt) => dt.format("%Y-%m-%d").to_string(),
                None => ms.to_string(),
            };
            assert_eq!(format_human(ms), chrono_human, "{ms}");
            assert_eq!(format_date(ms), chrono_date, "{ms}");
        }
    }
}
