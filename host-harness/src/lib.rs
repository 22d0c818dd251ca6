//! The connector platform in miniature, assembled from its layers: the wasm runtime
//! (`wasm-runtime`), the egress engine (`egress`), the crawl engine (`crawl-engine`), the
//! index sink (`index-sink`) and the state store (`state-store`). This crate holds what joins
//! them — configuration, setup, scheduling, status — and the `harness` command line with its
//! demo and benchmark.

pub mod bench;
pub mod cli;
pub mod component;
pub mod config;
pub mod console;
pub mod crash;
pub mod demo;
pub mod inspect;
pub mod oci;
pub mod planner;
pub mod progress;
pub mod render;
pub mod schedule;
pub mod serve;
pub mod setup;
pub mod status;
pub mod week;

pub use crawl_engine::text as guest_text;
pub use egress;
pub use wasm_runtime as runtime;
pub use wasm_runtime::contract;

/// The crawl engine with the harness's sink and store.
pub mod crawl {
    pub use crawl_engine::*;
    pub use index_sink::{DirIndex, GleanIndex};

    /// Durable state: the engine's types and the SQLite store.
    pub mod state {
        pub use crawl_engine::store::*;
        pub use state_store::{BudgetUsage, BudgetWriter, SqliteStore, week_start};
    }
}

/// The Clari Copilot component, embedded in the binary at build time: an installed or
/// copied `harness` needs no build tree.
const CLARI_COPILOT_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/clari_copilot_connector.wasm"));

/// The embedded Clari Copilot component (the default connector).
pub fn clari_copilot_wasm() -> anyhow::Result<&'static [u8]> {
    if CLARI_COPILOT_WASM.is_empty() {
        anyhow::bail!(
            "the Clari Copilot component was not built when the harness was compiled ({}); \
             build it with `cargo build --profile guest --target wasm32-wasip2 -p clari-copilot-connector --target-dir target/guest` and rebuild the harness",
            env!("CLARI_COPILOT_COMPONENT_ERROR")
        );
    }
    Ok(CLARI_COPILOT_WASM)
}

/// The Clari Copilot component file in this build tree (for tests; the binary embeds it).
pub fn clari_copilot_component() -> anyhow::Result<std::path::PathBuf> {
    let path = std::path::PathBuf::from(env!("CLARI_COPILOT_COMPONENT"));
    if !path.exists() {
        anyhow::bail!(
            "the Clari Copilot component is missing at {}",
            path.display()
        );
    }
    Ok(path)
}

/// A connector's description as pretty JSON (for `harness describe`).
pub fn describe_json(info: &crawl_engine::types::ConnectorInfo) -> String {
    use crawl_engine::types::PropertyKind;
    let kind = |k: PropertyKind| match k {
        PropertyKind::Text => "text",
        PropertyKind::TextList => "text-list",
        PropertyKind::Date => "date",
        PropertyKind::Integer => "integer",
        PropertyKind::User => "user",
        PropertyKind::Picklist => "picklist",
    };
    let v = serde_json::json!({
        "name": info.name,
        "displayName": info.display_name,
        "version": info.version,
        "urlPattern": info.url_pattern,
        "upstreams": info.upstreams.iter().map(|u| serde_json::json!({
            "name": u.name, "defaultBaseUrl": u.default_base_url, "authHeaders": u.auth_headers,
        })).collect::<Vec<_>>(),
        "objectTypes": info.object_types.iter().map(|o| serde_json::json!({
            "name": o.name, "displayLabel": o.display_label,
            "properties": o.properties.iter().map(|p| serde_json::json!({
                "name": p.name, "displayLabel": p.display_label, "kind": kind(p.kind), "facet": p.facet,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The probe component (a test connector driven by its settings) built by `build.rs`.
pub fn probe_component() -> anyhow::Result<std::path::PathBuf> {
    let path = std::path::PathBuf::from(env!("PROBE_COMPONENT"));
    if !path.exists() {
        anyhow::bail!(
            "the probe component is missing at {} ({})",
            path.display(),
            env!("CLARI_COPILOT_COMPONENT_ERROR")
        );
    }
    Ok(path)
}

/// Where compiled code is kept between processes: `HARNESS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/connector-harness`, else `~/.cache/connector-harness`; none when no such
/// directory can be named.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("HARNESS_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("connector-harness")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("connector-harness")))
}

/// A runtime with the compiled-code cache in [`cache_dir`], so only the first process
/// compiles each component.
pub fn cached_runtime() -> anyhow::Result<std::sync::Arc<runtime::Runtime>> {
    runtime::Runtime::with_disk_cache(cache_dir().map(|d| d.join("compiled")))
}

#[cfg(test)]
mod size_goal {
    /// The component-size goal of the benchmark suite (BENCHMARKS.md, "Component size"): the
    /// embedded Clari Copilot component, metadata included, stays within 400 KiB. Headroom
    /// is small, so a dependency or a feature that grows it fails here, not in a benchmark.
    #[test]
    fn the_clari_copilot_component_stays_within_400_kib() {
        let bytes = super::clari_copilot_wasm().expect("the component is embedded");
        assert!(
            bytes.len() <= 400 * 1024,
            "the Clari Copilot component is {} bytes, over the 400 KiB goal ({} bytes). Was \
             the build's warning about binaryen's `wasm-opt` missing? Install binaryen. \
             Otherwise see BENCHMARKS.md for what the size is made of",
            bytes.len(),
            400 * 1024
        );
    }
}
