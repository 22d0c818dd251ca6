//! `list-users`: Gong's users (`GET /v2/users`, paged with Gong's cursor) as the contract's
//! users. Emails are lower-cased like the members of restricted calls, so identities and
//! grants match; a user without an email cannot be referenced and is left out. An expired
//! Gong cursor restarts the directory from its first page once.

use connector_sdk::permissions::looks_like_email;
use connector_sdk::{Ctx, Error, User, UserPage, cursor};

use crate::client::{Client, Paged};
use crate::wire::{self, GongUser, UsersPage};

/// The users cursor's format version (the cursor carries Gong's page cursor).
pub const VERSION: u32 = 1;

/// One page of users, resuming from the host's `raw` cursor.
pub fn list(ctx: &Ctx, raw: Option<&str>) -> Result<UserPage, Error> {
    let gong_cursor: Option<String> = cursor::decode(VERSION, raw)?;
    let client = Client::new(ctx.http(), ctx.now_ms());
    let what = "listing users";
    let mut answer = client
        .users(gong_cursor.as_deref())
        .map_err(|e| e.context(what))?;
    if let Paged::CursorExpired = answer {
        ctx.warn("listing users: Gong's page cursor has expired; listing users again from the first page");
        answer = client.users(None).map_err(|e| e.context(what))?;
    }
    let page: UsersPage = match answer {
        Paged::Page(page) => page,
        Paged::Empty => return Ok(UserPage::new(Vec::new(), None)),
        Paged::CursorExpired => {
            return Err(Error::transient(
                "listing users: Gong answered that the cursor has expired to a request without one; retry later",
            ));
        }
    };
    let Some(listed) = page.users else {
        return Err(Error::system(
            "listing users: GET /v2/users answered without a `users` list; Gong may have changed its format",
        ));
    };
    let users = listed.iter().filter_map(|u| to_user(ctx, u)).collect();
    let next = match wire::next_cursor(&page.records) {
        Some(c) if gong_cursor.as_deref() == Some(c.as_str()) => {
            return Err(Error::system(
                "listing users: GET /v2/users answered the page cursor it was sent as the next one",
            ));
        }
        Some(c) => Some(cursor::encode(VERSION, &c)?),
        None => None,
    };
    Ok(UserPage::new(users, next))
}

/// A Gong user as a contract user: `First Last` (else the email); `active` defaults to true
/// when Gong does not say.
fn to_user(ctx: &Ctx, u: &GongUser) -> Option<User> {
    let id = u.id.as_deref().map(str::trim).filter(|id| !id.is_empty());
    let email = u
        .email_address
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| looks_like_email(e));
    let (Some(id), Some(email)) = (id, email) else {
        ctx.info(&format!(
            "a Gong user without an id or a usable email is left out (id {})",
            id.unwrap_or("unknown")
        ));
        return None;
    };
    let name: Vec<&str> = [&u.first_name, &u.last_name]
        .into_iter()
        .filter_map(|n| n.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .collect();
    let name = if name.is_empty() {
        email.clone()
    } else {
        name.join(" ")
    };
    Some(User::new(id, email, name, u.active.unwrap_or(true)))
}
