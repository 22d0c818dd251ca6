//! `list-changes`: the full crawl over the history window and the incremental crawl since
//! the last checkpoint, sliced in time so that no slice needs a `skip` beyond Clari's cap,
//! paged through the cursor, with each page's privacy established by [`crate::privacy`].
//!
//! - Full: calls whose `time` is in `[now - history_months, now]`, by `sortTime=asc`.
//! - Incremental: calls whose `last_modified_time` is after the checkpoint minus the
//!   overlap, by `sortProcessed=asc`. Clari moves `last_modified_time` only when a call's
//!   status changes, so edits made after processing (title, CRM links, a regenerated
//!   summary) are not seen here: the periodic full crawl picks them up.
//!
//! Every call the listing returns becomes a change: `ready` with its visibility when its
//! status is `POST_PROCESSING_DONE`, `skipped` with a reason otherwise or when a field the
//! listing needs is unusable. A call without an id is logged and left out.
//!
//! Calls on their way (recording or processing) are remembered in the checkpoint (at most
//! [`crate::cursor::MAX_PENDING`], for at most [`crate::cursor::PENDING_HORIZON_MS`] after their
//! status last changed). The overlap of an incremental crawl is short (10 minutes by default),
//! so a call that has been processing for half an hour is no longer listed; its status has not
//! changed, or Clari would have moved its `last_modified_time` into the window. The listing's
//! last page re-announces it as skipped, at no request's cost, so the host knows the
//! workspace is in motion and keeps polling at its shortest interval until the call is done.
//!
//! Paging is by `skip` inside a slice. When Clari's `matched` for a slice drops while it is
//! paged (calls left it, so later ones moved down), paging steps back by the drop and the
//! repeats are dropped by id; calls added meanwhile only cause repeats, which the host and
//! the cursor's recent ids absorb.

use connector_sdk::{Change, ChangePage, ChangeState, CrawlMode, Error, ListingNext, log};
use serde_json::Value;

use crate::client::{CallsPage, CallsQuery, Client, Clock, MAX_SKIP};
use crate::config::Settings;
use crate::cursor::{Cursor, Listing, Mode, Pending, PendingList, Slice, trim_pending};
use crate::privacy::{self, PageRange};
use crate::status::CallStatus;
use crate::time;
use crate::wire;

/// Upstream requests one `list-changes` call may spend on splitting slices, stepping back
/// and skipping empty slices before it hands back a cursor.
const REQUEST_BUDGET: usize = 12;

/// A slice over the cap is split so that each part holds about this many calls.
const TARGET_PER_SLICE: u64 = MAX_SKIP / 2;

/// One page of changes for `mode`, resuming from `cursor`; `now_ms` is the crawl clock.
pub fn list_changes(
    client: &Client,
    settings: &Settings,
    mode: CrawlMode,
    cursor: Option<&str>,
    now_ms: i64,
) -> Result<ChangePage, Error> {
    let mut listing = resume(settings, mode, cursor, now_ms)?;
    let clock = match listing.mode {
        Mode::Full => Clock::CallTime,
        Mode::Incremental => Clock::Modified,
    };
    for _ in 0..REQUEST_BUDGET {
        let Some(slice) = listing.slices.first().copied() else {
            break;
        };
        let limit = listing.page_limit.unwrap_or(settings.page_size());
        let query = CallsQuery {
            clock,
            from: slice.from(),
            to: slice.to(),
            include_private: true,
            skip: listing.skip,
            limit,
        };
        let page = match client.list_calls(&query) {
            Ok(page) => page,
            // Clari answers 502 when an answer would be over its size cap: halve the page.
            Err(e) if is_bad_gateway(&e) && limit > 1 => {
                log::warn(&format!(
                    "Clari answered 502 for a page of {limit} calls (its answers are capped at about 6 MB); trying pages of {}",
                    limit / 2
                ));
                listing.page_limit = Some(limit / 2);
                continue;
            }
            Err(e) => return Err(e.context("listing calls")),
        };
        let matched = page.pagination.as_ref().and_then(|p| p.matched);
        if let Some(m) = matched {
            if m > MAX_SKIP && slice.width() > 1 {
                split_first(&mut listing, m.div_ceil(TARGET_PER_SLICE).max(2));
                continue;
            }
            if let Some(before) = listing.matched
                && m < before
                && listing.skip > 0
            {
                // Calls left the slice while it was paged: the rest moved down. Step back.
                listing.skip = listing.skip.saturating_sub(before - m);
                listing.matched = Some(m);
                continue;
            }
            if m > MAX_SKIP && listing.skip == 0 {
                log::warn(&format!(
                    "{m} calls share the millisecond {}: only the first {MAX_SKIP} can be listed",
                    time::format_query(slice.from())
                ));
            }
            listing.matched = Some(m);
        }
        let changes = page_changes(client, &mut listing, &page.calls, clock, limit)?;
        advance(&mut listing, &page, limit);
        grow_back(&mut listing, settings.page_size());
        if !page.calls.is_empty() {
            return Ok(finish(changes, listing));
        }
    }
    Ok(finish(Vec::new(), listing))
}

/// Whether `e` is Clari's 502 (its answer to a response over the size cap).
fn is_bad_gateway(e: &Error) -> bool {
    matches!(e, Error::Transient { message, .. } if message.contains("HTTP 502"))
}

/// After a page that worked, a reduced page size doubles back towards the configured one.
fn grow_back(listing: &mut Listing, configured: u32) {
    if let Some(l) = listing.page_limit {
        let next = l.saturating_mul(2);
        listing.page_limit = (next < configured).then_some(next);
    }
}

/// The page with its continuation: `done` with the checkpoint when nothing is left. The
/// last page re-announces the carried calls still on their way (see [`Pending`]).
fn finish(mut changes: Vec<Change>, mut listing: Listing) -> ChangePage {
    if !listing.slices.is_empty() {
        let next = ListingNext::More(Cursor::Listing(listing).encode());
        return ChangePage { changes, next };
    }
    let mut pending = std::mem::take(&mut listing.pending.0);
    trim_pending(&mut pending, listing.end);
    for p in pending.iter_mut().filter(|p| p.carried) {
        changes.push(Change {
            id: p.id.clone(),
            modified_at: Some(p.modified_at),
            state: ChangeState::Skipped(STILL_ON_ITS_WAY.into()),
            fingerprint: None,
        });
        p.carried = false;
    }
    let since = listing.end;
    ChangePage {
        changes,
        next: ListingNext::Done(
            Cursor::Checkpoint {
                since,
                pending: PendingList(pending),
            }
            .encode(),
        ),
    }
}

/// The reason a carried call is re-announced as skipped.
const STILL_ON_ITS_WAY: &str =
    "not processed yet (its status has not changed since it was last listed)";

/// Notes what one listed entry says about the calls on their way to being processed: it
/// leaves the carried ones, and joins the pending ones while its status is in flight.
fn track_pending(listing: &mut Listing, entry: &Entry, now_ms: i64) {
    let (id, on_its_way, modified_at) = match entry {
        Entry::Ready { id, .. } => (id, false, None),
        Entry::Skipped {
            id,
            on_its_way,
            modified_at,
            ..
        } => (id, *on_its_way, *modified_at),
    };
    listing.pending.0.retain(|p| &p.id != id);
    if on_its_way && PendingList::can_hold(id) {
        listing.pending.0.push(Pending {
            id: id.clone(),
            modified_at: modified_at.unwrap_or(now_ms),
            carried: false,
        });
        trim_pending(&mut listing.pending.0, listing.end);
    }
}

/// The listing to continue: from the cursor, or a fresh one.
fn resume(
    settings: &Settings,
    mode: CrawlMode,
    cursor: Option<&str>,
    now_ms: i64,
) -> Result<Listing, Error> {
    let decoded = cursor.map(Cursor::decode);
    match mode {
        CrawlMode::Full => match decoded {
            Some(Ok(Cursor::Listing(l))) if l.mode == Mode::Full => Ok(l),
            Some(Err(why)) => {
                log::warn(&format!(
                    "the full-crawl cursor is unusable ({why}); starting the full crawl over"
                ));
                Ok(fresh_full(settings, now_ms))
            }
            _ => Ok(fresh_full(settings, now_ms)),
        },
        CrawlMode::Incremental => match decoded {
            Some(Ok(Cursor::Listing(l))) if l.mode == Mode::Incremental => Ok(l),
            Some(Ok(Cursor::Checkpoint { since, pending })) => {
                Ok(fresh_incremental(settings, since, pending.0, now_ms))
            }
            Some(Ok(Cursor::Listing(_))) => Err(Error::config(
                "the cursor belongs to an unfinished full crawl; finish the full crawl before an incremental one",
            )),
            Some(Err(why)) => Err(Error::config(format!(
                "the incremental cursor is not one this connector version understands ({why}); run a full crawl to start a new one"
            ))),
            None => Err(Error::config(
                "an incremental crawl needs the cursor of a finished full crawl; run a full crawl first",
            )),
        },
    }
}

/// A full crawl of `[now - history_months, now]`.
fn fresh_full(settings: &Settings, now_ms: i64) -> Listing {
    let end = now_ms.saturating_add(1);
    let from = time::months_before(now_ms, settings.history_months());
    Listing {
        mode: Mode::Full,
        end,
        slices: Slice::new(from, end).into_iter().collect(),
        skip: 0,
        matched: None,
        recent: Vec::new(),
        page_limit: None,
        pending: PendingList::default(),
    }
}

/// An incremental crawl of calls modified in `[since - overlap, now]`, carrying the calls
/// the last one left on their way to being processed.
fn fresh_incremental(
    settings: &Settings,
    since: i64,
    mut carried: Vec<Pending>,
    now_ms: i64,
) -> Listing {
    trim_pending(&mut carried, now_ms);
    for p in &mut carried {
        p.carried = true;
    }
    let end = now_ms.saturating_add(1);
    let from = since.saturating_sub(settings.incremental_overlap_ms());
    Listing {
        mode: Mode::Incremental,
        end,
        slices: Slice::new(from, end).into_iter().collect(),
        skip: 0,
        matched: None,
        recent: Vec::new(),
        page_limit: None,
        pending: PendingList(carried),
    }
}

/// Replaces the first slice by `parts` contiguous pieces and restarts paging there.
fn split_first(listing: &mut Listing, parts: u64) {
    if let Some(first) = listing.slices.first().copied() {
        listing.slices.splice(0..1, first.split(parts));
    }
    listing.skip = 0;
    listing.matched = None;
}

/// Moves the position past `page`: the next page of the slice, or the next slice.
fn advance(listing: &mut Listing, page: &CallsPage, limit: u32) {
    let returned = page.calls.len() as u64;
    let more = match &page.pagination {
        Some(p) => p.has_more.unwrap_or(returned >= u64::from(limit)),
        None => returned >= u64::from(limit),
    };
    if !more || returned == 0 {
        listing.finish_slice();
        return;
    }
    let next = page
        .pagination
        .as_ref()
        .and_then(|p| p.next_page_skip)
        .filter(|n| *n > listing.skip)
        .unwrap_or(listing.skip.saturating_add(returned));
    if next <= MAX_SKIP {
        listing.skip = next;
        return;
    }
    match listing.slices.first() {
        Some(s) if s.width() > 1 => {
            // Clari did not say how many calls the slice holds; halve it and start again.
            split_first(listing, 2);
        }
        Some(s) => {
            log::warn(&format!(
                "more than {MAX_SKIP} calls share the millisecond {}: the rest cannot be listed",
                time::format_query(s.from())
            ));
            listing.finish_slice();
        }
        None => {}
    }
}

/// A listed call before its visibility is known.
enum Entry {
    /// Eligible, at this point on the listing's clock.
    Ready {
        id: String,
        modified_at: Option<i64>,
        at: i64,
        /// What the listing says about the call (see [`fingerprint`]).
        listed: u64,
    },
    Skipped {
        id: String,
        modified_at: Option<i64>,
        reason: String,
        /// Recording or processing: it will be eligible soon.
        on_its_way: bool,
    },
}

/// The changes of one page: parse each call, then establish privacy for the eligible ones.
/// When privacy cannot be established the whole page fails (the host retries it; if it still
/// fails, the crawl stops at its checkpoint): a call is never indexed as visible to nobody
/// just because a request failed.
fn page_changes(
    client: &Client,
    listing: &mut Listing,
    calls: &[Value],
    clock: Clock,
    limit: u32,
) -> Result<Vec<Change>, Error> {
    let mut entries = Vec::new();
    for raw in calls {
        let Some(id) = wire::call_id(raw) else {
            let excerpt: String = raw.to_string().chars().take(120).collect();
            log::warn(&format!(
                "a listed call has no usable `id` and is left out: {excerpt}"
            ));
            continue;
        };
        if listing.recently_listed(&id) {
            continue;
        }
        listing.remember(&id);
        let entry = classify(raw, id, clock);
        track_pending(listing, &entry, listing.end);
        entries.push(entry);
    }
    let range = PageRange::covering(
        clock,
        entries.iter().filter_map(|e| match e {
            Entry::Ready { at, .. } => Some(*at),
            Entry::Skipped { .. } => None,
        }),
    );
    let public = match range {
        Some(r) => Some(privacy::establish(client, r, limit)?),
        None => None,
    };
    Ok(entries
        .into_iter()
        .map(|e| match e {
            Entry::Ready {
                id,
                modified_at,
                listed,
                ..
            } => {
                let visibility = match &public {
                    Some(ids) => privacy::decide(ids, &id),
                    None => connector_sdk::Visibility::Unknown,
                };
                Change {
                    fingerprint: Some(fingerprint(listed, visibility)),
                    id,
                    modified_at,
                    state: ChangeState::Ready(visibility),
                }
            }
            Entry::Skipped {
                id,
                modified_at,
                reason,
                ..
            } => Change {
                id,
                modified_at,
                state: ChangeState::Skipped(reason),
                fingerprint: None,
            },
        })
        .collect())
}

/// FNV-1a (64 bits) of `bytes`: a stable digest (the host keeps fingerprints across
/// upgrades, so the function must not change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The fingerprint of a listed call: its whole listing entry (status, title, times, CRM
/// ids and names, users: everything its document depends on that the listing shows) and the
/// visibility the privacy pass established. The listing's JSON has sorted keys, so equal
/// entries give equal fingerprints.
fn fingerprint(listed: u64, visibility: connector_sdk::Visibility) -> String {
    let v = match visibility {
        connector_sdk::Visibility::Public => 1u8,
        connector_sdk::Visibility::Restricted => 2,
        connector_sdk::Visibility::Unknown => 3,
    };
    format!(
        "v1-{:016x}",
        fnv1a(&[listed.to_le_bytes().as_slice(), &[v]].concat())
    )
}

/// Eligibility of one listed call with an id.
fn classify(raw: &Value, id: String, clock: Clock) -> Entry {
    let call = wire::call_from_value(raw).unwrap_or_default();
    let modified_at = call.last_modified_time.as_deref().and_then(time::parse_ms);
    let skipped = |reason: String| {
        log::info(&format!("call {id} is skipped: {reason}"));
        Entry::Skipped {
            id: id.clone(),
            modified_at,
            reason,
            on_its_way: false,
        }
    };
    let status = match call.status.as_deref() {
        Some(s) => CallStatus::parse(s),
        None => return skipped("field `status` is missing".into()),
    };
    if let Some(reason) = status.skip_reason() {
        return Entry::Skipped {
            id,
            modified_at,
            reason,
            on_its_way: status.is_on_its_way(),
        };
    }
    let (field, raw_point) = match clock {
        Clock::CallTime => ("time", call.time.as_deref()),
        Clock::Modified => ("last_modified_time", call.last_modified_time.as_deref()),
    };
    match raw_point.and_then(time::parse_ms) {
        Some(at) => Entry::Ready {
            id,
            modified_at,
            at,
            listed: fnv1a(raw.to_string().as_bytes()),
        },
        None => {
            log::warn(&format!(
                "call {id}: field `{field}` is missing or not a date-time"
            ));
            skipped(format!("field `{field}` is missing or not a date-time"))
        }
    }
}
