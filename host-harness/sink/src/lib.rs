//! Where crawls put their results, behind the engine's [`Sink`]: [`GleanIndex`] maps neutral
//! documents to Glean's wire model ([`glean_mapping`]) and speaks Glean's indexing API with
//! retries on rate limits and server errors; [`DirIndex`] writes them as files for dry runs
//! and replays.

pub mod glean_mapping;

use anyhow::Context;
use crawl_engine::retry::{RetryPolicy, Verdict};
use crawl_engine::types;
use crawl_engine::{Document, Sink, UsersUpload};
use glean_api::{BulkIndexUsersRequest, GleanClient, GleanError};

use glean_mapping as documents;

/// A neutral document as Glean's wire document.
fn wire(datasource: &str, doc: &Document) -> anyhow::Result<glean_api::DocumentDefinition> {
    documents::to_document(datasource, &doc.item, &doc.permissions)
}

/// Whether `doc` forms a valid Glean document (both indexes accept exactly those).
fn validate(datasource: &str, doc: &Document) -> Result<(), String> {
    wire(datasource, doc)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// Glean's indexing API.
pub struct GleanIndex {
    client: GleanClient,
    retry: RetryPolicy,
    /// Glean accepts 600 documents a minute on `/indexdocuments`.
    documents_per_minute: rate_window::WindowLimiter,
    /// Waits out retries (the system clock, or a simulation's).
    sleeper: std::sync::Arc<dyn rate_window::Clock>,
}

/// Added to a rate window for network jitter between client and server clocks.
const RATE_WINDOW_MARGIN: std::time::Duration = std::time::Duration::from_millis(20);

/// Glean's documented `/indexdocuments` limit.
pub const DOCUMENTS_PER_MINUTE: u32 = 600;

impl GleanIndex {
    pub fn new(client: GleanClient, retry: RetryPolicy) -> Self {
        GleanIndex {
            client,
            retry,
            documents_per_minute: rate_window::WindowLimiter::new(
                DOCUMENTS_PER_MINUTE,
                std::time::Duration::from_secs(60) + RATE_WINDOW_MARGIN,
                std::sync::Arc::new(rate_window::SystemClock),
            ),
            sleeper: std::sync::Arc::new(rate_window::SystemClock),
        }
    }

    /// Paces uploads and waits out retries on `clock` (a simulation's) instead of the
    /// system's.
    pub fn on_clock(mut self, clock: std::sync::Arc<dyn rate_window::Clock>) -> Self {
        self.documents_per_minute = rate_window::WindowLimiter::new(
            DOCUMENTS_PER_MINUTE,
            std::time::Duration::from_secs(60) + RATE_WINDOW_MARGIN,
            clock.clone(),
        );
        self.sleeper = clock;
        self
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
            |d| self.sleeper.sleep(d),
        )
    }
}

/// Users per bulk page.
const USERS_PER_PAGE: usize = 1000;

impl Sink for GleanIndex {
    fn ensure_datasource(
        &self,
        datasource: &str,
        info: &types::ConnectorInfo,
    ) -> anyhow::Result<()> {
        let config = documents::datasource_config(datasource, info)?;
        self.call(|| self.client.add_datasource(&config))
            .context("adddatasource")
    }

    fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload> {
        Ok(UsersUpload {
            datasource: datasource.to_string(),
            upload_id: format!(
                "{datasource}-users-{}",
                chrono::Utc::now().timestamp_millis()
            ),
        })
    }

    fn index_users_page(
        &self,
        upload: &UsersUpload,
        users: &[types::User],
        first: bool,
        last: bool,
    ) -> anyhow::Result<()> {
        let users: Vec<_> = users.iter().map(documents::to_user).collect();
        // Glean takes at most USERS_PER_PAGE users a request: split a large page.
        let chunks: Vec<&[glean_api::DatasourceUserDefinition]> = if users.is_empty() {
            vec![&[]]
        } else {
            users.chunks(USERS_PER_PAGE).collect()
        };
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let is_first = first && i == 0;
            let req = BulkIndexUsersRequest {
                upload_id: upload.upload_id.clone(),
                is_first_page: Some(is_first),
                is_last_page: Some(last && i + 1 == n),
                force_restart_upload: if is_first { Some(true) } else { None },
                datasource: upload.datasource.clone(),
                users: chunk.to_vec(),
                disable_stale_data_deletion_check: None,
            };
            self.call(|| self.client.bulk_index_users(&req))
                .context("bulkindexusers")?;
        }
        Ok(())
    }

    fn validate(&self, datasource: &str, doc: &Document) -> Result<(), String> {
        validate(datasource, doc)
    }

    fn index_documents(&self, datasource: &str, docs: &[Document]) -> anyhow::Result<()> {
        let docs = docs
            .iter()
            .map(|d| wire(datasource, d))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // Stay under Glean's documents-per-minute limit instead of learning it from 429s.
        let n = u32::try_from(docs.len()).unwrap_or(u32::MAX);
        // Waits are bounded by a minute: the window is one minute long.
        let _ = self
            .documents_per_minute
            .acquire_many(n, std::time::Duration::from_secs(3600));
        self.call(|| self.client.index_documents(datasource, &docs))
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
        // Ids are source ids; keep file names safe whatever they contain, and distinct: every
        // byte but ASCII letters, digits and `-` becomes `_XX` (so `a.b` and `a_b` differ).
        let mut safe = String::with_capacity(id.len());
        for b in id.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' {
                safe.push(b as char);
            } else {
                safe.push_str(&format!("_{b:02x}"));
            }
        }
        self.dir.join("documents").join(format!("{safe}.json"))
    }

    fn write(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
    }
}

impl Sink for DirIndex {
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

    fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload> {
        Ok(UsersUpload {
            datasource: datasource.to_string(),
            upload_id: "users".into(),
        })
    }

    /// Streams the users into `users.json` (an array), replacing it when the last page is in.
    fn index_users_page(
        &self,
        _upload: &UsersUpload,
        users: &[types::User],
        first: bool,
        last: bool,
    ) -> anyhow::Result<()> {
        use std::io::Write;
        let partial = self.dir.join("users.json.partial");
        // A comma goes before every user but the upload's first ("[" alone is one byte).
        let mut need_comma = !first && std::fs::metadata(&partial).map_or(0, |m| m.len()) > 1;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(!first)
            .write(true)
            .truncate(first)
            .open(&partial)
            .with_context(|| format!("could not write {}", partial.display()))?;
        let mut text = String::new();
        if first {
            text.push('[');
        }
        for u in users {
            if need_comma {
                text.push(',');
            }
            need_comma = true;
            text.push_str("\n  ");
            text.push_str(&serde_json::to_string(&documents::to_user(u))?);
        }
        if last {
            text.push_str("\n]\n");
        }
        file.write_all(text.as_bytes())?;
        drop(file);
        if last {
            std::fs::rename(&partial, self.dir.join("users.json"))?;
        }
        Ok(())
    }

    fn validate(&self, datasource: &str, doc: &Document) -> Result<(), String> {
        validate(datasource, doc)
    }

    fn index_documents(&self, datasource: &str, docs: &[Document]) -> anyhow::Result<()> {
        for d in docs {
            let d = wire(datasource, d)?;
            let id =
                d.id.as_deref()
                    .ok_or_else(|| anyhow::anyhow!("a document without an id"))?;
            Self::write(&self.doc_path(id), &d)?;
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
