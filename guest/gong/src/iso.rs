//! Writing times: epoch milliseconds to ISO-8601 UTC for Gong's query filters
//! (`2026-11-01T00:00:00Z`), to a readable date for the body, and transcript offsets to
//! `mm:ss`. Parsing is the SDK's (`connector_sdk::time::parse_iso8601_ms`). No calendar
//! library: the component stays small.

const MS_PER_DAY: i64 = 86_400_000;

/// `ms` as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when the milliseconds are not zero.
pub fn format_utc(ms: i64) -> String {
    let (date, h, m, s, milli) = split(ms);
    if milli == 0 {
        format!("{date}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
    }
}

/// `ms` as a readable UTC time for the body: `2026-10-30 21:00 UTC`.
pub fn readable_utc(ms: i64) -> String {
    let (date, h, m, _, _) = split(ms);
    format!("{date} {h:02}:{m:02} UTC")
}

/// An offset in milliseconds from a call's start as `mm:ss` (minutes go past 59 on long
/// calls); negative or non-finite offsets read as `00:00`.
pub fn offset_mm_ss(offset_ms: f64) -> String {
    let secs = if offset_ms.is_finite() && offset_ms > 0.0 {
        // Saturating float-to-int conversion: no overflow on absurd values.
        (offset_ms / 1000.0).floor() as i64
    } else {
        0
    };
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

/// The date (`YYYY-MM-DD`) and time of day of `ms`.
fn split(ms: i64) -> (String, i64, i64, i64, i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let of_day = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let date = format!("{y:04}-{mo:02}-{d:02}");
    (
        date,
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000,
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`). `days` comes from an `i64` of milliseconds divided by a day, so the
/// arithmetic below stays far inside `i64`.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::time::parse_iso8601_ms;

    #[test]
    fn formats_round_trip_through_the_sdk_parser() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2000-03-01T12:00:00.123Z",
            "1969-12-31T23:59:59Z",
            "2100-02-28T06:07:08Z",
        ] {
            let ms = parse_iso8601_ms(s).unwrap();
            assert_eq!(format_utc(ms), s);
        }
        for ms in (-1_000..1_000).map(|d| d * 86_400_000 * 37 + 12_345) {
            assert_eq!(parse_iso8601_ms(&format_utc(ms)), Some(ms));
        }
        assert_eq!(
            readable_utc(parse_iso8601_ms("2026-10-30T14:00:00.123-07:00").unwrap()),
            "2026-10-30 21:00 UTC"
        );
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_mm_ss(0.0), "00:00");
        assert_eq!(offset_mm_ss(460_230.0), "07:40");
        assert_eq!(offset_mm_ss(4_503_999.0), "75:03");
        assert_eq!(offset_mm_ss(-5.0), "00:00");
        assert_eq!(offset_mm_ss(f64::NAN), "00:00");
    }
}
