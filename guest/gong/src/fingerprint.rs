//! The listing fingerprint: a stable digest of what `GET /v2/calls` says about a call that its
//! document depends on, so the host can skip fetching a call whose listing did not change.
//! What the listing cannot show (parties, CRM context, AI blocks, the transcript) changes
//! without changing the fingerprint; the host's rolling re-fetch covers it.
//!
//! The digest is 64-bit FNV-1a (no hashing crate in the component) over a canonical JSON array
//! of the fields, so no two field lists share a canonical string.

use serde_json::json;

use crate::config::NonPrivateCalls;
use crate::wire::CallBasic;

/// Bumped when the canonical string changes, so every call is fetched once again.
const FORMAT: u32 = 1;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The fingerprint of a listed call under the non-private-calls `rule` (a change of the rule
/// changes who may see the call, so it changes every fingerprint).
pub fn of(call: &CallBasic, rule: NonPrivateCalls) -> String {
    let canonical = json!([
        FORMAT,
        rule.as_str(),
        call.title,
        call.started,
        call.duration,
        call.is_private,
        call.scope,
        call.direction,
        call.system,
        call.language,
        call.purpose,
        call.url,
        call.primary_user_id,
    ])
    .to_string();
    format!("{:016x}", fnv1a64(canonical.as_bytes()))
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn depends_on_the_listed_fields_only() {
        let call = CallBasic {
            id: Some("7782342274025937895".into()),
            title: Some("Acme / Intro".into()),
            is_private: Some(false),
            ..CallBasic::default()
        };
        let f = of(&call, NonPrivateCalls::Participants);
        assert_eq!(f.len(), 16);
        assert_eq!(f, of(&call.clone(), NonPrivateCalls::Participants));
        let unrelated = CallBasic {
            meeting_url: Some("https://zoom.us/j/1".into()),
            ..call.clone()
        };
        assert_eq!(f, of(&unrelated, NonPrivateCalls::Participants));
        let private = CallBasic {
            is_private: None,
            ..call.clone()
        };
        assert_ne!(f, of(&private, NonPrivateCalls::Participants));
        assert_ne!(f, of(&call, NonPrivateCalls::Everyone));
    }
}
