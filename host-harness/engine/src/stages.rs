//! The typed stages an item goes through — [`Listed`] → [`Fetched`] → [`Mapped`] →
//! [`Acknowledged`] — and the work between them that needs no state: parallel fetching with
//! retries, id checks, hashing and batching.

use std::collections::VecDeque;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::retry::{RetryPolicy, Verdict};
use crate::seams::{Clock, Document, ErrorKind, Source, SourceError};
use crate::store::DocRecord;
use crate::text::MAX_ID_BYTES;
use crate::types::Visibility;

/// An eligible id from a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub visibility: Visibility,
    pub fingerprint: Option<String>,
    /// Why this crawl fetches it, in words (kept with the document: the console shows it).
    pub because: String,
}

/// An item fetched with its permissions mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub doc: Document,
    pub fingerprint: Option<String>,
    pub because: String,
}

/// A document checked, hashed and due for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub id: String,
    pub hash: String,
    /// Serialized size, for batching.
    pub size: usize,
    pub doc: Document,
    pub fingerprint: Option<String>,
    pub because: String,
}

/// A document the index acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    pub id: String,
    pub record: DocRecord,
}

impl Acknowledged {
    pub fn new(m: Mapped, at: i64) -> Self {
        Acknowledged {
            id: m.id,
            record: DocRecord {
                object_type: m.doc.item.object_type,
                hash: m.hash,
                indexed_at: at,
                fingerprint: m.fingerprint,
                fetched_because: Some(m.because),
            },
        }
    }
}

/// A request's size limit (Glean: 5 MiB), with headroom for the envelope.
pub const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024 - 64 * 1024;

/// Why a listed id cannot be used, if it cannot: empty, too long for the index, or holding
/// control characters (which could forge output wherever the id is printed).
pub fn invalid_id(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_ID_BYTES {
        Some("it is longer than 200 bytes")
    } else if id.chars().any(char::is_control) {
        Some("it holds control characters")
    } else {
        None
    }
}

/// FNV-1a (64 bits) of `text`: a hash that stays the same across Rust releases and runs, for
/// spreading ids or names over buckets.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether `id` is in this full crawl's share of the deep refresh: every item once in
/// `every` full crawls, whatever its fingerprint says.
pub fn deep_refresh_due(id: &str, full_crawls: u64, every: u64) -> bool {
    let h = stable_hash(id);
    let every = every.max(1);
    h % every == full_crawls % every
}

/// SHA-256 of a document as serialized: equal hashes mean nothing to upload.
pub fn content_hash(doc_json: &[u8]) -> String {
    Sha256::digest(doc_json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits documents into batches of at most `max_docs` and about [`MAX_BATCH_BYTES`].
pub fn batches(items: Vec<Mapped>, max_docs: usize) -> Vec<Vec<Mapped>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for m in items {
        if !current.is_empty()
            && (current.len() >= max_docs.max(1) || bytes + m.size > MAX_BATCH_BYTES)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += m.size;
        current.push(m);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Runs a source call, retrying transient errors by `policy`; a guest fault (a call past its
/// deadline) gets one more try only.
pub fn retry_call<T>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    op: impl FnMut() -> Result<T, SourceError>,
) -> Result<T, SourceError> {
    policy.run(
        op,
        |e: &SourceError| match e.kind {
            _ if e.guest_fault => Verdict::RetryAtMost(1),
            ErrorKind::Transient => Verdict::Retry(e.retry_after),
            _ => Verdict::Fatal,
        },
        |d| clock.sleep(d),
    )
}

/// Stage 2: fetches items and maps their permissions with `concurrency` workers; answers in
/// listing order.
pub fn fetch_all(
    source: &dyn Source,
    retry: &RetryPolicy,
    clock: &dyn Clock,
    concurrency: usize,
    listed: &[Listed],
) -> Vec<(String, Result<Fetched, SourceError>)> {
    let queue: Mutex<VecDeque<(usize, &Listed)>> = Mutex::new(listed.iter().enumerate().collect());
    let results: Mutex<Vec<(usize, String, Result<Fetched, SourceError>)>> = Mutex::new(Vec::new());
    let workers = concurrency.clamp(1, listed.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, l)) = next else { break };
                    let r = retry_call(retry, clock, || source.fetch_document(&l.id, l.visibility))
                        .map(|doc| Fetched {
                            doc,
                            fingerprint: l.fingerprint.clone(),
                            because: l.because.clone(),
                        });
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, l.id.clone(), r));
                }
            });
        }
    });
    let mut out = results.into_inner().unwrap_or_else(|e| e.into_inner());
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, id, r)| (id, r)).collect()
}
