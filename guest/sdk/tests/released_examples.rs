//! Connectors written against earlier SDK releases build and pass their own tests against this
//! one: each release's example connector is frozen under `tests/released/` and compiled here as
//! a module, its unit tests (scripted HTTP answers and a recording) run with this SDK's test kit.

#[path = "released/notes_0_2_0.rs"]
mod notes_0_2_0;
