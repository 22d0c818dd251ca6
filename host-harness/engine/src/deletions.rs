//! Deletions on proof, after a complete full listing: an indexed item is deleted only when the
//! listing no longer has it AND the source answers `not-found` for it. A brake holds them when,
//! with the deletions of the last 24 hours, they would exceed a share of the index, until an
//! operator allows them. An empty listing deletes nothing.

use anyhow::Context;

use crate::crawler::Crawler;
use crate::report::CrawlReport;
use crate::seams::ErrorKind;
use crate::store::{Checkpoint, DocRecord};
use crate::types::Visibility;

/// How long the brake remembers deletions.
pub const DELETION_WINDOW_SECS: i64 = 86_400;

impl Crawler<'_> {
    pub(crate) fn reconcile_deletions(
        &mut self,
        datasource: &str,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        let indexed = self.store.document_count()?;
        if self.store.listed_count()? == 0 && indexed > 0 {
            tracing::warn!(
                "the full listing was empty while the index holds {indexed} documents: deleting nothing"
            );
            report.warnings.push(
                "the listing was empty while the index holds documents: no deletions were made"
                    .into(),
            );
            return self.hold(Vec::new());
        }
        let confirmed = self.confirmed_gone()?;
        let now = self.hooks.clock.now();
        let recent = self
            .store
            .meta()
            .deletions_since(now - DELETION_WINDOW_SECS);
        let share = (recent + confirmed.len() as u64) as f64 / (indexed + recent).max(1) as f64;
        if !confirmed.is_empty()
            && share > self.options.max_delete_share
            && !self.options.allow_mass_delete
        {
            tracing::warn!(
                "{} deletions ({recent} already made in the last 24 hours; {:.0}% of the index in all) exceed the brake of {:.0}% a day: held; rerun with --allow-mass-delete to apply them",
                confirmed.len(),
                share * 100.0,
                self.options.max_delete_share * 100.0
            );
            report.deletions_held = confirmed.len() as u64;
            return self.hold(confirmed.into_iter().map(|(id, _)| id).collect());
        }
        self.hold(Vec::new())?;
        for (id, record) in confirmed {
            self.sink
                .delete_document(datasource, &record.object_type, &id)
                .with_context(|| format!("deleting `{id}` from the index"))?;
            self.hooks.crash.point("document deleted");
            let mut meta = self.store.meta().clone();
            meta.record_deletions(now, 1, now - DELETION_WINDOW_SECS);
            self.commit(Checkpoint {
                deletes: vec![id],
                meta,
                ..Checkpoint::default()
            })?;
            report.deleted += 1;
        }
        Ok(())
    }

    /// Replaces the held deletions: what is held is decided anew by every complete listing.
    fn hold(&mut self, ids: Vec<String>) -> anyhow::Result<()> {
        let meta = self.store.meta().clone();
        self.commit(Checkpoint {
            held: Some(ids),
            meta,
            ..Checkpoint::default()
        })
    }

    /// The unlisted documents the source confirms are gone.
    fn confirmed_gone(&self) -> anyhow::Result<Vec<(String, DocRecord)>> {
        let mut confirmed = Vec::new();
        for (id, record) in self.store.unlisted_documents()? {
            match self.retry_call(|| self.source.fetch_item(&id, Visibility::Unknown)) {
                Err(e) if e.kind == ErrorKind::NotFound => confirmed.push((id, record)),
                Ok(_) => {
                    tracing::info!(item = %id, "not in the listing but still at the source: kept")
                }
                Err(e) => tracing::warn!(item = %id, "could not confirm deletion ({e}): kept"),
            }
        }
        Ok(confirmed)
    }
}
