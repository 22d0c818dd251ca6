//! Guest text quoted in a host message (a refusal, a log line): control and bidi characters
//! escaped, so a path holding `\r\n` cannot put a forged line in the host's output, and the
//! length capped, so a guest cannot flood it. Every message of this crate that quotes a
//! guest's path, header name, upstream name or URL goes through [`quote`].
//!
//! The routine is the host's one escaping routine, [`crawl_engine::text`], shared with the
//! runtime and the crawl engine; it is re-exported here under the names egress uses.

pub use crawl_engine::text::{MAX_QUOTED_CHARS, quote, quote_at_most};
