//! What a Gong HTTP answer means (reference §1.3). Gong answers an empty filter result with a
//! 404 and an expired page cursor with a 400, so the status alone is not enough: the error
//! text decides. Everything else becomes a connector error of the category the host acts on.

use std::time::{Duration, UNIX_EPOCH};

use connector_sdk::Error;
use connector_sdk::http::Response;

use crate::wire::ErrorBody;

/// What an operator does about refused credentials.
pub const CREDENTIALS_HINT: &str = "check the access key and secret configured for the `gong` upstream (Gong: Company settings > Ecosystem > API; the key needs the api:calls:read and api:users:read scopes) and the key's trusted IP list";

/// The text of a 404 that means "nothing matched the filter": an empty result.
const NO_MATCH: &str = "found corresponding to the provided filters";
/// The text of a 404 from `GET /v2/calls/{id}` for a call that does not exist.
const NOT_FOUND: &str = "was not found";
/// The text of a 400 for a page cursor past its lifetime (about an hour).
const CURSOR_EXPIRED: &str = "cursor has expired";

/// A Gong answer, by what it means.
#[derive(Debug)]
pub enum Answer {
    /// 2xx.
    Body(Response),
    /// 404 "No ... found corresponding to the provided filters": an empty result.
    NoMatch,
    /// 404 "... was not found" (the message, for the not-found error).
    Missing(String),
    /// 400 "... cursor has expired".
    CursorExpired,
}

/// Reads `resp` (an answer to `what`); statuses that are plain errors become them.
pub fn read(resp: Response, what: &str, now_ms: i64) -> Result<Answer, Error> {
    if (200..300).contains(&resp.status) {
        return Ok(Answer::Body(resp));
    }
    let text = error_text(&resp.body);
    let lower = text.to_ascii_lowercase();
    match resp.status {
        404 if lower.contains(NO_MATCH) => Ok(Answer::NoMatch),
        404 if lower.contains(NOT_FOUND) => Ok(Answer::Missing(text)),
        400 if lower.contains(CURSOR_EXPIRED) => Ok(Answer::CursorExpired),
        _ => Err(error(&resp, what, &text, now_ms)),
    }
}

/// The error an answer that is not 2xx means, whatever its text.
pub fn error(resp: &Response, what: &str, text: &str, now_ms: i64) -> Error {
    let status = resp.status;
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    match status {
        401 | 403 => Error::config(format!(
            "{what} was refused (HTTP {status}{detail}); {CREDENTIALS_HINT}"
        )),
        408 | 429 | 500..=599 => Error::transient_after(
            format!("{what} answered HTTP {status}{detail}; retry later"),
            retry_after_ms(resp, now_ms),
        ),
        404 => Error::system(format!(
            "{what} answered HTTP 404{detail}; check the base URL configured for the `gong` upstream (Gong shows it on the API page)"
        )),
        400 => Error::system(format!(
            "{what} was rejected by Gong as a bad request (HTTP 400{detail})"
        )),
        _ => Error::system(format!(
            "{what} answered an unexpected HTTP {status}{detail}"
        )),
    }
}

/// The error for an answer that was read but is not what the request can take (a 404 "was
/// not found" where only a filter result was possible, an expired cursor where none was sent).
pub fn unexpected(answer: Answer, what: &str) -> Error {
    match answer {
        Answer::Body(resp) => {
            Error::system(format!("{what}: an unexpected HTTP {} answer", resp.status))
        }
        Answer::NoMatch => Error::system(format!("{what}: an unexpected empty-result answer")),
        Answer::Missing(text) => Error::system(format!(
            "{what} answered HTTP 404: {text}; check the base URL configured for the `gong` upstream"
        )),
        Answer::CursorExpired => Error::transient(format!(
            "{what}: Gong says the page cursor has expired; the listing restarts its window on retry"
        )),
    }
}

/// Gong's `errors` joined with "; ", else a short excerpt of the body (an HTML error page from
/// a proxy, say), else nothing.
pub fn error_text(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let texts: Vec<&str> = parsed
            .errors
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .collect();
        if !texts.is_empty() {
            return texts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    text.trim().chars().take(200).collect()
}

/// `Retry-After` in milliseconds: Gong sends whole seconds; an HTTP date is measured from the
/// crawl clock `now_ms`.
pub fn retry_after_ms(resp: &Response, now_ms: i64) -> Option<u64> {
    let raw = resp.header("retry-after")?;
    let now = UNIX_EPOCH.checked_add(Duration::from_millis(u64::try_from(now_ms).unwrap_or(0)))?;
    let delay = connector_sdk::time::retry_after(raw, now)?;
    Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gong(status: u16, errors: &[&str]) -> Response {
        Response::of_json(
            status,
            &serde_json::json!({"requestId": "4al018gzaztcr8nbukw", "errors": errors}),
        )
    }

    #[test]
    fn the_text_decides_what_a_404_or_400_means() {
        let read = |r| read(r, "GET /v2/calls", 0);
        assert!(matches!(
            read(gong(
                404,
                &["No calls found corresponding to the provided filters"]
            )),
            Ok(Answer::NoMatch)
        ));
        assert!(matches!(
            read(gong(404, &["Call ID 894411314421502864 was not found"])),
            Ok(Answer::Missing(m)) if m.contains("894411314421502864")
        ));
        assert!(matches!(
            read(gong(400, &["The cursor has expired, please start over"])),
            Ok(Answer::CursorExpired)
        ));
        assert!(
            matches!(read(gong(404, &["Not here"])), Err(Error::System(m)) if m.contains("Not here"))
        );
        assert!(matches!(
            read(gong(400, &["filter.fromDateTime: must be before toDateTime"])),
            Err(Error::System(m)) if m.contains("must be before")
        ));
        assert!(matches!(read(gong(200, &[])), Ok(Answer::Body(_))));
    }

    #[test]
    fn statuses_map_to_categories() {
        for status in [401, 403] {
            match read(gong(status, &["Access denied"]), "GET /v2/users", 0) {
                Err(Error::Config(m)) => {
                    assert!(
                        m.contains("Access denied") && m.contains("access key and secret"),
                        "{m}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        let e = read(
            gong(429, &["Too many requests"]).with_header("Retry-After", "7"),
            "x",
            0,
        );
        assert_eq!(
            e.unwrap_err(),
            Error::transient_after(
                "x answered HTTP 429: Too many requests; retry later",
                Some(7000)
            )
        );
        let html = Response::new(502, "<html>Bad gateway</html>");
        assert!(matches!(
            read(html, "x", 0),
            Err(Error::Transient { message, retry_after_ms: None }) if message.contains("Bad gateway")
        ));
        let dated = gong(503, &[]).with_header("retry-after", "Thu, 01 Jan 1970 00:16:45 GMT");
        assert!(matches!(
            read(dated, "x", 1_000_000),
            Err(Error::Transient {
                retry_after_ms: Some(5000),
                ..
            })
        ));
        assert!(matches!(
            read(gong(418, &[]), "x", 0),
            Err(Error::System(_))
        ));
    }
}
