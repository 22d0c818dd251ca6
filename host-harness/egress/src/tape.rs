//! Record and replay of a connector's HTTP traffic at the host import. A recording holds what
//! the guest asked for and what came back, never a credential (credentials are added after the
//! guest's request is recorded, and credential headers are stripped from answers). A replay
//! answers from the recording with no network at all, so a crawl can be rerun, byte for byte,
//! without an account.
//!
//! The file is JSON lines: a header `{"tape":1,"clock":<epoch seconds>}`, then one exchange a
//! line. Replay matches on method, upstream, path and a hash of the body; repeated identical
//! requests are answered in recorded order (the last answer repeats once they run out).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EgressError, InboundResponse, OutboundRequest};

const TAPE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    tape: u32,
    /// The guest clock during the recording: a replay must use it for identical requests.
    clock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Exchange {
    upstream: String,
    method: String,
    path: String,
    body_sha256: String,
    status: u16,
    headers: Vec<(String, String)>,
    /// The response body as UTF-8 text, or base64 when `binary`.
    body: String,
    #[serde(default)]
    binary: bool,
}

fn key(req: &OutboundRequest) -> (String, String, String, String) {
    (
        req.upstream.clone(),
        req.method.as_str().to_string(),
        req.path_and_query.clone(),
        body_hash(req.body.as_deref()),
    )
}

fn body_hash(body: Option<&[u8]>) -> String {
    Sha256::digest(body.unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes exchanges as they happen.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Recorder {
    /// Starts a recording at `path` (replacing it) for a guest whose clock reads `clock`.
    pub fn create(path: &Path, clock: i64) -> anyhow::Result<Self> {
        let mut file = std::fs::File::create(path)
            .with_context(|| format!("could not create the recording {}", path.display()))?;
        writeln!(
            file,
            "{}",
            serde_json::to_string(&Header {
                tape: TAPE_VERSION,
                clock
            })?
        )?;
        Ok(Recorder {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one exchange. Errors are logged, not raised: a recording never breaks a crawl.
    pub fn record(&self, req: &OutboundRequest, resp: &InboundResponse) {
        let (upstream, method, path, body_sha256) = key(req);
        let (body, binary) = match std::str::from_utf8(&resp.body) {
            Ok(s) => (s.to_string(), false),
            Err(_) => (base64_encode(&resp.body), true),
        };
        let line = Exchange {
            upstream,
            method,
            path,
            body_sha256,
            status: resp.status,
            headers: resp.headers.clone(),
            body,
            binary,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        if let Ok(mut f) = self.file.lock()
            && let Err(e) = writeln!(f, "{text}")
        {
            tracing::warn!(
                "could not append to the recording {}: {e}",
                self.path.display()
            );
        }
    }
}

/// Answers requests from a recording.
#[derive(Debug)]
pub struct Player {
    clock: i64,
    answers: Mutex<BTreeMap<(String, String, String, String), VecDeque<Exchange>>>,
}

impl Player {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("could not open the recording {}", path.display()))?;
        let mut lines = BufReader::new(file).lines();
        let header: Header = serde_json::from_str(
            &lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("{} is empty", path.display()))??,
        )
        .with_context(|| format!("{} is not a recording", path.display()))?;
        if header.tape != TAPE_VERSION {
            anyhow::bail!(
                "{} is a version {} recording; this harness reads version {TAPE_VERSION}",
                path.display(),
                header.tape
            );
        }
        let mut answers: BTreeMap<_, VecDeque<Exchange>> = BTreeMap::new();
        for (n, line) in lines.enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let ex: Exchange = serde_json::from_str(&line)
                .with_context(|| format!("{} line {} is not an exchange", path.display(), n + 2))?;
            answers
                .entry((
                    ex.upstream.clone(),
                    ex.method.clone(),
                    ex.path.clone(),
                    ex.body_sha256.clone(),
                ))
                .or_default()
                .push_back(ex);
        }
        Ok(Player {
            clock: header.clock,
            answers: Mutex::new(answers),
        })
    }

    /// The guest clock the recording was made with.
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// The upstreams the recording holds answers for, sorted and without repeats.
    pub fn upstreams(&self) -> Vec<String> {
        let answers = match self.answers.lock() {
            Ok(a) => a,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut names: Vec<String> = answers.keys().map(|k| k.0.clone()).collect();
        names.dedup();
        names
    }

    pub fn answer(&self, req: &OutboundRequest) -> Result<InboundResponse, EgressError> {
        let k = key(req);
        let mut answers = self
            .answers
            .lock()
            .map_err(|_| EgressError::Transport("the recording is unavailable".into()))?;
        let queue = answers.get_mut(&k).ok_or_else(|| {
            // The path and the upstream name are the guest's: quoted, escaped and bounded.
            EgressError::Transport(format!(
                "the recording has no answer for {} {} on `{}`; record again with this connector version and settings",
                k.1,
                crate::quote::quote(&k.2),
                crate::quote::quote(&k.0)
            ))
        })?;
        let ex = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
        .ok_or_else(|| EgressError::Transport("empty recording entry".into()))?;
        let body = if ex.binary {
            base64_decode(&ex.body).map_err(EgressError::Transport)?
        } else {
            ex.body.into_bytes()
        };
        Ok(InboundResponse {
            status: ex.status,
            headers: ex.headers,
            body,
        })
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("the recording holds invalid base64 ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;

    fn req(path: &str) -> OutboundRequest {
        OutboundRequest {
            upstream: "clari".into(),
            method: Method::Get,
            path_and_query: path.into(),
            headers: vec![],
            body: None,
        }
    }

    #[test]
    fn base64_round_trips() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            &[0xff, 0x00, 0x80, 0x7f],
        ] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
    }

    #[test]
    fn records_and_replays_in_order() {
        let path = std::env::temp_dir().join(format!("tape-{}.jsonl", std::process::id()));
        let rec = Recorder::create(&path, 1_700_000_000).unwrap();
        let answer = |status, body: &[u8]| InboundResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        };
        rec.record(&req("/calls?skip=0"), &answer(429, b"{}"));
        rec.record(&req("/calls?skip=0"), &answer(200, b"{\"calls\":[]}"));
        rec.record(&req("/bin"), &answer(200, &[0xff, 0xfe]));
        drop(rec);
        let player = Player::open(&path).unwrap();
        assert_eq!(player.clock(), 1_700_000_000);
        assert_eq!(player.answer(&req("/calls?skip=0")).unwrap().status, 429);
        assert_eq!(player.answer(&req("/calls?skip=0")).unwrap().status, 200);
        assert_eq!(player.answer(&req("/calls?skip=0")).unwrap().status, 200);
        assert_eq!(player.answer(&req("/bin")).unwrap().body, vec![0xff, 0xfe]);
        assert!(player.answer(&req("/other")).is_err());
        // A miss quotes the guest's path escaped and bounded: no forged line, no flood.
        let hostile = format!("/x\r\nERROR forged{}", "a".repeat(10_000));
        let Err(EgressError::Transport(miss)) = player.answer(&req(&hostile)) else {
            panic!("a miss is an error");
        };
        assert!(!miss.contains('\n') && !miss.contains('\r'), "{miss}");
        assert!(miss.len() < 600, "{} bytes", miss.len());
        std::fs::remove_file(&path).ok();
    }
}
