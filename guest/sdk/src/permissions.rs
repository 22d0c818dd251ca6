//! The usual mapping from access facts to permissions, failing closed: public items are
//! visible to every user of the datasource; restricted items to their members (valid-looking
//! emails, lowercased, deduplicated); a restricted item without a usable member, and an
//! unknown visibility, to nobody.

use crate::{AccessFacts, Permissions, Visibility};

/// Public to everyone, restricted to its members, anything else to nobody.
pub fn public_or_members(facts: &AccessFacts) -> Permissions {
    match facts.visibility {
        Visibility::Public => Permissions::AllUsers,
        Visibility::Unknown => Permissions::Nobody,
        Visibility::Restricted => {
            let mut users: Vec<String> = Vec::new();
            for m in facts.members.as_deref().unwrap_or(&[]) {
                let e = m.trim().to_lowercase();
                if looks_like_email(&e) && !users.contains(&e) {
                    users.push(e);
                }
            }
            if users.is_empty() {
                Permissions::Nobody
            } else {
                Permissions::Users(users)
            }
        }
    }
}

/// One `@` between a non-empty local part and a dotted domain; no spaces or controls.
pub fn looks_like_email(s: &str) -> bool {
    if s.chars().any(|c| {
        c.is_whitespace() || c.is_control() || c == ',' || c == ';' || c == '<' || c == '>'
    }) {
        return false;
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_closed() {
        assert!(matches!(
            public_or_members(&AccessFacts::new(Visibility::Public)),
            Permissions::AllUsers
        ));
        assert!(matches!(
            public_or_members(&AccessFacts::new(Visibility::Unknown)),
            Permissions::Nobody
        ));
        assert!(matches!(
            public_or_members(&AccessFacts::new(Visibility::Restricted)),
            Permissions::Nobody
        ));
        let p = public_or_members(&AccessFacts::restricted_to([
            " Ann@Acme.com ",
            "ann@acme.com",
            "not an email",
            "bob@acme.com",
        ]));
        assert!(matches!(p, Permissions::Users(u) if u == ["ann@acme.com", "bob@acme.com"]));
        assert!(matches!(
            public_or_members(&AccessFacts::restricted_to(["nobody@", "a@b"])),
            Permissions::Nobody
        ));
    }
}
