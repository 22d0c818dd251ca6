//! The end-to-end tests, one module per file, in one test binary (the real components, the
//! real host and the mock servers link into each test binary, about 200 MB in a debug build; one
//! binary instead of fourteen keeps a fresh clone's build within a small disk).
//! `cargo test -p e2e-tests --test e2e NAME` runs one file's tests (`NAME::`).

mod common;
mod crawl_e2e;
mod crawl_safety;
mod gong_e2e;
mod hostile;
mod large_call;
mod listing_scale;
mod multi_instance;
mod native_parity;
mod permission_closure;
mod reconcile;
mod record_replay;
mod runtime;
mod secret_sweep;
mod self_contained;
mod source_faults;
