//! `/calls` query parameters: raw query-string parsing (repeated keys for array filters,
//! percent-decoding, `+` as space) and validation with the 400 messages Clari gives.

use chrono::{DateTime, Utc};

/// A parsed, validated `/calls` query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallsQuery {
    pub skip: usize,
    pub limit: usize,
    pub status: Vec<String>,
    pub types: Vec<String>,
    pub users: Vec<String>,
    pub attendees: Vec<String>,
    pub topics: Vec<String>,
    pub source_ids: Vec<String>,
    pub time_gt: Option<DateTime<Utc>>,
    pub time_lt: Option<DateTime<Utc>>,
    pub modified_gt: Option<DateTime<Utc>>,
    pub modified_lt: Option<DateTime<Utc>>,
    pub duration_gt: Option<u64>,
    pub duration_lt: Option<u64>,
    pub sort_time: Option<bool>,
    pub sort_processed: Option<bool>,
    pub include_private: bool,
    pub include_pagination: bool,
    pub include_audio: bool,
    pub include_video: bool,
}

/// Decodes `application/x-www-form-urlencoded` pairs: `+` is a space, an invalid
/// percent-escape is kept as written and invalid UTF-8 becomes U+FFFD.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn int(key: &str, v: &str, min: u64, max: u64) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "Invalid value for {key}: '{v}'. It must be an integer between {min} and {max}."
            )
        })
}

fn date(key: &str, v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("Invalid value for {key}: '{v}'. It must be an ISO-8601 date-time such as 2020-01-01T00:00:00Z."))
}

fn boolean(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!(
            "Invalid value for {key}: '{v}'. It must be true or false."
        )),
    }
}

fn sort(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(format!(
            "Invalid value for {key}: '{v}'. It must be asc or desc."
        )),
    }
}

impl CallsQuery {
    /// Parses and validates; an invalid value is the 400 message.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut q = CallsQuery {
            limit: 25,
            include_pagination: true,
            ..CallsQuery::default()
        };
        for (k, v) in pairs(raw) {
            match k.as_str() {
                "skip" => q.skip = int(&k, &v, 0, 10_000)? as usize,
                "limit" => q.limit = int(&k, &v, 1, 100)? as usize,
                "filterStatus" => q.status.push(v),
                "filterType" => q.types.push(v),
                "filterUser" => q.users.push(v.to_lowercase()),
                "filterAttendees" => q.attendees.push(v.to_lowercase()),
                "filterTopics" => q.topics.push(v),
                "filterSourceId" => q.source_ids.push(v),
                "filterTimeGt" => q.time_gt = Some(date(&k, &v)?),
                "filterTimeLt" => q.time_lt = Some(date(&k, &v)?),
                "filterModifiedGt" => q.modified_gt = Some(date(&k, &v)?),
                "filterModifiedLt" => q.modified_lt = Some(date(&k, &v)?),
                "filterDurationGt" => q.duration_gt = Some(int(&k, &v, 0, 7200)?),
                "filterDurationLt" => q.duration_lt = Some(int(&k, &v, 0, 7200)?),
                "sortTime" => q.sort_time = Some(sort(&k, &v)?),
                "sortProcessed" => q.sort_processed = Some(sort(&k, &v)?),
                "includePrivate" => q.include_private = boolean(&k, &v)?,
                "includePagination" => q.include_pagination = boolean(&k, &v)?,
                "includeAudio" => q.include_audio = boolean(&k, &v)?,
                "includeVideo" => q.include_video = boolean(&k, &v)?,
                // Unknown parameters are ignored, as the real API appears to do.
                _ => {}
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_keys_and_encoding() {
        let q = CallsQuery::parse(
            "filterStatus=A&filterStatus=B&filterTimeGt=2025-01-01T00%3A00%3A00%2B00%3A00&filterUser=A%40x.com&skip=5",
        )
        .unwrap();
        assert_eq!(q.status, vec!["A", "B"]);
        assert_eq!(q.users, vec!["a@x.com"]);
        assert_eq!(q.skip, 5);
        assert_eq!(q.limit, 25);
        assert!(q.time_gt.is_some() && q.include_pagination && !q.include_private);
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            "skip=10001",
            "skip=-1",
            "limit=0",
            "limit=101",
            "limit=x",
            "filterTimeGt=yesterday",
            "includePrivate=yes",
            "filterDurationGt=7201",
            "sortTime=up",
        ] {
            assert!(CallsQuery::parse(bad).is_err(), "{bad}");
        }
        assert!(CallsQuery::parse("includePrivate=1&skip=10000&limit=100&bogus=1").is_ok());
    }

    fn decode(s: &str) -> String {
        let p = pairs(&format!("k={s}"));
        assert_eq!(p.len(), 1, "{s}");
        p.into_iter().next().unwrap().1
    }

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(decode("a+b%20c%2Bd%"), "a b c+d%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn invalid_escapes_and_bytes_do_not_panic() {
        assert_eq!(decode("%zz%4g%"), "%zz%4g%");
        assert_eq!(decode("%+1"), "% 1");
        assert_eq!(decode("%C3%A9"), "\u{e9}");
        assert_eq!(decode("%FF"), "\u{fffd}");
        assert_eq!(decode("%%C3%A9"), "%\u{e9}");
        assert_eq!(decode("%\u{e9}"), "%\u{e9}");
    }

    #[test]
    fn splits_pairs_like_a_form() {
        assert_eq!(
            pairs("a=1&&b&c=x=y&=v&a=2"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "x=y".into()),
                (String::new(), "v".into()),
                ("a".into(), "2".into()),
            ]
        );
        assert!(pairs("").is_empty());
    }
}
