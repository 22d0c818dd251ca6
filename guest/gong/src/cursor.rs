//! The listing cursor: where a listing is (its window, the current time slice, Gong's page
//! cursor within it) and, once done, where the next incremental listing starts. Written with
//! `connector_sdk::cursor` (versioned JSON); bump [`VERSION`] when the format changes.
//!
//! A listing's window `[start, end)` is cut into slices of at most [`SLICE_MS`], oldest first.
//! Gong's page cursor lives about an hour from the first page of its sequence, so a slice is
//! small enough to be paged through well within that.

use connector_sdk::{CrawlMode, Error, cursor};
use serde::{Deserialize, Serialize};

/// The cursor's format version.
pub const VERSION: u32 = 1;

/// The longest slice of a window: 7 days.
pub const SLICE_MS: i64 = 7 * 86_400_000;

/// Which crawl a listing belongs to (kept for diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Full,
    Incremental,
}

impl From<CrawlMode> for Kind {
    fn from(mode: CrawlMode) -> Self {
        match mode {
            CrawlMode::Full => Kind::Full,
            CrawlMode::Incremental => Kind::Incremental,
        }
    }
}

/// A listing under way: the current slice `[from_ms, to_ms)` of a window ending at `end_ms`,
/// and Gong's cursor for the slice's next page (`None`: its first page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub kind: Kind,
    pub end_ms: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// The contract-level cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "lowercase")]
pub enum Cursor {
    /// More pages to come (the `more` cursor).
    Listing(Listing),
    /// A finished listing whose window ended at `end_ms` (the `done` cursor, where the next
    /// incremental listing starts).
    Checkpoint { end_ms: i64 },
}

impl Listing {
    /// The first slice of the window `[start_ms, end_ms)`; `None` when the window is empty.
    pub fn window(kind: Kind, start_ms: i64, end_ms: i64) -> Option<Listing> {
        (start_ms < end_ms).then(|| Listing {
            kind,
            end_ms,
            from_ms: start_ms,
            to_ms: slice_end(start_ms, end_ms),
            page: None,
        })
    }

    /// The same slice at Gong's next page.
    pub fn at_page(self, page: String) -> Listing {
        Listing {
            page: Some(page),
            ..self
        }
    }

    /// The next slice's first page; `None` after the last slice.
    pub fn next_slice(&self) -> Option<Listing> {
        Listing::window(self.kind, self.to_ms, self.end_ms)
    }

    /// Whether the slice is one this connector could have written.
    fn is_sound(&self) -> bool {
        self.from_ms < self.to_ms
            && self.to_ms <= self.end_ms
            && self.to_ms.saturating_sub(self.from_ms) <= SLICE_MS
            && self.page.as_deref().is_none_or(|p| !p.is_empty())
    }
}

/// The end of the slice starting at `from_ms` in a window ending at `end_ms`.
fn slice_end(from_ms: i64, end_ms: i64) -> i64 {
    from_ms.saturating_add(SLICE_MS).min(end_ms)
}

/// The cursor as the host stores it.
pub fn encode(c: &Cursor) -> Result<String, Error> {
    cursor::encode(VERSION, c)
}

/// The cursor the host passed (`None`: no cursor). One that does not read, or names an
/// impossible slice, is a config error that says to run a full crawl.
pub fn decode(raw: Option<&str>) -> Result<Option<Cursor>, Error> {
    let parsed: Option<Cursor> = cursor::decode(VERSION, raw)?;
    if let Some(Cursor::Listing(l)) = &parsed
        && !l.is_sound()
    {
        return Err(Error::config(
            "the listing cursor names an impossible time slice; run a full crawl, which starts without a cursor",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn windows_are_sliced_oldest_first() {
        let mut slices = Vec::new();
        let mut at = Listing::window(Kind::Full, 0, 20 * DAY);
        while let Some(l) = at {
            slices.push((l.from_ms / DAY, l.to_ms / DAY));
            at = l.next_slice();
        }
        assert_eq!(slices, vec![(0, 7), (7, 14), (14, 20)]);
        assert_eq!(Listing::window(Kind::Full, 5, 5), None);
    }

    #[test]
    fn round_trips_and_refuses_nonsense() {
        let l = Listing::window(Kind::Incremental, DAY, 3 * DAY)
            .unwrap()
            .at_page("eyJhbGciOiJIUzI1NiJ9.x.y".into());
        for c in [Cursor::Listing(l.clone()), Cursor::Checkpoint { end_ms: 9 }] {
            let raw = encode(&c).unwrap();
            assert_eq!(decode(Some(&raw)).unwrap(), Some(c));
        }
        assert_eq!(decode(None).unwrap(), None);
        let bad = Cursor::Listing(Listing {
            to_ms: 20 * DAY,
            end_ms: 20 * DAY,
            ..l
        });
        let raw = encode(&bad).unwrap();
        assert!(matches!(decode(Some(&raw)), Err(Error::Config(m)) if m.contains("full crawl")));
        assert!(matches!(
            decode(Some("{\"v\":1,\"s\":{\"at\":\"x\"}}")),
            Err(Error::Config(_))
        ));
    }
}
