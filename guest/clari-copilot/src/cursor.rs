//! The listing cursor: an opaque string the connector owns. It is compact JSON with a
//! version field, and it carries everything a crawl needs to resume, because every export
//! call runs in a fresh instance.
//!
//! ```text
//! mid-crawl:  {"v":1,"state":"listing","mode":"full","end":<ms>,"slices":[[from,to],...],
//!              "skip":<n>,"matched":<n|null>,"recent":["id",...]}
//! finished:   {"v":1,"state":"checkpoint","since":<ms>,"pending":"id@<ms>,..."}
//! ```
//!
//! Slices are half-open `[from, to)` windows in epoch milliseconds, contiguous and in
//! ascending order; the first is the one being paged at `skip`. `matched` is Clari's count
//! for that slice when paging began (a drop means calls left it, so paging steps back).
//! `recent` holds the last ids listed, to drop repeats. `end` is the crawl's start: a
//! finished crawl hands it on as the checkpoint `since` the next incremental crawl starts
//! from. `pending` (omitted when empty) lists the calls last seen on their way to being
//! processed, with their `last_modified_time` (see [`Pending`]).

use serde::{Deserialize, Serialize};

/// The cursor format version this connector writes and reads.
pub const VERSION: u32 = 1;

/// The largest position a cursor may hold (Clari's `skip` cap).
pub const MAX_SKIP: u64 = 10_000;

/// How many recently listed ids a cursor remembers for de-duplication.
pub const RECENT_IDS: usize = 250;

/// How many calls on their way to being processed a cursor remembers (the newest).
pub const MAX_PENDING: usize = 200;

/// A call is taken as still on its way for at most this long after its status last
/// changed (a recording of up to two hours, then processing); after that it is forgotten.
pub const PENDING_HORIZON_MS: i64 = 3 * 3_600_000;

/// A call last listed on its way to being processed (recording or processing), with its
/// `last_modified_time` (epoch ms). Clari moves that time whenever the status changes, so
/// while an incremental listing does not show the call again, it is still on its way: the
/// listing re-announces it as skipped, which tells the host that the source is in motion
/// (it keeps polling at its shortest interval) without a request spent on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub modified_at: i64,
    /// Handed on by the previous checkpoint and not shown by this listing yet (written as
    /// a `~` before the id): re-announced when the listing is done.
    pub carried: bool,
}

/// Calls on their way, written in the cursor as one string `id@ms,~id@ms,...` (a list of
/// pairs cost the component kilobytes of deserialising code). An id holding `,`, `@` or `~`
/// is not tracked (Clari's ids are UUIDs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingList(pub Vec<Pending>);

impl PendingList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `id` can be written in the list.
    pub fn can_hold(id: &str) -> bool {
        !id.is_empty() && !id.contains([',', '@', '~'])
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if p.carried {
                out.push('~');
            }
            out.push_str(&p.id);
            out.push('@');
            out.push_str(&p.modified_at.to_string());
        }
        out
    }

    fn decode(raw: &str) -> Result<PendingList, String> {
        let mut out = Vec::new();
        for part in raw.split(',').filter(|p| !p.is_empty()) {
            if out.len() >= MAX_PENDING {
                return Err(format!("more than {MAX_PENDING} calls on their way"));
            }
            let (id, ms) = part
                .rsplit_once('@')
                .ok_or("a call on its way without its time")?;
            let modified_at = ms
                .parse::<i64>()
                .map_err(|_| "a call on its way with an unusable time")?;
            let (id, carried) = match id.strip_prefix('~') {
                Some(id) => (id, true),
                None => (id, false),
            };
            out.push(Pending {
                id: id.to_string(),
                modified_at,
                carried,
            });
        }
        Ok(PendingList(out))
    }
}

impl Serialize for PendingList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for PendingList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PendingList::decode(&raw).map_err(serde::de::Error::custom)
    }
}

/// Keeps the newest [`MAX_PENDING`] entries still within the horizon of `now_ms`.
pub fn trim_pending(pending: &mut Vec<Pending>, now_ms: i64) {
    pending.retain(|p| now_ms.saturating_sub(p.modified_at) <= PENDING_HORIZON_MS);
    // Entries come one at a time, so this drops one or two; no sort (it would add kilobytes
    // of code to the component).
    while pending.len() > MAX_PENDING {
        let oldest = (0..pending.len()).min_by_key(|&i| pending[i].modified_at);
        match oldest {
            Some(i) => {
                pending.swap_remove(i);
            }
            None => break,
        }
    }
}

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
    /// Calls on their way to being processed: as this listing saw them, or carried from
    /// the previous checkpoint.
    #[serde(default, skip_serializing_if = "PendingList::is_empty")]
    pub pending: PendingList,
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
    Checkpoint {
        since: i64,
        #[serde(default, skip_serializing_if = "PendingList::is_empty")]
        pending: PendingList,
    },
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
        // Read as bytes, as answers are: one `Value` parser in the component, not two (the
        // string reader's own copy cost about 10 KB).
        let value: serde_json::Value =
            serde_json::from_slice(raw.as_bytes()).map_err(|e| format!("not JSON ({e})"))?;
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
            pending: PendingList::default(),
        };
        l.remember("a");
        let c = Cursor::Listing(l);
        let raw = c.encode();
        assert_eq!(
            raw,
            r#"{"v":1,"state":"listing","mode":"full","end":1000,"slices":[[0,500],[500,1000]],"skip":25,"matched":80,"recent":["a"]}"#
        );
        assert_eq!(Cursor::decode(&raw).unwrap(), c);
        let ck = Cursor::Checkpoint {
            since: 42,
            pending: PendingList::default(),
        };
        assert_eq!(ck.encode(), r#"{"v":1,"state":"checkpoint","since":42}"#);
        assert_eq!(Cursor::decode(&ck.encode()).unwrap(), ck);
        let ck = Cursor::Checkpoint {
            since: 42,
            pending: PendingList(vec![
                Pending {
                    id: "c1".into(),
                    modified_at: 40,
                    carried: false,
                },
                Pending {
                    id: "c2".into(),
                    modified_at: -3,
                    carried: true,
                },
            ]),
        };
        assert_eq!(
            ck.encode(),
            r#"{"v":1,"state":"checkpoint","since":42,"pending":"c1@40,~c2@-3"}"#
        );
        assert_eq!(Cursor::decode(&ck.encode()).unwrap(), ck);
    }

    #[test]
    fn pending_calls_are_bounded_in_number_and_age() {
        let now = 10 * PENDING_HORIZON_MS;
        let mut p: Vec<Pending> = (0..(MAX_PENDING as i64 + 50))
            .map(|i| Pending {
                id: i.to_string(),
                modified_at: now - i * 1000,
                carried: false,
            })
            .collect();
        p.push(Pending {
            id: "old".into(),
            modified_at: now - PENDING_HORIZON_MS - 1,
            carried: true,
        });
        trim_pending(&mut p, now);
        assert_eq!(p.len(), MAX_PENDING);
        assert!(p.iter().all(|x| x.id != "old"));
        // The newest are kept.
        assert!(p.iter().any(|x| x.id == "0"));
        assert!(p.iter().all(|x| x.id != (MAX_PENDING + 49).to_string()));
        let too_many = format!(
            r#"{{"v":1,"state":"checkpoint","since":1,"pending":"{}"}}"#,
            (0..=MAX_PENDING)
                .map(|i| format!("{i}@1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(Cursor::decode(&too_many).is_err());
        for bad in ["a", "a@", "a@x", "a@1,b"] {
            let raw = format!(r#"{{"v":1,"state":"checkpoint","since":1,"pending":"{bad}"}}"#);
            assert!(Cursor::decode(&raw).is_err(), "{bad}");
        }
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
            pending: PendingList::default(),
        };
        for i in 0..(RECENT_IDS + 10) {
            l.remember(&i.to_string());
        }
        assert_eq!(l.recent.len(), RECENT_IDS);
        assert!(!l.recently_listed("0"));
        assert!(l.recently_listed(&(RECENT_IDS + 9).to_string()));
    }
}
