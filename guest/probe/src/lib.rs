//! A probe connector for the host's sandbox tests. `check` does what the `action` setting says
//! and reports the outcome as its error message (or `Ok` on success):
//!
//! - `request`: GET `path` on `upstream`, optionally setting header `header_name: header_value`;
//!   `Ok` on 2xx, otherwise an error naming the status or the host's refusal.
//! - `loop`: spins forever (the host's deadline must stop it).
//! - `alloc`: allocates without bound (the host's memory limit must stop it).
//! - `panic`: panics with a recognizable message.
//! - `ambient`: tries the environment, the filesystem and the clock, reporting what it saw.
//! - `count`: increments a global counter and reports it (1 in a fresh instance).
//! - `random`: reports a value derived from the guest's randomness.
//!
//! `describe` declares one upstream, `target`, with credential header `X-Api-Key`.
//!
//! With the setting `trap_in` naming an export (`describe`, `list-changes`, `fetch-item`,
//! `map-permissions`, `list-users`), that export panics; `huge_output` makes `list-changes`
//! answer a page of that many changes with long ids (an oversized output).
//!
//! `map-permissions` grants all users for public facts, the listed members for restricted facts
//! with a non-empty member list, and nobody otherwise.
//!
//! The setting `hostile` makes the crawl exports misbehave as an attacker would. Unless a mode
//! says otherwise, `list-changes` answers one page of `huge_output` (default 1) public changes and
//! `Done("end")`, `fetch-item` answers not-found and `list-users` answers no users and no cursor.
//! Cursors are page numbers: no cursor is page 0, and a page answers page + 1 as its next cursor.
//! A "valid item" has object type `probe`, title `Probe item {id}`, url
//! `https://probe.example/{id}`, a short text body, the text property `kind` = `probe` and
//! public access facts without members. An unknown `hostile` value, or a number setting that does
//! not parse, is a `config` error.
//!
//! - `users-flood`: `list-users` answers `page_size` (default 1000) users `u{page}-{i}` with email
//!   `u{page}-{i}@flood.example` and a name padded to 100 bytes, and always `Some(page + 1)`.
//! - `empty-pages`: `list-changes` answers no changes and `More(page + 1)`, forever.
//! - `same-ids`: `list-changes` answers the public ids `same-0`..`same-4` and `More(page + 1)`,
//!   forever.
//! - `many-items`: `list-changes` answers `page_size` (default 100) public ids `item-{page}-{i}`
//!   and `More(page + 1)`, forever; `fetch-item` answers a valid item for any id.
//! - `big-items`: as `many-items`, but each item's body is `item_bytes` (default 1_000_000) bytes.
//! - `echo-secret`: `list-changes` answers the public id `echo-1` and `Done("end")`; `fetch-item`
//!   GETs `path` (default `/echo`) on `upstream` (default `target`) and, whatever the status, puts
//!   the response's headers (`name: value` lines) and body into the item's body, title and `kind`.
//! - `log-flood`: `list-changes`, `fetch-item` and `list-users` first log `log_lines` (default
//!   100_000) info lines of `log_bytes` (default 1000) bytes each; then `list-changes` answers the
//!   public id `log-1` and `Done("end")`, `fetch-item` a valid item, `list-users` no users.
//! - `big-error`: `list-changes` fails with a `system` error of `error_bytes` (default
//!   100_000_000) bytes of `x`.
//! - `forge`: tries to forge host output with newlines, carriage returns and ANSI escapes:
//!   `list-changes` logs a forged line and answers one public id and one skipped change carrying
//!   them, and `Done("end")`; `fetch-item` logs a forged line and fails with a forged `system`
//!   error.
//! - `slow-fetch`: `list-changes` answers the public ids `slow-0`..`slow-2` and `Done("end")`;
//!   `fetch-item` spins forever.
//! - `bad-id`: `list-changes` answers the public id `asked-1` and `Done("end")`; `fetch-item`
//!   answers a valid item whose id is `other-1`, whatever id was asked.

use connector_sdk::http::{HostTransport, Request, Transport};
use connector_sdk::{
    AccessFacts, Change, ChangePage, ChangeState, ConnectorInfo, CrawlMode, Ctx, Error, Item,
    ListingNext, ObjectType, Permissions, Property, PropertyDefinition, PropertyKind,
    PropertyValue, Upstream, User, UserPage, Visibility, log, settings,
};

/// Panics when the `trap_in` setting names `export`.
fn maybe_trap(export: &str) {
    if settings::get("trap_in").as_deref() == Some(export) {
        panic!("probe trap in {export}");
    }
}

/// How the probe misbehaves in the crawl exports (the `hostile` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    UsersFlood,
    EmptyPages,
    SameIds,
    ManyItems,
    BigItems,
    EchoSecret,
    LogFlood,
    BigError,
    Forge,
    SlowFetch,
    BadId,
}

impl Hostile {
    fn parse(raw: &str) -> Result<Option<Self>, Error> {
        Ok(Some(match raw.trim() {
            "" => return Ok(None),
            "users-flood" => Hostile::UsersFlood,
            "empty-pages" => Hostile::EmptyPages,
            "same-ids" => Hostile::SameIds,
            "many-items" => Hostile::ManyItems,
            "big-items" => Hostile::BigItems,
            "echo-secret" => Hostile::EchoSecret,
            "log-flood" => Hostile::LogFlood,
            "big-error" => Hostile::BigError,
            "forge" => Hostile::Forge,
            "slow-fetch" => Hostile::SlowFetch,
            "bad-id" => Hostile::BadId,
            other => {
                return Err(Error::config(format!(
                    "unknown probe hostile mode `{other}`"
                )));
            }
        }))
    }
}

/// A ready id forged to look like host output in a terminal or a line-based log.
const FORGED_ID: &str = "forge-1\ncrawl completed: 999 indexed\r\x1b[2J";
/// A skip reason forged the same way.
const FORGED_REASON: &str = "still processing\ncrawl completed: 0 failed\n\x1b[31m";
/// An error message and log line forged the same way.
const FORGED_MESSAGE: &str = "probe failure\ncrawl completed: 999 indexed, 0 failed, 0 skipped\r\x1b[2K\x1b[32mcrawl OK\x1b[0m\n\x1b[1A";

struct Probe {
    hostile: Option<Hostile>,
}

/// Survives between calls only if the host reuses instances.
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The page number a cursor carries: 0 without one.
fn page_of(cursor: Option<&str>) -> Result<u64, Error> {
    match cursor {
        None => Ok(0),
        Some(c) => c.trim().parse().map_err(|_| {
            Error::system(format!(
                "the probe's cursor `{c}` is not a page number; start a full crawl"
            ))
        }),
    }
}

/// The cursor of the page after `page`.
fn next_cursor(page: u64) -> String {
    page.saturating_add(1).to_string()
}

/// A numeric setting, or `default` when unset.
fn number(key: &str, default: usize) -> Result<usize, Error> {
    settings::get_or(key, default, "a whole number")
}

fn ready(id: impl Into<String>) -> Change {
    Change {
        id: id.into(),
        modified_at: None,
        state: ChangeState::Ready(Visibility::Public),
        fingerprint: None,
    }
}

fn done(changes: Vec<Change>) -> ChangePage {
    ChangePage {
        changes,
        next: ListingNext::Done("end".into()),
    }
}

/// A valid public item with `body`.
fn item(id: &str, body: String) -> Item {
    Item {
        id: id.to_string(),
        object_type: "probe".into(),
        title: format!("Probe item {id}"),
        url: format!("https://probe.example/{id}"),
        body,
        summary: None,
        author: None,
        created_at: None,
        updated_at: None,
        container: None,
        tags: Vec::new(),
        properties: vec![Property {
            name: "kind".into(),
            value: PropertyValue::Text("probe".into()),
        }],
        access: AccessFacts {
            visibility: Visibility::Public,
            members: None,
        },
    }
}

fn small_item(id: &str) -> Item {
    item(id, format!("The probe's item {id}."))
}

/// Text of exactly `n` bytes (ASCII).
fn text_of_len(n: usize) -> String {
    const WORDS: &[u8] = b"probe body text ";
    let bytes: Vec<u8> = WORDS.iter().copied().cycle().take(n).collect();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes `log_lines` info lines of `log_bytes` bytes each.
fn flood_log() -> Result<(), Error> {
    let lines = number("log_lines", 100_000)?;
    let bytes = number("log_bytes", 1000)?;
    let mut line = String::with_capacity(bytes.max(32));
    for n in 0..lines {
        line.clear();
        line.push_str(&format!("probe log flood line {n} "));
        line.truncate(bytes);
        while line.len() < bytes {
            line.push('x');
        }
        log::info(&line);
    }
    Ok(())
}

/// Spins until the host stops the call.
fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// GETs `path` on the upstream and answers its headers and body as one text.
fn echo_upstream() -> Result<String, Error> {
    let upstream = settings::get("upstream").unwrap_or_else(|| "target".into());
    let path = settings::get("path").unwrap_or_else(|| "/echo".into());
    let mut req = Request::get(&upstream, &path);
    req.path = path;
    let resp = HostTransport.send(&req)?;
    let mut out = String::new();
    for (name, value) in &resp.headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&resp.body));
    Ok(out)
}

impl connector_sdk::Connector for Probe {
    fn new(_ctx: &Ctx) -> Result<Self, Error> {
        let hostile = match settings::get("hostile") {
            Some(raw) => Hostile::parse(&raw)?,
            None => None,
        };
        Ok(Probe { hostile })
    }

    fn describe() -> ConnectorInfo {
        maybe_trap("describe");
        ConnectorInfo {
            name: "probe".into(),
            display_name: "Probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            url_pattern: "https://probe\\.example/.*".into(),
            upstreams: vec![Upstream {
                name: "target".into(),
                default_base_url: "http://127.0.0.1:9".into(),
                auth_headers: vec!["X-Api-Key".into()],
            }],
            object_types: vec![ObjectType {
                name: "probe".into(),
                display_label: "Probe".into(),
                properties: vec![PropertyDefinition {
                    name: "kind".into(),
                    display_label: "Kind".into(),
                    kind: PropertyKind::Text,
                    facet: false,
                }],
            }],
        }
    }

    fn list_changes(
        &self,
        _ctx: &Ctx,
        _mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        maybe_trap("list-changes");
        match self.hostile {
            Some(Hostile::EmptyPages) => {
                let page = page_of(cursor)?;
                return Ok(ChangePage {
                    changes: Vec::new(),
                    next: ListingNext::More(next_cursor(page)),
                });
            }
            Some(Hostile::SameIds) => {
                let page = page_of(cursor)?;
                return Ok(ChangePage {
                    changes: (0..5).map(|i| ready(format!("same-{i}"))).collect(),
                    next: ListingNext::More(next_cursor(page)),
                });
            }
            Some(Hostile::ManyItems | Hostile::BigItems) => {
                let page = page_of(cursor)?;
                let size = number("page_size", 100)?;
                return Ok(ChangePage {
                    changes: (0..size)
                        .map(|i| ready(format!("item-{page}-{i}")))
                        .collect(),
                    next: ListingNext::More(next_cursor(page)),
                });
            }
            Some(Hostile::EchoSecret) => return Ok(done(vec![ready("echo-1")])),
            Some(Hostile::LogFlood) => {
                flood_log()?;
                return Ok(done(vec![ready("log-1")]));
            }
            Some(Hostile::BigError) => {
                let n = number("error_bytes", 100_000_000)?;
                // Exactly `n` bytes, allocated once.
                let message = String::from_utf8(vec![b'x'; n]).unwrap_or_default();
                return Err(Error::system(message));
            }
            Some(Hostile::Forge) => {
                log::info(FORGED_MESSAGE);
                return Ok(done(vec![
                    ready(FORGED_ID),
                    Change {
                        id: "forge-2".into(),
                        modified_at: None,
                        state: ChangeState::Skipped(FORGED_REASON.into()),
                        fingerprint: None,
                    },
                ]));
            }
            Some(Hostile::SlowFetch) => {
                return Ok(done((0..3).map(|i| ready(format!("slow-{i}"))).collect()));
            }
            Some(Hostile::BadId) => return Ok(done(vec![ready("asked-1")])),
            Some(Hostile::UsersFlood) | None => {}
        }
        let n: usize = settings::get("huge_output")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let changes = (0..n)
            .map(|i| Change {
                id: format!("{i:0>64}"),
                modified_at: None,
                state: ChangeState::Ready(Visibility::Public),
                fingerprint: None,
            })
            .collect();
        Ok(ChangePage {
            changes,
            next: ListingNext::Done("end".into()),
        })
    }

    fn fetch_item(&self, _ctx: &Ctx, id: &str, _visibility: Visibility) -> Result<Item, Error> {
        maybe_trap("fetch-item");
        match self.hostile {
            Some(Hostile::ManyItems) => Ok(small_item(&id)),
            Some(Hostile::BigItems) => {
                let n = number("item_bytes", 1_000_000)?;
                Ok(item(&id, text_of_len(n)))
            }
            Some(Hostile::EchoSecret) => {
                let echoed = echo_upstream()?;
                let mut it = item(&id, echoed.clone());
                it.title = echoed.clone();
                it.properties = vec![Property {
                    name: "kind".into(),
                    value: PropertyValue::Text(echoed),
                }];
                Ok(it)
            }
            Some(Hostile::LogFlood) => {
                flood_log()?;
                Ok(small_item(&id))
            }
            Some(Hostile::Forge) => {
                log::info(FORGED_MESSAGE);
                Err(Error::system(FORGED_MESSAGE))
            }
            Some(Hostile::SlowFetch) => spin(),
            Some(Hostile::BadId) => Ok(small_item("other-1")),
            Some(
                Hostile::UsersFlood | Hostile::EmptyPages | Hostile::SameIds | Hostile::BigError,
            )
            | None => Err(Error::not_found(format!("the probe has no item {id}"))),
        }
    }

    fn map_permissions(facts: &AccessFacts) -> Permissions {
        maybe_trap("map-permissions");
        match (facts.visibility, &facts.members) {
            (Visibility::Public, _) => Permissions::AllUsers,
            (Visibility::Restricted, Some(members)) if !members.is_empty() => {
                Permissions::Users(members.clone())
            }
            _ => Permissions::Nobody,
        }
    }

    fn list_users(&self, _ctx: &Ctx, cursor: Option<&str>) -> Result<UserPage, Error> {
        maybe_trap("list-users");
        match self.hostile {
            Some(Hostile::UsersFlood) => {
                let page = page_of(cursor)?;
                let size = number("page_size", 1000)?;
                let users = (0..size)
                    .map(|i| {
                        let mut name = format!("Flood User {page}-{i} ");
                        while name.len() < 100 {
                            name.push('x');
                        }
                        User {
                            id: format!("u{page}-{i}"),
                            email: format!("u{page}-{i}@flood.example"),
                            name,
                            active: true,
                        }
                    })
                    .collect();
                return Ok(UserPage {
                    users,
                    next_cursor: Some(next_cursor(page)),
                });
            }
            Some(Hostile::LogFlood) => flood_log()?,
            _ => {}
        }
        Ok(UserPage {
            users: Vec::new(),
            next_cursor: None,
        })
    }

    fn check(&self, _ctx: &Ctx) -> Result<(), Error> {
        let action = settings::get("action").unwrap_or_default();
        match action.as_str() {
            "request" => {
                let upstream = settings::get("upstream").unwrap_or_else(|| "target".into());
                let path = settings::get("path").unwrap_or_else(|| "/".into());
                let mut req = Request::get(&upstream, &path);
                if let (Some(n), Some(v)) =
                    (settings::get("header_name"), settings::get("header_value"))
                {
                    req = req.header(&n, &v);
                }
                // Send the raw path, not re-encoded: the probe tests the host's path checks.
                req.path = path;
                let resp = HostTransport.send(&req)?;
                let body = String::from_utf8_lossy(&resp.body).to_string();
                if (200..300).contains(&resp.status) {
                    Ok(())
                } else {
                    Err(Error::system(format!("status {}: {body}", resp.status)))
                }
            }
            "loop" => spin(),
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("probe panic: deliberately"),
            "ambient" => {
                let env = std::env::vars().count();
                let file = std::fs::read("/etc/passwd").is_ok();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Err(Error::system(format!("env={env} file={file} now={now}")))
            }
            "random" => {
                use std::hash::BuildHasher;
                let n = std::collections::hash_map::RandomState::new().hash_one(42u64);
                Err(Error::system(format!("random={n}")))
            }
            "count" => {
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                Err(Error::system(format!("count={n}")))
            }
            other => Err(Error::config(format!("unknown probe action `{other}`"))),
        }
    }
}

connector_sdk::register_connector!(Probe);
