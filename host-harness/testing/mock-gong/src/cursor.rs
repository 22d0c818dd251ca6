//! Page cursors as Gong issues them: a JWT-shaped token (`header.payload.signature`, base64url)
//! whose payload names the page and the request it belongs to, and expires a fixed time after
//! the FIRST page of the sequence (not the last one). A cursor is only good for the identical
//! request: a cursor from another filter, a forged one, or an expired one is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// What a cursor says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Digest of the request (endpoint and filter) the cursor continues.
    pub request: String,
    /// The page the cursor leads to (the first page is 0).
    #[serde(rename = "pageNumber")]
    pub page_number: usize,
    #[serde(rename = "pageSize")]
    pub page_size: usize,
    pub total: usize,
    /// Expiry, epoch seconds of the mock's clock.
    pub exp: i64,
}

/// Why a cursor was refused; each becomes a 400 with Gong's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorError {
    Expired,
    Invalid,
}

impl CursorError {
    pub fn text(&self) -> &'static str {
        match self {
            CursorError::Expired => {
                "cursor has expired, please restart the request without a cursor"
            }
            CursorError::Invalid => "Bad request: invalid cursor",
        }
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A signed cursor for `claims`.
pub fn issue(claims: &Claims, key: u64) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let head = URL_SAFE_NO_PAD.encode(HEADER);
    let body = URL_SAFE_NO_PAD.encode(&payload);
    let sig = URL_SAFE_NO_PAD.encode(sign(&format!("{head}.{body}"), key).to_be_bytes());
    format!("{head}.{body}.{sig}")
}

/// The claims of `token` if it is ours, for `request`, and not expired at `now` (epoch s).
pub fn check(token: &str, key: u64, request: &str, now: i64) -> Result<Claims, CursorError> {
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CursorError::Invalid);
    };
    let expected = URL_SAFE_NO_PAD.encode(sign(&format!("{head}.{body}"), key).to_be_bytes());
    if sig != expected {
        return Err(CursorError::Invalid);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CursorError::Invalid)?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| CursorError::Invalid)?;
    if claims.request != request {
        return Err(CursorError::Invalid);
    }
    if now >= claims.exp {
        return Err(CursorError::Expired);
    }
    Ok(claims)
}

/// A keyed FNV-1a: enough to tell our cursors from edited ones (the mock is no vault).
fn sign(text: &str, key: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ key;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A stable digest of a request's identity (endpoint and canonical filter).
pub fn request_digest(endpoint: &str, filter: &str) -> String {
    format!("{:016x}", sign(&format!("{endpoint}\n{filter}"), 0x5eed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            request: request_digest("calls", "a"),
            page_number: 1,
            page_size: 100,
            total: 250,
            exp: 1_000,
        }
    }

    #[test]
    fn a_cursor_is_good_only_for_its_request_and_until_it_expires() {
        let t = issue(&claims(), 7);
        assert_eq!(
            check(&t, 7, &request_digest("calls", "a"), 999),
            Ok(claims())
        );
        assert_eq!(
            check(&t, 7, &request_digest("calls", "b"), 999),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            check(&t, 7, &request_digest("calls", "a"), 1_000),
            Err(CursorError::Expired)
        );
        assert_eq!(
            check(&t, 8, &request_digest("calls", "a"), 999),
            Err(CursorError::Invalid)
        );
        assert_eq!(check("x.y", 7, "r", 0), Err(CursorError::Invalid));
        let mut forged = t.clone();
        forged.insert(30, 'A');
        assert!(check(&forged, 7, &request_digest("calls", "a"), 999).is_err());
    }
}
