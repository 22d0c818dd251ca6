//! The `harness` command line: one module per command (`cli`), over the tenant instance
//! (`tenant-instance`), the service (`harness-service`) and the simulations (`harness-sims`).
//! `main.rs` only parses and dispatches.

pub mod cli;
