//! Glean's indexing API: the wire types (`types`) and a blocking client (`client`).

pub mod client;
pub mod search;
pub mod types;

pub use client::{GleanClient, GleanError};
pub use types::*;
