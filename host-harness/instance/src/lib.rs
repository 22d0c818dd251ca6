//! A tenant's connector instance, everything the service and the command line share about one
//! tenant: its configuration (`config`, with secrets from files or the environment), its
//! component (built in, a file or an OCI pin: `builtin`, `component`, `oci`, `inspect`), the
//! setup that joins the runtime, egress, index sink and state store for it (`setup`), the
//! planner and schedule that decide its next crawl within the source's budget (`planner`,
//! `schedule`), its status (`status`), the pre-flight check (`preflight`), and the progress
//! display and crash points of a crawl (`progress`, `crash`). It depends on the host's
//! layers (runtime, egress, engine, sink, stores) and on nothing above it: the service
//! (`harness-service`), the simulations (`harness-sims`) and the `harness` binary build on it.

pub mod builtin;
pub mod component;
pub mod config;
pub mod crash;
pub mod inspect;
pub mod instance;
pub mod oci;
pub mod planner;
pub mod preflight;
pub mod progress;
pub mod schedule;
pub mod secret_source;
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

/// The probe component (a test connector driven by its settings), embedded for
/// `harness bench-instance` and the sandbox tests.
const PROBE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe_connector.wasm"));

/// The frozen probe built for contract 0.1.0 (`tests/fixtures/probe-0.1.0.wasm`), embedded
/// for `harness bench-instance`.
pub const PROBE_0_1_0_WASM: &[u8] = include_bytes!("../../../tests/fixtures/probe-0.1.0.wasm");

/// `bytes` of an embedded component, or why the build left it out.
fn embedded(name: &str, bytes: &'static [u8]) -> anyhow::Result<&'static [u8]> {
    if bytes.is_empty() {
        anyhow::bail!(
            "the {name} component was not built when the harness was compiled ({}); \
             build the guests with `harness build guest/<crate>` or fix the error and rebuild the harness",
            env!("GUEST_BUILD_ERROR")
        );
    }
    Ok(bytes)
}

/// The embedded Clari Copilot component (the default connector).
pub fn clari_copilot_wasm() -> anyhow::Result<&'static [u8]> {
    builtin::Builtin::default_connector().bytes()
}

/// The embedded probe component.
pub fn probe_wasm() -> anyhow::Result<&'static [u8]> {
    embedded("probe", PROBE_WASM)
}

/// `bytes` as a file in the temporary directory, named by its digest (written once; for tests
/// and tools that take a component path).
fn as_temp_file(stem: &str, bytes: &[u8]) -> anyhow::Result<std::path::PathBuf> {
    let digest = crate::component::digest(bytes);
    let hex = digest.trim_start_matches("sha256:");
    let dir = std::env::temp_dir().join("connector-harness-components");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let path = dir.join(format!("{stem}-{}.wasm", &hex[..16.min(hex.len())]));
    let current = std::fs::read(&path).ok();
    if current.as_deref() != Some(bytes) {
        // Written beside and renamed, so a reader never sees half a component.
        let tmp = dir.join(format!(
            ".{stem}-{}-{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// The embedded Clari Copilot component as a file (for tests and tools that take a path).
pub fn clari_copilot_component() -> anyhow::Result<std::path::PathBuf> {
    as_temp_file("clari-copilot", clari_copilot_wasm()?)
}

/// The embedded Gong component as a file (for tests and tools that take a path).
pub fn gong_component() -> anyhow::Result<std::path::PathBuf> {
    builtin::Builtin::named("gong")?.as_file()
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

/// The embedded probe component as a file (for tests and tools that take a path).
pub fn probe_component() -> anyhow::Result<std::path::PathBuf> {
    as_temp_file("probe", probe_wasm()?)
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
