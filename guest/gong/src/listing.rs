//! `list-changes`: calls by time, over a window cut into slices of at most seven days (see
//! [`crate::cursor`]), paged with Gong's cursor.
//!
//! - Full crawl (and an incremental crawl that has no checkpoint yet): the window
//!   `[now - history_days, now)`.
//! - Incremental crawl: `[checkpoint - overlap_hours, now)`, no earlier than the full window's
//!   start. Gong has no modified-since filter, and its processing and AI blocks arrive after a
//!   call is first listed, so the overlap lists recent calls again; their fingerprints let the
//!   host skip those that did not change.
//!
//! `now` is the crawl clock rounded down to the second, so every filter is a whole second.
//! Gong answers a slice with no calls with a 404 "No calls found corresponding to the provided
//! filters": an empty slice. An expired Gong cursor restarts the current slice from its first
//! page once per call (the host drops ids it has already seen in the crawl). Empty slices are
//! stepped over in the same call, up to [`REQUEST_BUDGET`] requests.

use connector_sdk::{Change, ChangePage, CrawlMode, Ctx, Error};

use crate::access;
use crate::client::{CallsQuery, Client, Paged};
use crate::config::{NonPrivateCalls, Settings};
use crate::cursor::{self, Cursor, Listing};
use crate::fingerprint;
use crate::iso;
use crate::wire::{self, CallBasic};

/// Requests one `list-changes` call may send (over empty slices and pages of skipped calls)
/// before it hands back a cursor.
pub const REQUEST_BUDGET: usize = 10;

/// One page of changes for `mode`, resuming from the host's `raw` cursor.
pub fn list_changes(
    ctx: &Ctx,
    settings: &Settings,
    mode: CrawlMode,
    raw: Option<&str>,
) -> Result<ChangePage, Error> {
    let now_ms = ctx.now_ms();
    let client = Client::new(ctx.http(), now_ms);
    let mut at = start(settings, mode, raw, now_ms)?;
    let mut restarted = false;
    for _ in 0..REQUEST_BUDGET {
        let query = CallsQuery {
            from_ms: at.from_ms,
            to_ms: at.to_ms,
            workspace_id: settings.workspace_id(),
            cursor: at.page.as_deref(),
        };
        let what = || {
            format!(
                "listing calls from {} to {}",
                iso::format_utc(at.from_ms),
                iso::format_utc(at.to_ms)
            )
        };
        let (calls, gong_cursor) = match client.list_calls(&query).map_err(|e| e.context(what()))? {
            Paged::Page(page) => {
                let calls = page.calls.ok_or_else(|| {
                    Error::system(format!(
                        "{}: GET /v2/calls answered without a `calls` list; Gong may have changed its format",
                        what()
                    ))
                })?;
                (calls, wire::next_cursor(&page.records))
            }
            Paged::Empty => (Vec::new(), None),
            Paged::CursorExpired if !restarted => {
                restarted = true;
                ctx.warn(&format!(
                    "{}: Gong's page cursor has expired; listing the slice again from its first page",
                    what()
                ));
                at.page = None;
                continue;
            }
            Paged::CursorExpired => {
                return Err(Error::transient(format!(
                    "{}: Gong's page cursor expired again right after the slice was restarted; retry later",
                    what()
                )));
            }
        };
        let changes = to_changes(ctx, &calls, settings.non_private_calls());
        let Some(next) = advance(&at, gong_cursor)? else {
            return done(changes, at.end_ms);
        };
        if !changes.is_empty() {
            return more(changes, next);
        }
        at = next;
    }
    more(Vec::new(), at)
}

/// Where the listing starts: the cursor's listing, or a new window for `mode`.
fn start(
    settings: &Settings,
    mode: CrawlMode,
    raw: Option<&str>,
    now_ms: i64,
) -> Result<Listing, Error> {
    let end = now_ms.saturating_sub(now_ms.rem_euclid(1000));
    let history_start = end.saturating_sub(settings.history_ms());
    let start = match (mode, cursor::decode(raw)?) {
        (_, Some(Cursor::Listing(listing))) => return Ok(listing),
        (CrawlMode::Incremental, Some(Cursor::Checkpoint { end_ms })) => end_ms
            .min(end)
            .saturating_sub(settings.overlap_ms())
            .max(history_start),
        _ => history_start,
    };
    Listing::window(mode.into(), start, end).ok_or_else(|| {
        Error::system(format!(
            "the listing window [{start}, {end}) is empty; the crawl clock is not usable"
        ))
    })
}

/// The position after a page: Gong's next page of the slice, else the next slice; `None`
/// when the window is done.
fn advance(at: &Listing, gong_cursor: Option<String>) -> Result<Option<Listing>, Error> {
    match gong_cursor {
        Some(c) if at.page.as_deref() == Some(c.as_str()) => Err(Error::system(
            "GET /v2/calls answered the page cursor it was sent as the next one; the listing would not advance",
        )),
        Some(c) => Ok(Some(at.clone().at_page(c))),
        None => Ok(at.next_slice()),
    }
}

fn more(changes: Vec<Change>, next: Listing) -> Result<ChangePage, Error> {
    Ok(ChangePage::more(
        changes,
        cursor::encode(&Cursor::Listing(next))?,
    ))
}

/// The last page: the next incremental listing starts from this window's end.
fn done(changes: Vec<Change>, end_ms: i64) -> Result<ChangePage, Error> {
    Ok(ChangePage::done(
        changes,
        cursor::encode(&Cursor::Checkpoint { end_ms })?,
    ))
}

/// The listed calls as changes; a call without a usable id is logged and left out (ids are
/// the index's keys).
fn to_changes(ctx: &Ctx, calls: &[CallBasic], rule: NonPrivateCalls) -> Vec<Change> {
    let mut changes = Vec::with_capacity(calls.len());
    for call in calls {
        let Some(id) = call.id.as_deref().filter(|id| wire::is_call_id(id)) else {
            let shown: String = call
                .id
                .as_deref()
                .unwrap_or("none")
                .chars()
                .take(40)
                .collect();
            ctx.warn(&format!(
                "GET /v2/calls listed a call whose id ({shown}) is not 1 to 20 digits; it is left out"
            ));
            continue;
        };
        let visibility = access::listing_visibility(call.is_private, rule);
        let mut change = Change::ready(id, visibility).fingerprint(fingerprint::of(call, rule));
        if let Some(ms) = call.started_ms() {
            change = change.modified_at_ms(ms);
        }
        changes.push(change);
    }
    changes
}
