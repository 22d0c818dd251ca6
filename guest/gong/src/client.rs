//! The Gong HTTP calls the connector makes (`GET /v2/calls`, `POST /v2/calls/extensive`,
//! `GET /v2/calls/{id}`, `POST /v2/calls/transcript`, `GET /v2/users`), over any
//! [`Transport`]. Each returns what the answer means ([`crate::answer`]); the credentials are
//! the host's business (it adds `Authorization`), never this crate's.

use connector_sdk::Error;
use connector_sdk::http::{Request, Transport};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::answer::{self, Answer};
use crate::iso;
use crate::wire::{CallData, CallsPage, Monologue, OneCall, TranscriptPage, UsersPage};

/// The upstream name the connector declares and the host maps to Gong's base URL.
pub const UPSTREAM: &str = "gong";

/// A paged listing's answer.
#[derive(Debug)]
pub enum Paged<T> {
    Page(T),
    /// Gong's 404 "No ... found corresponding to the provided filters".
    Empty,
    /// Gong's 400 "cursor has expired".
    CursorExpired,
}

/// One `GET /v2/calls` request: `[from_ms, to_ms)` on the call's (scheduled or start) time.
#[derive(Debug, Clone, Copy)]
pub struct CallsQuery<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub workspace_id: Option<&'a str>,
    /// Gong's page cursor (query string on a GET).
    pub cursor: Option<&'a str>,
}

/// Whether `GET /v2/calls/{id}` knows a call.
#[derive(Debug, PartialEq, Eq)]
pub enum Exists {
    Yes,
    /// 404 "Call ID ... was not found", with Gong's text.
    No(String),
}

/// Gong's API for one connector call: a transport and the crawl clock (for `Retry-After`).
pub struct Client<'a> {
    transport: &'a dyn Transport,
    now_ms: i64,
}

impl<'a> Client<'a> {
    pub fn new(transport: &'a dyn Transport, now_ms: i64) -> Self {
        Client { transport, now_ms }
    }

    /// `GET /v2/calls?fromDateTime&toDateTime[&workspaceId][&cursor]`.
    pub fn list_calls(&self, q: &CallsQuery) -> Result<Paged<CallsPage>, Error> {
        let req = Request::get(UPSTREAM, "/v2/calls")
            .query("fromDateTime", iso::format_utc(q.from_ms))
            .query("toDateTime", iso::format_utc(q.to_ms))
            .query_opt("workspaceId", q.workspace_id)
            .query_opt("cursor", q.cursor);
        self.paged(&req, "GET /v2/calls")
    }

    /// `GET /v2/users[?cursor]`.
    pub fn users(&self, cursor: Option<&str>) -> Result<Paged<UsersPage>, Error> {
        let req = Request::get(UPSTREAM, "/v2/users").query_opt("cursor", cursor);
        self.paged(&req, "GET /v2/users")
    }

    /// `POST /v2/calls/extensive` for one call, with parties, CRM context (now) and the AI
    /// content blocks. `None` when Gong has no such call (an empty result).
    pub fn extensive(&self, id: &str) -> Result<Option<CallData>, Error> {
        let body = json!({
            "filter": {"callIds": [id]},
            "contentSelector": {
                "context": "Extended",
                "contextTiming": ["Now"],
                "exposedFields": {
                    "parties": true,
                    "content": {
                        "topics": true, "trackers": true, "brief": true, "outline": true,
                        "highlights": true, "callOutcome": true, "keyPoints": true
                    }
                }
            }
        });
        let req = Request::post_json(UPSTREAM, "/v2/calls/extensive", &body);
        let what = "POST /v2/calls/extensive";
        match self.send(&req, what)? {
            Answer::Body(resp) => {
                let page: crate::wire::ExtensivePage = decode(&resp.body, what)?;
                let wanted =
                    |c: &CallData| c.meta_data.as_ref().and_then(|m| m.id.as_deref()) == Some(id);
                if page.calls.is_empty() {
                    return Ok(None);
                }
                page.calls
                    .into_iter()
                    .find(wanted)
                    .map(Some)
                    .ok_or_else(|| {
                        Error::system(format!(
                            "{what}: asked for call {id}, Gong answered other calls"
                        ))
                    })
            }
            Answer::NoMatch => Ok(None),
            other => Err(answer::unexpected(other, what)),
        }
    }

    /// `GET /v2/calls/{id}`: whether Gong knows the call (the proof a deletion needs).
    pub fn call_exists(&self, id: &str) -> Result<Exists, Error> {
        let path = format!("/v2/calls/{}", connector_sdk::http::encode_component(id));
        let what = "GET /v2/calls/{id}";
        match self.send(&Request::get(UPSTREAM, &path), what)? {
            Answer::Body(resp) => {
                let one: OneCall = decode(&resp.body, what)?;
                match one.call {
                    Some(_) => Ok(Exists::Yes),
                    None => Err(Error::system(format!("{what}: the answer has no `call`"))),
                }
            }
            Answer::Missing(text) => Ok(Exists::No(text)),
            other => Err(answer::unexpected(other, what)),
        }
    }

    /// `POST /v2/calls/transcript` for one call: its monologues (none when Gong has no
    /// transcript for it).
    pub fn transcript(&self, id: &str) -> Result<Vec<Monologue>, Error> {
        let body = json!({"filter": {"callIds": [id]}});
        let req = Request::post_json(UPSTREAM, "/v2/calls/transcript", &body);
        let what = "POST /v2/calls/transcript";
        match self.send(&req, what)? {
            Answer::Body(resp) => {
                let page: TranscriptPage = decode(&resp.body, what)?;
                Ok(page
                    .call_transcripts
                    .into_iter()
                    .find(|t| t.call_id.as_deref() == Some(id))
                    .map(|t| t.transcript)
                    .unwrap_or_default())
            }
            Answer::NoMatch => Ok(Vec::new()),
            other => Err(answer::unexpected(other, what)),
        }
    }

    fn paged<T: DeserializeOwned>(&self, req: &Request, what: &str) -> Result<Paged<T>, Error> {
        match self.send(req, what)? {
            Answer::Body(resp) => Ok(Paged::Page(decode(&resp.body, what)?)),
            Answer::NoMatch => Ok(Paged::Empty),
            Answer::CursorExpired if req.query.iter().any(|(k, _)| k == "cursor") => {
                Ok(Paged::CursorExpired)
            }
            other => Err(answer::unexpected(other, what)),
        }
    }

    fn send(&self, req: &Request, what: &str) -> Result<Answer, Error> {
        let resp = self.transport.send(req)?;
        answer::read(resp, what, self.now_ms)
    }
}

/// Decodes a 2xx body; the error names the request.
fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::system(format!(
            "{what}: the answer is not the JSON expected ({e}); Gong may have changed its format"
        ))
    })
}
