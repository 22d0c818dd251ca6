//! The connector platform in miniature: a wasmtime host that loads `connector:platform`
//! components in a sandbox, polices their egress, injects credentials, runs crawls with durable
//! state and pushes the results to a Glean indexing API.

pub mod contract;
pub mod egress;
pub mod runtime;

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
