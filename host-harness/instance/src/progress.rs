//! Renders the engine's progress events: one rewritten line on an interactive terminal, a log
//! line per checkpoint otherwise.

use std::io::IsTerminal;

use crawl_engine::{CrawlReport, Event, Observer};

/// The command line's progress display.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress;

fn line(r: &CrawlReport) -> String {
    format!(
        "{} crawl: listed {} · fetched {} · indexed {} · unchanged {} · skipped {} · errors {}",
        r.mode,
        r.listed,
        r.fetched,
        r.indexed,
        r.unchanged,
        r.skipped_total(),
        r.failures.len()
    )
}

impl Observer for Progress {
    fn on(&self, event: Event<'_>) {
        let terminal = std::io::stderr().is_terminal();
        match event {
            Event::Checkpointed(r) if terminal => eprint!("\r\x1b[2K{}", line(r)),
            Event::Checkpointed(r) => tracing::info!(target: "crawl", "{}", line(r)),
            Event::Finished(_) if terminal => eprint!("\r\x1b[2K"),
            Event::Finished(_) => {}
        }
    }
}

/// The hooks the command line runs crawls with: the system clock, this progress display and
/// the `HARNESS_CRASH_AT` crash points.
pub fn hooks() -> crawl_engine::Hooks<'static> {
    crawl_engine::Hooks {
        clock: &crawl_engine::SystemClock,
        observer: &Progress,
        crash: &crate::crash::EnvCrash,
    }
}
