//! The connector's declared source limits, from its crate manifest to its component and back:
//! `[package.metadata.connector.upstreams.NAME]` in `Cargo.toml` says what the source allows
//! (`rate_per_second`, and `requests_per_day` or `requests_per_week`); `harness build` stamps
//! it into the component as a top-level custom section, `connector-manifest` (canonical JSON),
//! and the host reads it back to plan each instance's requests with the source's own limits
//! rather than with figures it would have to know about every source.
//!
//! ```toml
//! [package.metadata.connector.upstreams.gong]
//! rate_per_second = 3
//! requests_per_day = 10000
//! ```

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sections::{append_custom_section, read_leb, sections};

/// The custom section's name.
pub const SECTION: &str = "connector-manifest";
/// A manifest larger than this is refused (a few upstreams take a few hundred bytes).
const MAX_BYTES: usize = 16 * 1024;

/// How a request budget is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// UTC days.
    Day,
    /// Weeks from Sunday 00:00 UTC.
    Week,
}

/// What one upstream allows.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamLimits {
    pub rate_per_second: Option<f64>,
    /// Requests per period.
    pub budget: Option<(u64, Period)>,
}

/// Declared limits by upstream name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    pub upstreams: BTreeMap<String, UpstreamLimits>,
}

impl Manifest {
    /// The manifest in a package's `metadata.connector` (as `cargo metadata` reports it);
    /// `None` when the package declares none. Errors name the key and say what to write.
    pub fn from_package(package: &Value) -> Result<Option<Manifest>, String> {
        let Some(connector) = package.get("metadata").and_then(|m| m.get("connector")) else {
            return Ok(None);
        };
        Self::from_json(connector).map(Some).map_err(|e| {
            format!(
                "[package.metadata.connector] in {}: {e}",
                package["name"].as_str().unwrap_or("the crate")
            )
        })
    }

    /// Parses the manifest's JSON form (the same keys as in `Cargo.toml`).
    pub fn from_json(v: &Value) -> Result<Manifest, String> {
        let mut upstreams = BTreeMap::new();
        let Some(map) = v.get("upstreams").and_then(Value::as_object) else {
            return Err("needs an `upstreams.NAME` table per upstream".into());
        };
        for (name, u) in map {
            upstreams.insert(name.clone(), upstream(name, u)?);
        }
        Ok(Manifest { upstreams })
    }

    /// Canonical JSON (sorted keys).
    pub fn to_json(&self) -> Value {
        let ups: serde_json::Map<String, Value> = self
            .upstreams
            .iter()
            .map(|(name, u)| {
                let mut m = serde_json::Map::new();
                if let Some(r) = u.rate_per_second {
                    m.insert("rate_per_second".into(), json!(r));
                }
                match u.budget {
                    Some((n, Period::Day)) => drop(m.insert("requests_per_day".into(), json!(n))),
                    Some((n, Period::Week)) => drop(m.insert("requests_per_week".into(), json!(n))),
                    None => {}
                }
                (name.clone(), Value::Object(m))
            })
            .collect();
        json!({ "upstreams": ups })
    }
}

fn upstream(name: &str, u: &Value) -> Result<UpstreamLimits, String> {
    let Some(obj) = u.as_object() else {
        return Err(format!("upstreams.{name} must be a table"));
    };
    for key in obj.keys() {
        if !["rate_per_second", "requests_per_day", "requests_per_week"].contains(&key.as_str()) {
            return Err(format!(
                "upstreams.{name}.{key} is not a known limit (rate_per_second, requests_per_day, requests_per_week)"
            ));
        }
    }
    let rate = match obj.get("rate_per_second") {
        None => None,
        Some(v) => match v.as_f64() {
            Some(r) if r > 0.0 && r <= 10_000.0 => Some(r),
            _ => {
                return Err(format!(
                    "upstreams.{name}.rate_per_second must be a number above 0 and at most 10000"
                ));
            }
        },
    };
    let count =
        |key: &str| -> Result<Option<u64>, String> {
            match obj.get(key) {
                None => Ok(None),
                Some(v) => v.as_u64().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                    format!("upstreams.{name}.{key} must be a whole number above 0")
                }),
            }
        };
    let budget = match (count("requests_per_day")?, count("requests_per_week")?) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "upstreams.{name} declares both requests_per_day and requests_per_week; keep the one the source counts by"
            ));
        }
        (Some(n), None) => Some((n, Period::Day)),
        (None, Some(n)) => Some((n, Period::Week)),
        (None, None) => None,
    };
    Ok(UpstreamLimits {
        rate_per_second: rate,
        budget,
    })
}

/// `component` with `manifest` appended as a top-level custom section.
pub fn stamp(component: &[u8], manifest: &Manifest) -> Vec<u8> {
    let mut out = component.to_vec();
    append_custom_section(&mut out, SECTION, manifest.to_json().to_string().as_bytes());
    out
}

/// The manifest stamped into `component`, if any (the last one wins); an unreadable or
/// oversized one is an error, never a silent default.
pub fn read(component: &[u8]) -> Result<Option<Manifest>, String> {
    let mut found = None;
    for s in sections(component)?.into_iter().filter(|s| s.id == 0) {
        let mut at = s.payload.start;
        let n = read_leb(component, &mut at)?;
        let name_end = at
            .checked_add(n)
            .filter(|e| *e <= s.payload.end)
            .ok_or("custom section name past its end")?;
        if &component[at..name_end] != SECTION.as_bytes() {
            continue;
        }
        let payload = &component[name_end..s.payload.end];
        if payload.len() > MAX_BYTES {
            return Err(format!(
                "the component's {SECTION} section is {} bytes, over {MAX_BYTES}",
                payload.len()
            ));
        }
        let v: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("the component's {SECTION} section is not JSON: {e}"))?;
        found = Some(
            Manifest::from_json(&v)
                .map_err(|e| format!("the component's {SECTION} section: {e}"))?,
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(connector: Value) -> Value {
        json!({"name": "gong-connector", "metadata": {"connector": connector}})
    }

    #[test]
    fn a_declared_manifest_round_trips_through_the_component() {
        let m = Manifest::from_package(&package(
            json!({"upstreams": {"gong": {"rate_per_second": 3, "requests_per_day": 10000}}}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            m.upstreams["gong"],
            UpstreamLimits {
                rate_per_second: Some(3.0),
                budget: Some((10_000, Period::Day))
            }
        );
        let component = b"\0asm\x0d\0\x01\0".to_vec();
        let stamped = stamp(&component, &m);
        assert_eq!(read(&stamped).unwrap(), Some(m));
        assert_eq!(read(&component).unwrap(), None);
    }

    #[test]
    fn bad_declarations_say_what_to_write() {
        for (bad, says) in [
            (
                json!({"upstreams": {"g": {"requests_per_day": 1, "requests_per_week": 7}}}),
                "both",
            ),
            (
                json!({"upstreams": {"g": {"rate_per_second": 0}}}),
                "above 0",
            ),
            (
                json!({"upstreams": {"g": {"requests_per_hour": 5}}}),
                "not a known limit",
            ),
            (
                json!({"upstreams": {"g": {"requests_per_day": -1}}}),
                "whole number",
            ),
            (json!({"limits": {}}), "upstreams.NAME"),
        ] {
            let e = Manifest::from_package(&package(bad)).unwrap_err();
            assert!(e.contains(says) && e.contains("gong-connector"), "{e}");
        }
        assert_eq!(
            Manifest::from_package(&json!({"name": "x", "metadata": null})).unwrap(),
            None
        );
    }

    #[test]
    fn a_broken_section_is_an_error() {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        append_custom_section(&mut c, SECTION, b"{not json");
        assert!(read(&c).unwrap_err().contains("not JSON"));
    }
}
