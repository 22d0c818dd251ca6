//! The connector platform in miniature, assembled from its layers: the wasm runtime
//! (`wasm-runtime`), the egress engine (`egress`), the crawl engine (`crawl-engine`), the
//! index sink (`index-sink`) and the state store (`state-store`). This crate holds what joins
//! them — configuration, setup, scheduling, status — and the `harness` command line with its
//! demo and benchmark.

pub mod bench;
pub mod cli;
pub mod config;
pub mod crash;
pub mod demo;
pub mod progress;
pub mod render;
pub mod schedule;
pub mod setup;
pub mod status;

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

/// The Clari Copilot component built from this checkout by `build.rs`.
pub fn clari_copilot_component() -> anyhow::Result<std::path::PathBuf> {
    let error = env!("CLARI_COPILOT_COMPONENT_ERROR");
    if !error.is_empty() {
        anyhow::bail!(
            "the Clari Copilot component was not built when the harness was compiled: {error}"
        );
    }
    let path = std::path::PathBuf::from(env!("CLARI_COPILOT_COMPONENT"));
    if !path.exists() {
        anyhow::bail!(
            "the Clari Copilot component is missing at {}; build it with \
             `cargo build --release --target wasm32-wasip2 -p clari-copilot-connector --target-dir target/guest`",
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

/// A runtime whose compiled-code cache sits next to the components built with the harness
/// (`target/guest/.../compiled-cache`), so only the first process compiles each component.
pub fn cached_runtime() -> anyhow::Result<std::sync::Arc<wasm_runtime::Runtime>> {
    let dir = std::path::Path::new(env!("CLARI_COPILOT_COMPONENT"))
        .parent()
        .map(|p| p.join("compiled-cache"));
    wasm_runtime::Runtime::with_disk_cache(dir)
}
