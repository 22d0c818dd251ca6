//! `harness inspect`: what a connector artifact is, before anyone runs it — its contract
//! version and whether this host serves it, its standard metadata, what it declares (upstreams,
//! credential headers, object types), its imports and exports, size and digest.

use anyhow::Context;
use serde::Serialize;

/// Everything `inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    pub digest: String,
    pub size: usize,
    pub contract_version: String,
    pub supported: bool,
    pub supported_range: String,
    pub metadata: serde_json::Value,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// What the connector declares (`describe`), when this host can run it.
    pub describe: Option<serde_json::Value>,
    /// The source limits the connector declares (its `connector-manifest` section).
    pub limits: Option<serde_json::Value>,
}

/// The component-level imports and exports, by name (WIT interface or function names).
fn interface(bytes: &[u8]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.context("the file is not a valid WebAssembly component")? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(r) if depth == 0 => {
                for i in r {
                    let i = i?;
                    // Type imports are part of the interfaces listed; keep the interfaces.
                    if !matches!(i.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        imports.push(i.name.name.to_string());
                    }
                }
            }
            wasmparser::Payload::ComponentExportSection(r) if depth == 0 => {
                for e in r {
                    exports.push(e?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

fn metadata(bytes: &[u8]) -> serde_json::Value {
    let notes = crate::oci::annotations(bytes);
    let field = |k: &str| notes.get(&format!("org.opencontainers.image.{k}")).cloned();
    serde_json::json!({
        "name": field("title"),
        "version": field("version"),
        "description": field("description"),
        "authors": field("authors"),
        "source": field("source"),
        "homepage": field("url"),
        "revision": field("revision"),
        "licenses": field("licenses"),
    })
}

/// Inspects `bytes`; a file that is not a connector component gets a clear error.
pub fn inspect(bytes: &[u8]) -> anyhow::Result<Inspection> {
    use wasm_runtime::contract;
    let version =
        contract::read_contract_version(bytes).context("this is not a connector component")?;
    let (imports, exports) = interface(bytes)?;
    let supported = contract::is_supported(&version);
    let describe = if supported {
        let runtime = crate::cached_runtime()?;
        let compiled = runtime.load(bytes)?;
        let source = wasm_runtime::WasmSource::offline(
            compiled,
            Default::default(),
            wasm_runtime::GuestClock::System,
            "inspect",
        );
        let info = crawl_engine::Source::describe(&source)?;
        Some(serde_json::from_str(&crate::describe_json(&info))?)
    } else {
        None
    };
    Ok(Inspection {
        digest: crate::component::digest(bytes),
        size: bytes.len(),
        contract_version: version.to_string(),
        supported,
        supported_range: contract::SupportedRange.to_string(),
        metadata: metadata(bytes),
        imports,
        exports,
        describe,
        limits: component_build::manifest::read(bytes)
            .map_err(|e| anyhow::anyhow!(e))?
            .map(|m| m.to_json()["upstreams"].clone()),
    })
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.metadata;
        let s = |k: &str| m[k].as_str().unwrap_or("-").to_string();
        writeln!(f, "{} {}", s("name"), s("version"))?;
        writeln!(f, "  {}", s("description"))?;
        writeln!(f, "digest            {}", self.digest)?;
        writeln!(f, "size              {} bytes", self.size)?;
        let serves = if self.supported {
            "served by this host"
        } else {
            "NOT served by this host"
        };
        writeln!(
            f,
            "contract          {} ({serves}; this host serves {})",
            self.contract_version, self.supported_range
        )?;
        for k in ["authors", "licenses", "source", "homepage", "revision"] {
            writeln!(f, "{k:<17} {}", s(k))?;
        }
        if let Some(d) = &self.describe {
            for u in d["upstreams"].as_array().into_iter().flatten() {
                writeln!(
                    f,
                    "upstream          {} (normally {}; credential headers: {})",
                    u["name"].as_str().unwrap_or(""),
                    u["defaultBaseUrl"].as_str().unwrap_or(""),
                    u["authHeaders"].as_array().map_or(String::new(), |h| h
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                )?;
            }
            for (name, l) in self.limits.iter().flat_map(|l| l.as_object()).flatten() {
                let rate = l["rate_per_second"]
                    .as_f64()
                    .map_or("no rate".into(), |r| format!("{r} requests a second"));
                let budget = match (
                    l["requests_per_day"].as_u64(),
                    l["requests_per_week"].as_u64(),
                ) {
                    (Some(n), _) => format!("{n} a day"),
                    (_, Some(n)) => format!("{n} a week"),
                    _ => "no request budget".into(),
                };
                writeln!(f, "declared limits   {name}: {rate}, {budget}")?;
            }
            for o in d["objectTypes"].as_array().into_iter().flatten() {
                let props: Vec<String> = o["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{} ({})",
                            p["name"].as_str().unwrap_or(""),
                            p["kind"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                writeln!(
                    f,
                    "object type       {}: {}",
                    o["name"].as_str().unwrap_or(""),
                    props.join(", ")
                )?;
            }
        }
        for i in &self.imports {
            writeln!(f, "imports           {i}")?;
        }
        for e in &self.exports {
            writeln!(f, "exports           {e}")?;
        }
        Ok(())
    }
}
