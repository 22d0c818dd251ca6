//! Where crawls put their results: the [`Index`] trait, and [`GleanIndex`], which speaks Glean's
//! indexing API with retries on rate limits and server errors.

use anyhow::Context;
use glean_api::{BulkIndexUsersRequest, DocumentDefinition, GleanClient, GleanError};

use super::documents;
use super::retry::{RetryPolicy, Verdict};
use crate::runtime::types;

/// An index a crawl writes to.
pub trait Index: Sync {
    /// Registers (or updates) the datasource for `info`.
    fn ensure_datasource(
        &self,
        datasource: &str,
        info: &types::ConnectorInfo,
    ) -> anyhow::Result<()>;
    /// Replaces the datasource's users.
    fn index_users(&self, datasource: &str, users: &[types::User]) -> anyhow::Result<()>;
    /// Adds or replaces documents.
    fn index_documents(&self, datasource: &str, docs: &[DocumentDefinition]) -> anyhow::Result<()>;
    /// Deletes one document (succeeds when absent).
    fn delete_document(&self, datasource: &str, object_type: &str, id: &str) -> anyhow::Result<()>;
}

/// Glean's indexing API.
pub struct GleanIndex {
    client: GleanClient,
    retry: RetryPolicy,
    /// Glean accepts 600 documents a minute on `/indexdocuments`.
    documents_per_minute: crate::egress::TokenBucket,
}

/// Glean's documented `/indexdocuments` limit.
pub const DOCUMENTS_PER_MINUTE: u32 = 600;

impl GleanIndex {
    pub fn new(client: GleanClient, retry: RetryPolicy) -> Self {
        GleanIndex {
            client,
            retry,
            documents_per_minute: crate::egress::TokenBucket::new(
                f64::from(DOCUMENTS_PER_MINUTE) / 60.0,
                DOCUMENTS_PER_MINUTE,
            ),
        }
    }

    fn call<T>(&self, op: impl FnMut() -> Result<T, GleanError>) -> Result<T, GleanError> {
        self.retry.run(
            op,
            |e: &GleanError| {
                if e.is_transient() {
                    Verdict::Retry(e.retry_after())
                } else {
                    Verdict::Fatal
                }
            },
            std::thread::sleep,
        )
    }
}

/// Users per bulk page.
const USERS_PER_PAGE: usize = 1000;

impl Index for GleanIndex {
    fn ensure_datasource(
        &self,
        datasource: &str,
        info: &types::ConnectorInfo,
    ) -> anyhow::Result<()> {
        let config = documents::datasource_config(datasource, info)?;
        self.call(|| self.client.add_datasource(&config))
            .context("adddatasource")
    }

    fn index_users(&self, datasource: &str, users: &[types::User]) -> anyhow::Result<()> {
        let users: Vec<_> = users.iter().map(documents::to_user).collect();
        let upload_id = format!(
            "{datasource}-users-{}",
            chrono::Utc::now().timestamp_millis()
        );
        let pages: Vec<&[glean_api::DatasourceUserDefinition]> = if users.is_empty() {
            vec![&[]]
        } else {
            users.chunks(USERS_PER_PAGE).collect()
        };
        let last = pages.len() - 1;
        for (i, page) in pages.into_iter().enumerate() {
            let req = BulkIndexUsersRequest {
                upload_id: upload_id.clone(),
                is_first_page: Some(i == 0),
                is_last_page: Some(i == last),
                force_restart_upload: if i == 0 { Some(true) } else { None },
                datasource: datasource.to_string(),
                users: page.to_vec(),
                disable_stale_data_deletion_check: None,
            };
            self.call(|| self.client.bulk_index_users(&req))
                .context("bulkindexusers")?;
        }
        Ok(())
    }

    fn index_documents(&self, datasource: &str, docs: &[DocumentDefinition]) -> anyhow::Result<()> {
        // Stay under Glean's documents-per-minute limit instead of learning it from 429s.
        self.documents_per_minute.acquire_many(docs.len() as u32);
        self.call(|| self.client.index_documents(datasource, docs))
            .context("indexdocuments")
    }

    fn delete_document(&self, datasource: &str, object_type: &str, id: &str) -> anyhow::Result<()> {
        self.call(|| self.client.delete_document(datasource, object_type, id))
            .context("deletedocument")
    }
}

/// An index in a directory: one JSON file per document, plus the datasource and its users.
/// For dry runs and replays: its files are byte-identical for identical crawls.
pub struct DirIndex {
    dir: std::path::PathBuf,
}

impl DirIndex {
    pub fn create(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("documents"))
            .with_context(|| format!("could not create {}", dir.display()))?;
        Ok(DirIndex {
            dir: dir.to_path_buf(),
        })
    }

    fn doc_path(&self, id: &str) -> std::path::PathBuf {
        // Ids are source ids; keep file names safe whatever they contain.
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join("documents").join(format!("{safe}.json"))
    }

    fn write(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
    }
}

impl Index for DirIndex {
    fn ensure_datasource(
        &self,
        datasource: &str,
        info: &types::ConnectorInfo,
    ) -> anyhow::Result<()> {
        Self::write(
            &self.dir.join("datasource.json"),
            &documents::datasource_config(datasource, info)?,
        )
    }

    fn index_users(&self, _datasource: &str, users: &[types::User]) -> anyhow::Result<()> {
        let users: Vec<_> = users.iter().map(documents::to_user).collect();
        Self::write(&self.dir.join("users.json"), &users)
    }

    fn index_documents(
        &self,
        _datasource: &str,
        docs: &[DocumentDefinition],
    ) -> anyhow::Result<()> {
        for d in docs {
            let id =
                d.id.as_deref()
                    .ok_or_else(|| anyhow::anyhow!("a document without an id"))?;
            Self::write(&self.doc_path(id), d)?;
        }
        Ok(())
    }

    fn delete_document(
        &self,
        _datasource: &str,
        _object_type: &str,
        id: &str,
    ) -> anyhow::Result<()> {
        match std::fs::remove_file(self.doc_path(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
