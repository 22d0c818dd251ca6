//! The host's integration tests, one module per file, in one test binary: each test binary
//! links the whole host (wasmtime, the mocks, PostgreSQL's client), about 100 to 200 MB in a
//! debug build, so twenty binaries filled a CI machine's disk and spent minutes linking.
//! `cargo test -p host-harness --test integration NAME` runs one file's tests (`NAME::`).

mod artifact;
mod build_command;
mod canary;
mod check;
mod cluster;
mod console;
mod contract_versions;
mod crash;
mod db_cost;
mod deploy_manifests;
mod exit_codes;
mod forged_lines;
mod glean_outage;
mod guarantees;
mod kill_budget;
mod mock_commands;
mod new_connector;
mod oci_operators;
mod one_instance;
mod one_writer;
mod rate_as_counted;
mod relocatable;
mod secret_files;
mod serve;
mod week;
mod writing_a_connector;

/// Helpers shared by several files.
mod support {
    pub mod registry;

    /// Held while a test builds a scaffolded connector into the checkout's shared
    /// `target/scaffold`: the tests scaffold crates of the same name (`notes`, `canarynotes`)
    /// from different directories, and two builds at once replace each other's artifact.
    pub static SCAFFOLD_BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Takes [`SCAFFOLD_BUILD`] (a test that panicked while holding it leaves it usable).
    pub fn scaffold_build() -> std::sync::MutexGuard<'static, ()> {
        SCAFFOLD_BUILD.lock().unwrap_or_else(|e| e.into_inner())
    }
}
