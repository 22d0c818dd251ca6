//! The listing cursor: an opaque string the connector owns. It is compact JSON with a
//! version field, and it carries everything a crawl needs to resume, because every export
//! call runs in a fresh instance.
//!
//! ```text
//! mid-crawl:  {"v":1,"state":"listing","mode":"full","end":<ms>,"slices":[[from,to],...],
//!              "skip":<n>,"matched":<n|null>,"recent":["id",...]}
//! finished:   {"v":1,"state":"checkpoint","since":<ms>}
//! ```
//!
//! Slices are half-open `[from, to)` windows in epoch milliseconds, contiguous and in
//! ascending order; the first is the one being paged at `skip`. `matched` is Clari's count
//! for that slice when paging began (a drop means calls left it, so paging steps back).
//! `recent` holds the last ids listed, to drop repeats. `end` is the crawl's start: a
//! finished crawl hands it on as the checkpoint `since` the next incremental crawl starts
//! from.

use serde::{Deserialize, Serialize};

/// The cursor format version this connector writes and reads.
pub const VERSION: u32 = 1;

/// The largest position a cursor may hold (Clari's `skip` cap).
pub const MAX_SKIP: u64 = 10_000;

/// How many recently listed ids a cursor remembers for de-duplication.
pub const RECENT_IDS: usize = 250;

/// A half-open window `[from, to)` of epoch milliseconds with `from < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "(i64, i64)", into = "(i64, i64)")]
pub struct Slice {
    from: i64,
    to: i64,
}

impl Slice {
    /// `None` unless `from < to`.
    pub fn new(from: i64, to: i64) -> Option<Slice> {
        (from < to).then_some(Slice { from, to })
    }
    pub fn from(&self) -> i64 {
        self.from
    }
    pub fn to(&self) -> i64 {
        self.to
    }
    /// Width in milliseconds (at least 1).
    pub fn width(&self) -> u64 {
        // `from < to`, so the difference is positive; i128 keeps any i64 pair exact.
        u64::try_from(i128::from(self.to) - i128::from(self.from)).unwrap_or(u64::MAX)
    }

    /// Splits into up to `parts` contiguous slices of near-equal width: no gap, no overlap.
    /// A one-millisecond slice cannot be split and comes back whole.
    pub fn split(&self, parts: u64) -> Vec<Slice> {
        let width = u128::from(self.width());
        let parts = u128::from(parts.max(1)).min(width);
        let mut out = Vec::new();
        let mut from = self.from;
        for i in 1..=parts {
            // Boundaries at from + width*i/parts, exact in integers.
            let to = if i == parts {
                self.to
            } else {
                // Strictly between `from` and `to`, so it fits an i64.
                let offset = (width * i / parts) as i128;
                i64::try_from(i128::from(self.from) + offset).unwrap_or(self.to)
            };
            if let Some(s) = Slice::new(from, to) {
                out.push(s);
            }
            from = to;
        }
        out
    }
}

impl TryFrom<(i64, i64)> for Slice {
    type Error = String;
    fn try_from((from, to): (i64, i64)) -> Result<Self, Self::Error> {
        Slice::new(from, to).ok_or_else(|| format!("slice [{from}, {to}) is empty"))
    }
}

impl From<Slice> for (i64, i64) {
    fn from(s: Slice) -> Self {
        (s.from, s.to)
    }
}

/// Which listing a mid-crawl cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// By call `time`, over the history window.
    Full,
    /// By `last_modified_time`, since the last checkpoint minus the overlap.
    Incremental,
}

/// A crawl in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub mode: Mode,
    /// The crawl's start (epoch ms): the checkpoint handed on when the listing is done.
    pub end: i64,
    /// What is left to list; the first slice is being paged.
    pub slices: Vec<Slice>,
    /// Position in the first slice.
    pub skip: u64,
    /// Clari's `matched` for the first slice when paging it began.
    pub matched: Option<u64>,
    /// The last ids listed (at most [`RECENT_IDS`]), to drop repeats.
    #[serde(default)]
    pub recent: Vec<String>,
    /// The page size in use when it is below the configured one: Clari answered 502 for a
    /// larger page (its response-size cap). Grows back page by page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_limit: Option<u32>,
}

impl Listing {
    /// Remembers `id` as listed, forgetting the oldest beyond [`RECENT_IDS`].
    pub fn remember(&mut self, id: &str) {
        self.recent.push(id.to_string());
        if self.recent.len() > RECENT_IDS {
            let excess = self.recent.len() - RECENT_IDS;
            self.recent.drain(..excess);
        }
    }

    pub fn recently_listed(&self, id: &str) -> bool {
        self.recent.iter().any(|r| r == id)
    }

    /// Moves to the next slice.
    pub fn finish_slice(&mut self) {
        if !self.slices.is_empty() {
            self.slices.remove(0);
        }
        self.skip = 0;
        self.matched = None;
    }
}

/// The cursor's states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Cursor {
    /// A crawl in progress.
    Listing(Listing),
    /// A finished crawl: the next incremental crawl lists calls modified after `since`
    /// (minus the overlap).
    Checkpoint { since: i64 },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    cursor: Cursor,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let envelope = Envelope {
            v: VERSION,
            cursor: self.clone(),
        };
        // Serializing plain data into a string cannot fail; fall back to an empty object
        // (which decodes as "no cursor") rather than panic.
        serde_json::to_string(&envelope).unwrap_or_else(|_| "{}".to_string())
    }

    /// Decodes a cursor this connector wrote; the error says why it is not one.
    pub fn decode(raw: &str) -> Result<Cursor, String> {
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| format!("not JSON ({e})"))?;
        match value.get("v").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "cursor version {v}, this connector reads version {VERSION}"
                ));
            }
            None => return Err("no cursor version".into()),
        }
        let envelope: Envelope =
            serde_json::from_value(value).map_err(|e| format!("malformed cursor ({e})"))?;
        if let Cursor::Listing(l) = &envelope.cursor {
            if l.slices.windows(2).any(|w| w[0].to() != w[1].from()) {
                return Err("the cursor's slices are not contiguous".into());
            }
            if l.skip > MAX_SKIP {
                return Err(format!(
                    "the cursor's position {} is past {MAX_SKIP}",
                    l.skip
                ));
            }
        }
        Ok(envelope.cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut l = Listing {
            mode: Mode::Full,
            end: 1_000,
            slices: vec![Slice::new(0, 500).unwrap(), Slice::new(500, 1_000).unwrap()],
            skip: 25,
            matched: Some(80),
            recent: vec![],
            page_limit: None,
        };
        l.remember("a");
        let c = Cursor::Listing(l);
        let raw = c.encode();
        assert_eq!(
            raw,
            r#"{"v":1,"state":"listing","mode":"full","end":1000,"slices":[[0,500],[500,1000]],"skip":25,"matched":80,"recent":["a"]}"#
        );
        assert_eq!(Cursor::decode(&raw).unwrap(), c);
        let ck = Cursor::Checkpoint { since: 42 };
        assert_eq!(ck.encode(), r#"{"v":1,"state":"checkpoint","since":42}"#);
        assert_eq!(Cursor::decode(&ck.encode()).unwrap(), ck);
    }

    #[test]
    fn rejects_foreign_cursors() {
        for raw in [
            "",
            "garbage",
            "{}",
            r#"{"v":2,"state":"checkpoint","since":1}"#,
            r#"{"v":1,"state":"elsewhere"}"#,
            r#"{"v":1,"state":"listing","mode":"full","end":1,"slices":[[5,5]],"skip":0,"matched":null}"#,
            r#"{"v":1,"state":"listing","mode":"full","end":1,"slices":[[0,5],[6,9]],"skip":0,"matched":null}"#,
            r#"{"v":1,"state":"listing","mode":"full","end":1,"slices":[],"skip":-1,"matched":null}"#,
            r#"{"v":1,"state":"listing","mode":"full","end":1,"slices":[[0,5]],"skip":10001,"matched":null}"#,
        ] {
            assert!(Cursor::decode(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn splits_are_contiguous_and_cover() {
        for (from, to, parts) in [
            (0i64, 10i64, 3u64),
            (5, 6, 4),
            (-100, 1_000_003, 7),
            (0, 2, 9),
            (0, 1 << 40, 2),
        ] {
            let s = Slice::new(from, to).unwrap();
            let pieces = s.split(parts);
            assert!(!pieces.is_empty());
            assert_eq!(pieces[0].from(), from);
            assert_eq!(pieces[pieces.len() - 1].to(), to);
            assert!(pieces.windows(2).all(|w| w[0].to() == w[1].from()));
            assert!(pieces.len() as u64 <= parts);
        }
        assert_eq!(Slice::new(5, 6).unwrap().split(4).len(), 1);
    }

    #[test]
    fn recent_ids_are_bounded() {
        let mut l = Listing {
            mode: Mode::Incremental,
            end: 0,
            slices: vec![],
            skip: 0,
            matched: None,
            recent: vec![],
            page_limit: None,
        };
        for i in 0..(RECENT_IDS + 10) {
            l.remember(&i.to_string());
        }
        assert_eq!(l.recent.len(), RECENT_IDS);
        assert!(!l.recently_listed("0"));
        assert!(l.recently_listed(&(RECENT_IDS + 9).to_string()));
    }
}
