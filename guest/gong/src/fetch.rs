//! `fetch-item`: one call in full. `POST /v2/calls/extensive` (parties, CRM context, AI
//! blocks), then `POST /v2/calls/transcript`, mapped by [`crate::mapping`].
//!
//! A call `/extensive` does not return is confirmed with `GET /v2/calls/{id}` before it is
//! reported gone: only Gong's 404 "Call ID ... was not found" there is proof of deletion
//! (not-found); a call Gong still knows by id is a transient error (the endpoints disagree for
//! a while after a call is processed); any other answer keeps its own category. Nothing else is
//! ever not-found, so a 429, a 5xx or an odd 404 never deletes an item.
//!
//! Access is established from the fetched call itself (its `isPrivate` now, its parties), not
//! from the listing's visibility hint.

use connector_sdk::{Ctx, Error, Item};

use crate::client::{Client, Exists};
use crate::config::Settings;
use crate::mapping;
use crate::wire;

/// The item for call `id`.
pub fn fetch_item(ctx: &Ctx, settings: &Settings, id: &str) -> Result<Item, Error> {
    if !wire::is_call_id(id) {
        let shown: String = id.chars().take(40).collect();
        return Err(Error::system(format!(
            "`{shown}` is not a Gong call id (1 to 20 digits); this connector never lists such an id"
        )));
    }
    let client = Client::new(ctx.http(), ctx.now_ms());
    let context = |e: Error| e.context(format!("fetching call {id}"));
    let Some(call) = client.extensive(id).map_err(context)? else {
        return Err(confirm_gone(&client, id));
    };
    let transcript = client.transcript(id).map_err(context)?;
    Ok(mapping::to_item(
        id,
        &call,
        &transcript,
        settings.non_private_calls(),
    ))
}

/// The error for a call `/extensive` did not return: not-found only on Gong's word.
fn confirm_gone(client: &Client, id: &str) -> Error {
    match client.call_exists(id) {
        Ok(Exists::No(text)) => Error::not_found(format!("call {id}: Gong says: {text}")),
        Ok(Exists::Yes) => Error::transient(format!(
            "call {id} is listed by id but not by /v2/calls/extensive yet; retry"
        )),
        Err(e) => e.context(format!(
            "fetching call {id}: /v2/calls/extensive did not return it and confirming by id failed"
        )),
    }
}
