//! Test support: a fake Clari Copilot that implements the `/calls` semantics the reference
//! describes over an in-memory set of calls (strict `Gt`/`Lt` filters on `time` and
//! `last_modified_time`, `sortTime`/`sortProcessed`, `includePrivate`, `skip` capped at
//! 10,000, `limit` 1..=100, `matched`/`hasMore`/`nextPageSkip`), plus `/call-details` and
//! `/users`, with hooks to inject failures and to change the data between requests.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use clari_copilot_connector::time;
use connector_sdk::Error;
use connector_sdk::http::{Request, Response, Transport};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct FakeCall {
    pub id: String,
    pub time_ms: i64,
    pub modified_ms: i64,
    pub status: String,
    pub private: bool,
    /// Extra fields merged into the listed object (e.g. users, or a broken `time`).
    pub extra: Value,
}

impl FakeCall {
    pub fn done(id: impl Into<String>, time_ms: i64) -> FakeCall {
        FakeCall {
            id: id.into(),
            time_ms,
            modified_ms: time_ms + 30 * 60_000,
            status: "POST_PROCESSING_DONE".into(),
            private: false,
            extra: json!({}),
        }
    }

    fn listed(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "title": format!("Call {}", self.id),
            "status": self.status,
            "type": "ZOOM",
            "time": time::format_query(self.time_ms),
            "last_modified_time": time::format_query(self.modified_ms),
            "users": [{"userId": "u1", "userEmail": "rep@acme.com", "isOrganizer": true, "personId": 0}],
            "audio_url": null,
            "video_url": null,
        });
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), self.extra.as_object()) {
            for (k, val) in extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        v
    }
}

type Fault = Box<dyn Fn(&Request) -> Option<Result<Response, Error>>>;
type Mutation = Box<dyn FnMut(usize, &mut Vec<FakeCall>)>;

/// The fake server. Not thread-safe (tests drive it from one thread).
#[derive(Default)]
pub struct FakeClari {
    pub calls: RefCell<Vec<FakeCall>>,
    pub details: RefCell<HashMap<String, Value>>,
    pub users: RefCell<Value>,
    pub requests: RefCell<Vec<Request>>,
    fault: RefCell<Option<Fault>>,
    mutation: RefCell<Option<Mutation>>,
}

pub fn json_response(status: u16, body: Value) -> Response {
    Response::of_json(status, &body)
}

fn bad_request(message: &str) -> Response {
    json_response(400, json!({ "errorMessage": message }))
}

impl FakeClari {
    pub fn with_calls(calls: Vec<FakeCall>) -> FakeClari {
        let f = FakeClari::default();
        *f.calls.borrow_mut() = calls;
        f
    }

    /// Answers `fault(request)` instead of the server when it returns `Some`.
    pub fn set_fault(&self, fault: impl Fn(&Request) -> Option<Result<Response, Error>> + 'static) {
        *self.fault.borrow_mut() = Some(Box::new(fault));
    }

    /// Runs `mutation(request_number, calls)` before answering each request.
    pub fn set_mutation(&self, mutation: impl FnMut(usize, &mut Vec<FakeCall>) + 'static) {
        *self.mutation.borrow_mut() = Some(Box::new(mutation));
    }

    pub fn calls_requests(&self) -> Vec<Request> {
        self.requests
            .borrow()
            .iter()
            .filter(|r| r.path == "/calls")
            .cloned()
            .collect()
    }

    fn list(&self, req: &Request) -> Response {
        let params = |k: &str| -> Vec<&str> {
            req.query
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let one = |k: &str| params(k).first().copied();
        let skip: u64 = match one("skip").map(str::parse) {
            None => 0,
            Some(Ok(s)) if s <= 10_000 => s,
            _ => return bad_request("skip must be an integer between 0 and 10000"),
        };
        let limit: usize = match one("limit").map(str::parse) {
            None => 25,
            Some(Ok(l)) if (1..=100).contains(&l) => l,
            _ => return bad_request("limit must be an integer between 1 and 100"),
        };
        let include_private = match one("includePrivate") {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return bad_request("includePrivate must be true or false"),
        };
        let mut bounds = HashMap::new();
        for k in [
            "filterTimeGt",
            "filterTimeLt",
            "filterModifiedGt",
            "filterModifiedLt",
        ] {
            if let Some(v) = one(k) {
                // Clari's own format only: ISO-8601 with a zone.
                match chrono::DateTime::parse_from_rfc3339(v) {
                    Ok(dt) => {
                        bounds.insert(k, dt.timestamp_millis());
                    }
                    Err(_) => return bad_request(&format!("{k} is not a valid date")),
                }
            }
        }
        let calls = self.calls.borrow();
        let mut matched: Vec<&FakeCall> = calls
            .iter()
            .filter(|c| include_private || !c.private)
            .filter(|c| bounds.get("filterTimeGt").is_none_or(|b| c.time_ms > *b))
            .filter(|c| bounds.get("filterTimeLt").is_none_or(|b| c.time_ms < *b))
            .filter(|c| {
                bounds
                    .get("filterModifiedGt")
                    .is_none_or(|b| c.modified_ms > *b)
            })
            .filter(|c| {
                bounds
                    .get("filterModifiedLt")
                    .is_none_or(|b| c.modified_ms < *b)
            })
            .collect();
        match (one("sortTime"), one("sortProcessed")) {
            (Some("asc"), _) => matched.sort_by_key(|c| c.time_ms),
            (Some("desc"), _) => matched.sort_by_key(|c| std::cmp::Reverse(c.time_ms)),
            (_, Some("asc")) => matched.sort_by_key(|c| c.modified_ms),
            (_, Some("desc")) => matched.sort_by_key(|c| std::cmp::Reverse(c.modified_ms)),
            _ => matched.sort_by_key(|c| std::cmp::Reverse(c.time_ms)),
        }
        let total = matched.len();
        let page: Vec<Value> = matched
            .iter()
            .skip(skip as usize)
            .take(limit)
            .map(|c| c.listed())
            .collect();
        let next = skip as usize + page.len();
        let pagination = if next < total {
            json!({"matched": total, "hasMore": true, "nextPageSkip": next})
        } else {
            json!({"matched": total, "hasMore": false})
        };
        json_response(200, json!({"calls": page, "pagination": pagination}))
    }
}

impl Transport for FakeClari {
    fn send(&self, req: &Request) -> Result<Response, Error> {
        let n = self.requests.borrow().len();
        self.requests.borrow_mut().push(req.clone());
        if let Some(m) = self.mutation.borrow_mut().as_mut() {
            m(n, &mut self.calls.borrow_mut());
        }
        if let Some(fault) = self.fault.borrow().as_ref()
            && let Some(answer) = fault(req)
        {
            return answer;
        }
        assert_eq!(req.upstream, "clari", "the connector names its upstream");
        Ok(match req.path.as_str() {
            "/calls" => self.list(req),
            "/call-details" => {
                let id = req
                    .query
                    .iter()
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.clone());
                match id.and_then(|id| self.details.borrow().get(&id).cloned()) {
                    Some(body) => json_response(200, body),
                    None => json_response(404, json!({"errorMessage": "call not found"})),
                }
            }
            "/users" => json_response(200, self.users.borrow().clone()),
            _ => json_response(404, json!({"errorMessage": "not found"})),
        })
    }
}

/// A deterministic pseudo-random sequence (xorshift64*), for generated corpora.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
