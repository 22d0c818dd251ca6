//! Which listed calls are public. Clari has no privacy field: it leaves private calls out
//! of `/calls` unless `includePrivate=true`. So after a page listed with private calls, a
//! second listing without them over the page's range (inclusive, paged to the end) names
//! the public ones; an id only the first listing has is restricted. When that second pass
//! fails, the page fails with it: the host retries the page like any request, and a page
//! that keeps failing stops the crawl at its checkpoint. A failed request never turns into
//! no-access documents (that would silently hide calls from the people who should see them).

use std::collections::HashSet;

use connector_sdk::{Error, Visibility, log};

use crate::client::{CallsQuery, Client, Clock, MAX_SKIP};
use crate::wire;

/// The range of a page's calls on the listing's clock, both ends inclusive (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub clock: Clock,
    pub min: i64,
    pub max: i64,
}

impl PageRange {
    /// The range covering `points`; `None` when there are none.
    pub fn covering(clock: Clock, points: impl IntoIterator<Item = i64>) -> Option<PageRange> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let (min, max) = it.fold((first, first), |(lo, hi), p| (lo.min(p), hi.max(p)));
        Some(PageRange { clock, min, max })
    }
}

/// The ids of the public calls in `range`, listing with `includePrivate=false`.
pub fn public_ids(
    client: &Client,
    range: PageRange,
    page_size: u32,
) -> Result<HashSet<String>, Error> {
    let mut ids = HashSet::new();
    let mut skip: u64 = 0;
    loop {
        let page = client.list_calls(&CallsQuery {
            clock: range.clock,
            from: range.min,
            to: range.max.saturating_add(1),
            include_private: false,
            skip,
            limit: page_size,
        })?;
        let returned = page.calls.len() as u64;
        ids.extend(page.calls.iter().filter_map(wire::call_id));
        let more = match &page.pagination {
            Some(p) => p.has_more.unwrap_or(false),
            None => returned >= u64::from(page_size),
        };
        if !more || returned == 0 {
            return Ok(ids);
        }
        let next = page
            .pagination
            .and_then(|p| p.next_page_skip)
            .filter(|n| *n > skip)
            .unwrap_or(skip + returned);
        if next > MAX_SKIP {
            return Err(Error::system(format!(
                "the public-calls pass found more than {MAX_SKIP} calls between two listed calls; privacy cannot be established"
            )));
        }
        skip = next;
    }
}

/// The visibility of a listed id, given the ids of the page's public pass.
pub fn decide(public: &HashSet<String>, id: &str) -> Visibility {
    if public.contains(id) {
        Visibility::Public
    } else {
        Visibility::Restricted
    }
}

/// Runs the public pass for a page. A failure fails the page, keeping its category (a 5xx
/// stays transient, so the host retries the page).
pub fn establish(
    client: &Client,
    range: PageRange,
    page_size: u32,
) -> Result<HashSet<String>, Error> {
    public_ids(client, range, page_size).map_err(|e| {
        log::warn(&format!(
            "could not establish which calls are public ({e}); the page is retried, nothing is indexed from it until then"
        ));
        e.context("establishing which calls are public (the listing without private calls)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_covers_points() {
        assert_eq!(PageRange::covering(Clock::CallTime, []), None);
        assert_eq!(
            PageRange::covering(Clock::Modified, [5, 2, 9]),
            Some(PageRange {
                clock: Clock::Modified,
                min: 2,
                max: 9
            })
        );
    }

    #[test]
    fn only_the_public_listing_makes_a_call_public() {
        let ok: HashSet<String> = ["a".to_string()].into();
        assert_eq!(decide(&ok, "a"), Visibility::Public);
        assert_eq!(decide(&ok, "b"), Visibility::Restricted);
    }
}
