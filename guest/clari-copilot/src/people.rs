//! Who is on a call: internal users, external and joined participants, the organizer, the
//! speaker behind a transcript `personId`, and the members of a private call.

use std::cell::RefCell;

use crate::wire::{Call, Participant};

/// A person as far as the call says: a name, an email, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Someone {
    pub name: Option<String>,
    pub email: Option<String>,
}

impl Someone {
    /// `Name <email>`, `Name`, or `email`; `None` with neither.
    pub fn label(&self) -> Option<String> {
        match (&self.name, &self.email) {
            (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(e)) => Some(e.clone()),
            (None, None) => None,
        }
    }
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `s` lowercased as `str::to_lowercase` does, in place and without decoding characters when
/// `s` is ASCII (emails almost always are).
fn lower(mut s: String) -> String {
    if s.is_ascii() {
        s.make_ascii_lowercase();
        s
    } else {
        s.to_lowercase()
    }
}

fn participant(p: &Participant) -> Someone {
    Someone {
        name: clean(&p.name),
        email: clean(&p.email),
    }
}

/// The people of one call.
pub struct People<'a> {
    call: &'a Call,
    /// Speakers already resolved, by person id: a transcript names the same few people in
    /// every turn. At most [`SPEAKERS_KEPT`], so a transcript naming a new id in every turn
    /// costs what it did without the cache, not a search of every id before it.
    speakers: RefCell<Vec<(Option<i64>, String)>>,
}

/// How many resolved speakers a call keeps (calls have a handful).
const SPEAKERS_KEPT: usize = 32;

impl<'a> People<'a> {
    pub fn of(call: &'a Call) -> Self {
        People {
            call,
            speakers: RefCell::new(Vec::new()),
        }
    }

    fn users(&self) -> &'a [crate::wire::CallUser] {
        self.call.users.as_deref().unwrap_or(&[])
    }

    /// Internal users, once per email (lowercased: emails are identities): the email, a
    /// name borrowed from a participant entry with the same email or person id (Clari gives
    /// none here), and whether any entry of theirs organized the call.
    pub fn internal(&self) -> Vec<(Someone, bool)> {
        let mut out: Vec<(Someone, bool)> = Vec::new();
        for u in self.users() {
            let email = clean(&u.user_email).map(lower);
            let organizer = u.is_organizer == Some(true);
            if let Some(e) = &email
                && let Some(known) = out.iter_mut().find(|(s, _)| s.email.as_ref() == Some(e))
            {
                known.1 |= organizer;
                continue;
            }
            let name = self.name_for(email.as_deref(), u.person_id);
            let someone = Someone { name, email };
            if someone.label().is_some() {
                out.push((someone, organizer));
            }
        }
        out
    }

    pub fn external(&self) -> Vec<Someone> {
        self.call
            .external_participants
            .iter()
            .map(participant)
            .filter(|s| s.label().is_some())
            .collect()
    }

    pub fn joined(&self) -> Vec<Someone> {
        self.call
            .joined_participants
            .iter()
            .map(participant)
            .filter(|s| s.label().is_some())
            .collect()
    }

    /// The first internal user flagged as organizer.
    pub fn organizer(&self) -> Option<Someone> {
        self.internal()
            .into_iter()
            .find(|(_, org)| *org)
            .map(|(s, _)| s)
    }

    /// A name for an internal user from the external or joined lists.
    fn name_for(&self, email: Option<&str>, person_id: Option<i64>) -> Option<String> {
        let others = self
            .call
            .external_participants
            .iter()
            .chain(&self.call.joined_participants);
        for p in others {
            let same_email = match (email, clean(&p.email)) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(&b),
                _ => false,
            };
            let same_person = person_id.is_some() && p.person_id == person_id;
            if (same_email || same_person)
                && let Some(n) = clean(&p.name)
            {
                return Some(n);
            }
        }
        None
    }

    /// The speaker behind a transcript or competitor `personId`: a name from any list,
    /// else an email, else `Speaker N` (`Unknown speaker` without an id).
    pub fn speaker(&self, person_id: Option<i64>) -> String {
        if let Some((_, known)) = self.speakers.borrow().iter().find(|(p, _)| *p == person_id) {
            return known.clone();
        }
        let resolved = self.resolve_speaker(person_id);
        let mut kept = self.speakers.borrow_mut();
        if kept.len() < SPEAKERS_KEPT {
            kept.push((person_id, resolved.clone()));
        }
        resolved
    }

    fn resolve_speaker(&self, person_id: Option<i64>) -> String {
        let Some(pid) = person_id else {
            return "Unknown speaker".to_string();
        };
        let participants: Vec<&Participant> = self
            .call
            .external_participants
            .iter()
            .chain(&self.call.joined_participants)
            .filter(|p| p.person_id == Some(pid))
            .collect();
        if let Some(name) = participants.iter().find_map(|p| clean(&p.name)) {
            return name;
        }
        let user_email = self
            .users()
            .iter()
            .filter(|u| u.person_id == Some(pid))
            .find_map(|u| clean(&u.user_email))
            .map(lower);
        if let Some(email) = user_email {
            return self.name_for(Some(&email), Some(pid)).unwrap_or(email);
        }
        participants
            .iter()
            .find_map(|p| clean(&p.email))
            .unwrap_or_else(|| format!("Speaker {pid}"))
    }

    /// The participant facet: one value per person, in call order — the name when the call
    /// gives one (for any of the person's entries, matched by email), else the email — so a
    /// person is one facet value, not a name and an email. Emails stay searchable in the body.
    pub fn facet_values(&self) -> Vec<String> {
        // Each person with their email lowercased once.
        let mut people: Vec<(Someone, Option<String>)> = Vec::new();
        let everyone = self
            .internal()
            .into_iter()
            .map(|(s, _)| s)
            .chain(self.external())
            .chain(self.joined());
        for s in everyone {
            let email = s.email.clone().map(lower);
            let same = people
                .iter_mut()
                .find(|(_, e)| email.is_some() && *e == email);
            match same {
                Some((known, _)) if known.name.is_none() => known.name = s.name,
                Some(_) => {}
                None => people.push((s, email)),
            }
        }
        let mut out: Vec<String> = Vec::new();
        for value in people.into_iter().filter_map(|(p, _)| p.name.or(p.email)) {
            if !out.iter().any(|t| t.eq_ignore_ascii_case(&value)) {
                out.push(value);
            }
        }
        out
    }

    /// The emails of the call's users, lowercased and deduplicated: who may see it when it
    /// is private. `None` when the call has no users list at all.
    pub fn members(&self) -> Option<Vec<String>> {
        let users = self.call.users.as_ref()?;
        let mut out: Vec<String> = Vec::new();
        for u in users {
            if let Some(e) = clean(&u.user_email).map(lower)
                && !out.contains(&e)
            {
                out.push(e);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(v: serde_json::Value) -> Call {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_transcript_naming_a_new_id_every_turn_keeps_a_bounded_cache() {
        let c = call(json!({
            "externalParticipants": [{"name": "Jane Buyer", "personId": 2}]
        }));
        let p = People::of(&c);
        for id in 0..10_000 {
            let expected = if id == 2 {
                "Jane Buyer".to_string()
            } else {
                format!("Speaker {id}")
            };
            assert_eq!(p.speaker(Some(id)), expected);
        }
        assert_eq!(p.speakers.borrow().len(), SPEAKERS_KEPT);
        // Past the cache's bound, names still resolve, and the kept ones answer from it.
        assert_eq!(p.speaker(Some(2)), "Jane Buyer");
        assert_eq!(p.speaker(Some(20_000)), "Speaker 20000");
    }

    #[test]
    fn speakers_resolve_by_person_id() {
        let c = call(json!({
            "users": [{"userEmail": "rep@acme.com", "personId": 0, "isOrganizer": true}],
            "externalParticipants": [{"name": "Jane Buyer", "email": "jane@prospect.com", "personId": 2},
                                     {"email": "cfo@prospect.com", "personId": 3}],
            "joinedParticipants": [{"name": "Dipu C.", "personId": 4}]
        }));
        let p = People::of(&c);
        assert_eq!(p.speaker(Some(0)), "rep@acme.com");
        assert_eq!(p.internal().len(), 1);
        assert_eq!(p.speaker(Some(2)), "Jane Buyer");
        assert_eq!(p.speaker(Some(3)), "cfo@prospect.com");
        assert_eq!(p.speaker(Some(4)), "Dipu C.");
        assert_eq!(p.speaker(Some(9)), "Speaker 9");
        assert_eq!(p.speaker(None), "Unknown speaker");
        assert_eq!(
            p.organizer(),
            Some(Someone {
                name: None,
                email: Some("rep@acme.com".into())
            })
        );
    }

    #[test]
    fn organizer_borrows_a_name_and_members_are_normalized() {
        let c = call(json!({
            "users": [{"userEmail": "Rep@Acme.com", "isOrganizer": true, "personId": 0},
                      {"userEmail": "rep@acme.com"}, {"userEmail": "  "}, {"userId": "x"}],
            "joinedParticipants": [{"name": "April Rep", "email": "rep@ACME.com"}]
        }));
        let p = People::of(&c);
        assert_eq!(p.organizer().unwrap().name.as_deref(), Some("April Rep"));
        assert_eq!(
            p.organizer().unwrap().email.as_deref(),
            Some("rep@acme.com")
        );
        assert_eq!(
            p.speaker(Some(0)),
            "April Rep",
            "an internal speaker borrows the name"
        );
        assert_eq!(p.internal().len(), 1, "one entry per email");
        assert_eq!(p.members(), Some(vec!["rep@acme.com".to_string()]));
        assert_eq!(
            p.facet_values(),
            vec!["April Rep".to_string()],
            "one value a person"
        );
        assert_eq!(People::of(&call(json!({}))).members(), None);
        assert_eq!(
            People::of(&call(json!({"users": []}))).members(),
            Some(vec![])
        );
    }

    #[test]
    fn the_participant_facet_has_one_value_a_person() {
        let c = call(json!({
            "users": [{"userEmail": "rep@acme.com", "personId": 0}],
            "externalParticipants": [{"email": "Buyer@Client.com"}, {"email": "cfo@client.com"}],
            "joinedParticipants": [
                {"name": "Bea Buyer", "email": "buyer@client.com"},
                {"name": "April Rep", "email": "REP@acme.com"},
                {"name": "Walk-in"}
            ]
        }));
        assert_eq!(
            People::of(&c).facet_values(),
            ["April Rep", "Bea Buyer", "cfo@client.com", "Walk-in"],
            "a name wherever the call gives one, an email only for someone it never names"
        );
    }
}
