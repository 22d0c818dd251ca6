//! Who may see a call (reference §6.4, simplified to what one call's data proves).
//!
//! - A call whose `isPrivate` is `true`, or `null`/missing (unknown: fail closed), is visible
//!   only to its **internal participants**: the parties whose `affiliation` is `Internal`, and
//!   the call's owner (the party whose `userId` is the call's `primaryUserId`).
//! - A call whose `isPrivate` is `false` is visible to the same people when the
//!   `non_private_calls` setting is `participants` (the default), and to everyone who can use
//!   the datasource when it is `everyone`.
//! - External and Unknown parties never get access (the owner's party excepted only when it
//!   is not marked External). People are matched by email, lower-cased; a restricted call
//!   without a single member email is visible to nobody.
//!
//! Gong's own rules also let people see calls shared with them in the app, calls they are
//! mentioned on, calls in library folders and calls their permission profile opens; none of
//! that is in the call's data, so none of it is granted here (under-granting is the safe
//! direction).

use connector_sdk::permissions::looks_like_email;
use connector_sdk::{AccessFacts, Visibility};

use crate::config::NonPrivateCalls;
use crate::wire::{CallBasic, Party};

/// Whether everyone may see a call with this `isPrivate` under `rule`.
pub fn is_open(is_private: Option<bool>, rule: NonPrivateCalls) -> bool {
    is_private == Some(false) && rule == NonPrivateCalls::Everyone
}

/// The visibility a listing establishes for a call.
pub fn listing_visibility(is_private: Option<bool>, rule: NonPrivateCalls) -> Visibility {
    if is_open(is_private, rule) {
        Visibility::Public
    } else {
        Visibility::Restricted
    }
}

/// Whether `party` is the call's owner.
pub fn is_owner(party: &Party, meta: &CallBasic) -> bool {
    party.user_id.is_some() && party.user_id == meta.primary_user_id
}

fn affiliation_is(party: &Party, value: &str) -> bool {
    party
        .affiliation
        .as_deref()
        .is_some_and(|a| a.trim().eq_ignore_ascii_case(value))
}

/// The emails (lower-cased, deduplicated, in party order) of the call's internal participants
/// and its owner.
pub fn members(meta: &CallBasic, parties: &[Party]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for party in parties {
        let internal = affiliation_is(party, "Internal");
        let owner = is_owner(party, meta) && !affiliation_is(party, "External");
        if !(internal || owner) {
            continue;
        }
        let Some(email) = party.email_address.as_deref() else {
            continue;
        };
        let email = email.trim().to_lowercase();
        if looks_like_email(&email) && !out.contains(&email) {
            out.push(email);
        }
    }
    out
}

/// The access facts of a fetched call.
pub fn facts(meta: &CallBasic, parties: &[Party], rule: NonPrivateCalls) -> AccessFacts {
    if is_open(meta.is_private, rule) {
        return AccessFacts::new(Visibility::Public);
    }
    let members = members(meta, parties);
    if members.is_empty() {
        // Nobody is known to be allowed: the host grants nobody.
        return AccessFacts::new(Visibility::Unknown);
    }
    AccessFacts::restricted_to(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(email: &str, affiliation: &str, user_id: Option<&str>) -> Party {
        Party {
            email_address: Some(email.into()),
            affiliation: Some(affiliation.into()),
            user_id: user_id.map(Into::into),
            ..Party::default()
        }
    }

    #[test]
    fn internal_participants_and_the_owner_only() {
        let meta = CallBasic {
            primary_user_id: Some("234599484848423".into()),
            is_private: Some(true),
            ..CallBasic::default()
        };
        let parties = [
            party("Ann@Acme.com", "Internal", Some("1")),
            party("buyer@customer.com", "External", None),
            party("ann@acme.com", "Internal", None),
            party("who@unknown.com", "Unknown", None),
            party("owner@acme.com", "Unknown", Some("234599484848423")),
            party("not-an-email", "Internal", None),
        ];
        assert_eq!(members(&meta, &parties), ["ann@acme.com", "owner@acme.com"]);
        let spoofed = [party("x@customer.com", "External", Some("234599484848423"))];
        assert!(members(&meta, &spoofed).is_empty());
    }

    #[test]
    fn visibility_rule() {
        use NonPrivateCalls::*;
        assert_eq!(
            listing_visibility(Some(false), Everyone),
            Visibility::Public
        );
        for (p, rule) in [
            (Some(true), Everyone),
            (None, Everyone),
            (Some(false), Participants),
        ] {
            assert_eq!(listing_visibility(p, rule), Visibility::Restricted);
        }
        let open = CallBasic {
            is_private: Some(false),
            ..CallBasic::default()
        };
        assert_eq!(facts(&open, &[], Everyone).visibility, Visibility::Public);
        assert_eq!(
            facts(&open, &[], Participants).visibility,
            Visibility::Unknown
        );
    }
}
