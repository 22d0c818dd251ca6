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

use connector_sdk::http::{HostTransport, Request, Transport};
use connector_sdk::{
    AccessFacts, Change, ChangePage, ChangeState, ConnectorInfo, CrawlMode, Error, Item,
    ListingNext, ObjectType, Permissions, PropertyDefinition, PropertyKind, Upstream, UserPage,
    Visibility, settings,
};

/// Panics when the `trap_in` setting names `export`.
fn maybe_trap(export: &str) {
    if settings::get("trap_in").as_deref() == Some(export) {
        panic!("probe trap in {export}");
    }
}

struct Probe;

/// Survives between calls only if the host reuses instances.
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl connector_sdk::Connector for Probe {
    fn new() -> Result<Self, Error> {
        Ok(Probe)
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

    fn list_changes(&self, _mode: CrawlMode, _cursor: Option<String>) -> Result<ChangePage, Error> {
        maybe_trap("list-changes");
        let n: usize = settings::get("huge_output")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let changes = (0..n)
            .map(|i| Change {
                id: format!("{i:0>64}"),
                modified_at: None,
                state: ChangeState::Ready(Visibility::Public),
            })
            .collect();
        Ok(ChangePage {
            changes,
            next: ListingNext::Done("end".into()),
        })
    }

    fn fetch_item(&self, id: String, _visibility: Visibility) -> Result<Item, Error> {
        maybe_trap("fetch-item");
        Err(Error::not_found(format!("the probe has no item {id}")))
    }

    fn map_permissions(_facts: AccessFacts) -> Permissions {
        maybe_trap("map-permissions");
        Permissions::Nobody
    }

    fn list_users(&self, _cursor: Option<String>) -> Result<UserPage, Error> {
        maybe_trap("list-users");
        Ok(UserPage {
            users: Vec::new(),
            next_cursor: None,
        })
    }

    fn check(&self) -> Result<(), Error> {
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
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
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
