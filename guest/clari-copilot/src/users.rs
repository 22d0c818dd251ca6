//! `list-users`: the Copilot user directory (`GET /users`, one unpaginated answer) as the
//! contract's users. A user without an email cannot be referenced and is left out.

use connector_sdk::{Error, User, UserPage, log};

use crate::client::Client;

pub fn list(client: &Client) -> Result<UserPage, Error> {
    let mut users: Vec<User> = Vec::new();
    for u in client.users().map_err(|e| e.context("listing users"))? {
        // Lowercased, like the members of private calls, so identities and grants match.
        let Some(email) = u
            .email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
        else {
            log::info(&format!(
                "a Copilot user without an email is left out (id {})",
                u.id.as_deref().unwrap_or("unknown")
            ));
            continue;
        };
        if users.iter().any(|known| known.email == email) {
            continue;
        }
        let name = u
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&email);
        users.push(User {
            id: u.id.clone().unwrap_or_else(|| email.clone()),
            name: name.to_string(),
            email,
            active: true,
        });
    }
    Ok(UserPage {
        users,
        next_cursor: None,
    })
}
