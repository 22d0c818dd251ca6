//! The people on a call, as the item shows them: display names, the speaker names the
//! transcript joins on, the author (the call's owner) and the participant list.

use std::collections::BTreeMap;

use connector_sdk::Person;

use crate::access::is_owner;
use crate::wire::{CallBasic, Party};

/// The name for a speaker whose `speakerId` joins no party.
pub const UNKNOWN_SPEAKER: &str = "Speaker";

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A party's name, else its email (a phone-only party has no display name: its number is not
/// indexed).
pub fn display_name(party: &Party) -> Option<&str> {
    clean(party.name.as_deref()).or_else(|| clean(party.email_address.as_deref()))
}

/// `Ann Rep, AE (Internal)`: name, title and affiliation, for the body.
pub fn describe(party: &Party) -> Option<String> {
    let name = display_name(party)?;
    let mut out = name.to_string();
    if let Some(title) = clean(party.title.as_deref()) {
        out.push_str(", ");
        out.push_str(title);
    }
    if let Some(affiliation) = clean(party.affiliation.as_deref()) {
        out.push_str(&format!(" ({affiliation})"));
    }
    Some(out)
}

/// `speakerId` to the speaker's display name.
pub fn speakers(parties: &[Party]) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for party in parties {
        if let (Some(speaker), Some(name)) =
            (clean(party.speaker_id.as_deref()), display_name(party))
        {
            out.entry(speaker).or_insert(name);
        }
    }
    out
}

/// The call's owner as a person (name and email), when a party is the owner.
pub fn author(meta: &CallBasic, parties: &[Party]) -> Option<Person> {
    let owner = parties.iter().find(|p| is_owner(p, meta))?;
    let name = clean(owner.name.as_deref()).map(str::to_string);
    let email = clean(owner.email_address.as_deref()).map(str::to_lowercase);
    (name.is_some() || email.is_some()).then(|| Person::new(name, email))
}

/// Every party's display name, deduplicated, in party order (the `participants` property).
pub fn participant_names(parties: &[Party]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in parties.iter().filter_map(display_name) {
        if !out.iter().any(|known| known == name) {
            out.push(name.to_string());
        }
    }
    out
}
