//! The host's recordings (`harness crawl --record FILE`) as a transport: a connector's unit
//! tests answer from a tape recorded against the real source, with no host and no network.
//!
//! The format is the host's (JSON lines: a header `{"tape":1,"clock":<epoch seconds>}`, then
//! one exchange a line). A request is matched on upstream, method, path with query, and the
//! SHA-256 of its body; identical requests are answered in recorded order, the last answer
//! repeating once they run out, as the host's replay does.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::http::{Request, Response, Transport, method_name};

const TAPE_VERSION: u32 = 1;

#[derive(Deserialize)]
struct Header {
    tape: u32,
    clock: i64,
}

#[derive(Deserialize, Clone)]
struct Exchange {
    upstream: String,
    method: String,
    path: String,
    body_sha256: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    #[serde(default)]
    binary: bool,
}

type Key = (String, String, String, String);

/// A recording, answering requests as a [`Transport`].
pub struct Tape {
    clock_ms: i64,
    answers: RefCell<BTreeMap<Key, VecDeque<Exchange>>>,
}

impl Tape {
    /// Reads a recording file.
    pub fn load(path: &Path) -> Result<Tape, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "could not read the recording {}: {e}",
                path.display()
            ))
        })?;
        Tape::parse(&text).map_err(|e| e.context(path.display().to_string()))
    }

    /// Parses a recording's text.
    pub fn parse(text: &str) -> Result<Tape, Error> {
        let mut lines = text.lines();
        let header: Header = lines
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| Error::config("not a recording: the first line is no tape header"))?;
        if header.tape != TAPE_VERSION {
            return Err(Error::config(format!(
                "a version {} recording; this SDK reads version {TAPE_VERSION}",
                header.tape
            )));
        }
        let mut answers: BTreeMap<Key, VecDeque<Exchange>> = BTreeMap::new();
        for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let ex: Exchange = serde_json::from_str(line)
                .map_err(|e| Error::config(format!("line {} is not an exchange ({e})", n + 2)))?;
            let key = (
                ex.upstream.clone(),
                ex.method.clone(),
                ex.path.clone(),
                ex.body_sha256.clone(),
            );
            answers.entry(key).or_default().push_back(ex);
        }
        Ok(Tape {
            clock_ms: header.clock.saturating_mul(1000),
            answers: RefCell::new(answers),
        })
    }

    /// The guest clock during the recording, in epoch milliseconds: run the connector at this
    /// time, or it asks other questions than the ones recorded.
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms
    }
}

fn body_sha256(body: Option<&[u8]>) -> String {
    Sha256::digest(body.unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Transport for Tape {
    fn send(&self, request: &Request) -> Result<Response, Error> {
        let key = (
            request.upstream.clone(),
            method_name(request.method).to_string(),
            request.path_and_query(),
            body_sha256(request.body.as_deref()),
        );
        let mut answers = self.answers.borrow_mut();
        let Some(queue) = answers.get_mut(&key) else {
            return Err(Error::system(format!(
                "the recording has no answer for {} {} on `{}`; record again with this connector version and settings",
                key.1, key.2, key.0
            )));
        };
        let ex = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
        .ok_or_else(|| Error::system("an empty recording entry"))?;
        let body = if ex.binary {
            base64::engine::general_purpose::STANDARD
                .decode(&ex.body)
                .map_err(|e| Error::system(format!("the recording holds invalid base64 ({e})")))?
        } else {
            ex.body.into_bytes()
        };
        Ok(Response::from_parts(ex.status, ex.headers, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn answers_in_recorded_order_and_refuses_the_unrecorded() {
        let text = format!(
            "{{\"tape\":1,\"clock\":1700000000}}\n\
             {{\"upstream\":\"api\",\"method\":\"GET\",\"path\":\"/n?p=1\",\"body_sha256\":\"{EMPTY}\",\"status\":200,\"headers\":[],\"body\":\"one\"}}\n\
             {{\"upstream\":\"api\",\"method\":\"GET\",\"path\":\"/n?p=1\",\"body_sha256\":\"{EMPTY}\",\"status\":503,\"headers\":[[\"retry-after\",\"2\"]],\"body\":\"two\"}}\n\
             {{\"upstream\":\"api\",\"method\":\"GET\",\"path\":\"/bin\",\"body_sha256\":\"{EMPTY}\",\"status\":200,\"headers\":[],\"body\":\"/wA=\",\"binary\":true}}\n"
        );
        let tape = Tape::parse(&text).unwrap();
        assert_eq!(tape.clock_ms(), 1_700_000_000_000);
        let get = Request::get("api", "/n").query("p", 1);
        assert_eq!(tape.send(&get).unwrap().body, b"one");
        let second = tape.send(&get).unwrap();
        assert_eq!((second.status, second.retry_after_ms()), (503, Some(2000)));
        assert_eq!(
            tape.send(&get).unwrap().body,
            b"two",
            "the last answer repeats"
        );
        assert_eq!(
            tape.send(&Request::get("api", "/bin")).unwrap().body,
            [0xff, 0]
        );
        let post = Request::new(Method::Post, "api", "/n").query("p", 1);
        assert!(matches!(tape.send(&post), Err(Error::System(m)) if m.contains("POST /n?p=1")));
        assert!(Tape::parse("{\"tape\":2,\"clock\":0}").is_err());
        assert!(Tape::parse("hello").is_err());
    }
}
