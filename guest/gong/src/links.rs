//! Call deep links. Gong's `metaData.url` (`https://<prefix>.app.gong.io/call?id=<id>`) is
//! indexed as it is when it matches the declared [`URL_PATTERN`] and names the call;
//! otherwise the link is built on the generic host.

/// The URL pattern every item's `url` matches (the index's `urlRegex`).
pub const URL_PATTERN: &str = r"^https://([a-z0-9-]+\.)?app\.gong\.io/call\?id=[0-9]{1,20}$";

/// The call's link: Gong's own when usable, else `https://app.gong.io/call?id=<id>`.
pub fn call_url(gong_url: Option<&str>, id: &str) -> String {
    match gong_url.map(str::trim) {
        Some(url) if matches_pattern(url) && url_id(url) == Some(id) => url.to_string(),
        _ => format!("https://app.gong.io/call?id={id}"),
    }
}

/// Whether `url` matches [`URL_PATTERN`] (hand-written: no regex engine in the component).
pub fn matches_pattern(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, id)) = rest.split_once("/call?id=") else {
        return false;
    };
    let host_ok = match host.strip_suffix("app.gong.io") {
        Some("") => true,
        Some(prefix) => prefix.strip_suffix('.').is_some_and(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }),
        None => false,
    };
    host_ok && (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

fn url_id(url: &str) -> Option<&str> {
    url.split_once("/call?id=").map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern() {
        for good in [
            "https://app.gong.io/call?id=7782342274025937895",
            "https://us-49467.app.gong.io/call?id=1",
            "https://eu.app.gong.io/call?id=12345678901234567890",
        ] {
            assert!(matches_pattern(good), "{good}");
        }
        for bad in [
            "http://app.gong.io/call?id=1",
            "https://a.b.app.gong.io/call?id=1",
            "https://US.app.gong.io/call?id=1",
            "https://.app.gong.io/call?id=1",
            "https://evilapp.gong.io/call?id=1",
            "https://app.gong.io/call?id=",
            "https://app.gong.io/call?id=123456789012345678901",
            "https://app.gong.io/call?id=1&x=2",
            "https://app.gong.io.evil.com/call?id=1",
        ] {
            assert!(!matches_pattern(bad), "{bad}");
        }
    }

    #[test]
    fn own_link_or_built() {
        let own = "https://us-49467.app.gong.io/call?id=7782342274025937895";
        assert_eq!(call_url(Some(own), "7782342274025937895"), own);
        let built = "https://app.gong.io/call?id=7782342274025937895";
        assert_eq!(call_url(None, "7782342274025937895"), built);
        assert_eq!(
            call_url(Some("https://x.example/1"), "7782342274025937895"),
            built
        );
        assert_eq!(
            call_url(Some("https://app.gong.io/call?id=1"), "7782342274025937895"),
            built
        );
    }
}
