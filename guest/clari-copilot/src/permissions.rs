//! Access facts to permissions, failing closed: public calls are visible to every user of
//! the datasource; restricted calls to their members (valid-looking emails, lowercased,
//! deduplicated); anything else, including a restricted call without usable members and
//! an unknown visibility, to nobody.

use connector_sdk::{AccessFacts, Permissions, Visibility};

pub fn map(facts: &AccessFacts) -> Permissions {
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
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ';' || c == '<' || c == '>') {
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
