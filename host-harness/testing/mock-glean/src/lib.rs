//! A mock of Glean's indexing API on loopback: bearer auth on every endpoint, 200 with an empty
//! body for writes, `application/json; charset=UTF-8` for JSON answers, validation of
//! datasources, object types and documents, and permission evaluation, with in-process
//! read-back for tests and the demo.

mod ratelimit;
mod search;
mod server;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use glean_api::{CustomDatasourceConfig, DatasourceUserDefinition, DocumentDefinition};

pub use ratelimit::RateLimits;
pub use store::{Index, Member, STALE_DELETION_GUARD};

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockGleanConfig {
    /// The bearer token every request must carry.
    pub token: String,
    /// Keep the index in this JSON file across restarts.
    pub state_file: Option<PathBuf>,
    /// Requests over this many bytes get 413.
    pub max_body_bytes: usize,
    /// Glean's rate limits (on by default).
    pub rate_limits: RateLimits,
    /// While set, document uploads (`/indexdocuments`, `/bulkindexdocuments`) are held
    /// unanswered (a Glean that stalls mid-crawl); cleared, they go on. Shared with the caller.
    pub hold_uploads: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for MockGleanConfig {
    fn default() -> Self {
        MockGleanConfig {
            token: "mock-glean-token".into(),
            state_file: None,
            max_body_bytes: 5 * 1024 * 1024,
            rate_limits: RateLimits::default(),
            hold_uploads: Arc::default(),
        }
    }
}

/// A running mock.
pub struct MockGlean {
    addr: SocketAddr,
    index: Arc<Mutex<Index>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockGlean {
    /// Binds `addr` (port 0: a free port) and serves on a background thread.
    pub fn spawn(addr: SocketAddr, config: MockGleanConfig) -> anyhow::Result<MockGlean> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let index = Arc::new(Mutex::new(Index::load(config.state_file.clone())?));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = index.clone();
        let thread = std::thread::Builder::new()
            .name("mock-glean".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let app = server::router(shared, config);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        Ok(MockGlean {
            addr,
            index,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<R>(&self, f: impl FnOnce(&Index) -> R) -> R {
        let guard = self.index.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Authorized calls to the indexing API so far, by endpoint (`adddatasource`,
    /// `bulkindexdocuments`, ...).
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.with(|i| i.calls())
    }

    /// The documents indexed in `datasource`, by id.
    pub fn documents(&self, datasource: &str) -> Vec<DocumentDefinition> {
        self.with(|i| i.documents(datasource))
    }

    pub fn users(&self, datasource: &str) -> Vec<DatasourceUserDefinition> {
        self.with(|i| i.users(datasource))
    }

    pub fn datasource(&self, name: &str) -> Option<CustomDatasourceConfig> {
        self.with(|i| i.datasource(name))
    }

    /// Whether `user_email` may see the document, by Glean's permission rules.
    pub fn check_access(
        &self,
        datasource: &str,
        object_type: &str,
        doc_id: &str,
        user_email: &str,
    ) -> bool {
        self.with(|i| i.check_access(datasource, object_type, doc_id, user_email))
    }

    /// Searches as `user_email` (the same logic as `POST /rest/api/v1/search`).
    pub fn search(
        &self,
        request: &glean_api::search::SearchRequest,
        user_email: &str,
    ) -> glean_api::search::SearchResponse {
        self.with(|i| search::search(i, request, user_email))
    }

    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MockGlean {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves until the future is dropped (for `harness mock-glean`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: MockGleanConfig,
) -> anyhow::Result<()> {
    let index = Arc::new(Mutex::new(Index::load(config.state_file.clone())?));
    axum::serve(listener, server::router(index, config)).await?;
    Ok(())
}
