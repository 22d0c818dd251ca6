//! The crawl engine: users first, then the listing page by page; each page's ready items are
//! fetched in parallel, mapped to permissions, turned into documents and uploaded, and only
//! then is the listing cursor checkpointed. A complete full listing ends with deletions on
//! proof (absent from the listing AND `not-found` on fetch), held by a brake above a share of
//! the index.

pub mod crash;
pub mod documents;
pub mod index;
pub mod limits;
pub mod report;
pub mod retry;
pub mod state;

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;

use crate::guest_text;
use crate::runtime::types::{self, ChangeState, CrawlMode, ListingNext, Permissions, Visibility};
use crate::runtime::{CallError, ConnectorInstance, ErrorKind};
pub use index::{DirIndex, GleanIndex, Index};
pub use report::{AccessCounts, CrawlReport, Failure};
use retry::{RetryPolicy, Verdict};
use state::{CrawlOutcome, DocRecord, FullProgress, StateStore};

/// How a crawl behaves.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Parallel `fetch-item` calls.
    pub concurrency: usize,
    /// Documents per upload request (Glean allows 1000).
    pub batch_size: usize,
    /// Share of the index a crawl may delete before deletions are held.
    pub max_delete_share: f64,
    /// Lift the brake: delete even above `max_delete_share`.
    pub allow_mass_delete: bool,
    pub retry: RetryPolicy,
    /// Datasource name; default: the connector's name.
    pub datasource: Option<String>,
    /// Set to stop at the next checkpoint (graceful shutdown).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Bounds on one crawl.
    pub limits: limits::CrawlLimits,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        CrawlOptions {
            concurrency: 4,
            batch_size: 100,
            max_delete_share: 0.2,
            allow_mass_delete: false,
            retry: RetryPolicy::default(),
            datasource: None,
            stop: None,
            limits: limits::CrawlLimits::default(),
        }
    }
}

/// Glean's request size limit, with headroom for the envelope.
const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024 - 64 * 1024;

/// Runs crawls of one connector instance into one index.
pub struct Crawler<'a> {
    connector: &'a ConnectorInstance,
    index: &'a dyn Index,
    store: &'a mut StateStore,
    options: CrawlOptions,
    usage: limits::Usage,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn mode_name(mode: CrawlMode) -> &'static str {
    match mode {
        CrawlMode::Full => "full",
        CrawlMode::Incremental => "incremental",
    }
}

/// A fetched item with its permissions, or why not.
type Fetched = Result<(types::Item, Permissions), CallError>;

impl<'a> Crawler<'a> {
    pub fn new(
        connector: &'a ConnectorInstance,
        index: &'a dyn Index,
        store: &'a mut StateStore,
        options: CrawlOptions,
    ) -> Self {
        let usage = limits::Usage::new(options.limits.clone(), Instant::now());
        Crawler {
            connector,
            index,
            store,
            usage,
            options,
        }
    }

    /// Runs one crawl. An error means the crawl could not start or had to stop; the report of
    /// a crawl that stopped is still returned in `Ok` with `completed == false`.
    pub fn run(&mut self, mode: CrawlMode) -> anyhow::Result<CrawlReport> {
        let started = Instant::now();
        self.usage = limits::Usage::new(self.options.limits.clone(), started);
        let started_at = now_secs();
        let requests_before = self.connector.egress().request_count();
        let mut report = CrawlReport {
            mode: mode_name(mode).to_string(),
            ..CrawlReport::default()
        };
        let info = self
            .connector
            .describe()
            .context("the connector could not describe itself")?;
        let datasource = self
            .options
            .datasource
            .clone()
            .unwrap_or_else(|| info.name.clone());
        self.index
            .ensure_datasource(&datasource, &info)
            .context("could not register the datasource with the index")?;

        let result = self
            .index_users(&datasource, &mut report)
            .and_then(|()| self.crawl_listing(mode, &datasource, &mut report));
        if let Err(e) = &result {
            report.completed = false;
            report.stopped = Some(self.connector.egress().redactor().redact(&format!("{e:#}")));
        }
        report::progress_done();
        report.requests = self.connector.egress().request_count() - requests_before;
        report.elapsed = started.elapsed();
        if let Some(b) = self.connector.egress().budget() {
            self.store.state.budget = b.usage();
        }
        for f in &report.failures {
            self.store.state.failures.insert(
                f.id.clone(),
                state::FailureRecord {
                    kind: serde_json::to_value(f.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    message: f.message.clone(),
                    at: now_secs(),
                },
            );
        }
        let outcome = CrawlOutcome {
            mode: report.mode.clone(),
            started_at,
            finished_at: now_secs(),
            completed: report.completed,
            indexed: report.indexed,
            deleted: report.deleted,
            failed: report.failures.len() as u64,
            error: report.stopped.clone(),
        };
        match mode {
            CrawlMode::Full => self.store.state.last_full = Some(outcome),
            CrawlMode::Incremental => self.store.state.last_incremental = Some(outcome),
        }
        self.store.save()?;
        crash::point("state saved");
        // A configuration problem is the operator's to fix: surface it as an error.
        if let Err(e) = result
            && is_config_error(&e)
        {
            return Err(e);
        }
        Ok(report)
    }

    fn retry_call<T>(&self, op: impl FnMut() -> Result<T, CallError>) -> Result<T, CallError> {
        retry_call(&self.options.retry, op)
    }

    /// Streams the source's users to the index page by page: one page is held back until the
    /// next one is known, so the index learns which page is the last. Memory holds two pages.
    fn index_users(&mut self, datasource: &str, report: &mut CrawlReport) -> anyhow::Result<()> {
        let upload = self.index.begin_users(datasource)?;
        let mut cursor: Option<String> = None;
        let mut held: Option<Vec<types::User>> = None;
        let mut first = true;
        loop {
            let page = self
                .retry_call(|| self.connector.list_users(cursor.as_deref()))
                .map_err(anyhow::Error::new)
                .context("listing users")?;
            self.usage.users(page.users.len() as u64, Instant::now())?;
            let users = self.clean_users(page.users, report);
            if let Some(previous) = held.replace(users) {
                self.index
                    .index_users_page(&upload, &previous, first, false)
                    .context("uploading users to the index")?;
                first = false;
                report.users_indexed += previous.len() as u64;
            }
            match page.next_cursor {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                Some(_) => anyhow::bail!(
                    "the connector returned the same users cursor twice; its user listing would never end (a connector bug)"
                ),
                None => break,
            }
        }
        let last = held.unwrap_or_default();
        self.index
            .index_users_page(&upload, &last, first, true)
            .context("uploading users to the index")?;
        report.users_indexed += last.len() as u64;
        crash::point("users uploaded");
        Ok(())
    }

    /// Users that carry a configured secret are not uploaded (a connector that echoes a
    /// credential into a name or email).
    fn clean_users(&self, users: Vec<types::User>, report: &mut CrawlReport) -> Vec<types::User> {
        let redactor = self.connector.egress().redactor();
        users
            .into_iter()
            .filter(|u| {
                let text = format!("{}\n{}\n{}", u.id, u.email, u.name);
                if redactor.contains(text.as_bytes()) {
                    report.record_failure(
                        &guest_text::clean(&redactor.redact(&u.id), 200),
                        ErrorKind::System,
                        "this user carries a configured secret (the connector echoed a credential); it was not uploaded".into(),
                    );
                    false
                } else {
                    true
                }
            })
            .collect()
    }

    fn crawl_listing(
        &mut self,
        mode: CrawlMode,
        datasource: &str,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        let mut cursor = match mode {
            CrawlMode::Full => {
                let progress = self
                    .store
                    .state
                    .full_in_progress
                    .get_or_insert_with(|| FullProgress {
                        cursor: None,
                        listed: BTreeSet::new(),
                        started_at: now_secs(),
                    });
                progress.cursor.clone()
            }
            CrawlMode::Incremental => Some(
                self.store
                    .state
                    .incremental_cursor
                    .clone()
                    .ok_or_else(|| ConfigProblem("there is no incremental cursor yet: run a full crawl first (`harness crawl --mode full`)".into()))?,
            ),
        };
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let page = self
                .retry_call(|| self.connector.list_changes(mode, cursor.as_deref()))
                .map_err(|e| listing_error(e, report))?;
            let mut ready = Vec::new();
            let mut new_ids = 0;
            for change in &page.changes {
                if let Some(why) = invalid_id(&change.id) {
                    report.record_failure(
                        &guest_text::clean(&change.id, MAX_ID_BYTES),
                        ErrorKind::System,
                        format!("the connector listed an unusable id: {why} (a connector bug)"),
                    );
                    continue;
                }
                if !seen.insert(change.id.clone()) {
                    continue;
                }
                new_ids += 1;
                report.listed += 1;
                match &change.state {
                    ChangeState::Ready(v) => ready.push((change.id.clone(), *v)),
                    ChangeState::Skipped(reason) => {
                        let reason = guest_text::clean(reason, guest_text::MAX_REASON_BYTES);
                        *report.skipped.entry(reason).or_default() += 1
                    }
                }
            }
            self.usage.page(new_ids, Instant::now())?;
            let fetched = self.fetch_all(&ready);
            let uploaded = self.upload(datasource, fetched, report)?;
            report::progress(report);

            // Checkpoint: the index has acknowledged everything before this cursor.
            let now = now_secs();
            for (id, object_type, hash) in uploaded {
                self.store.state.failures.remove(&id);
                self.store.state.documents.insert(
                    id,
                    DocRecord {
                        object_type,
                        hash,
                        indexed_at: now,
                    },
                );
            }
            let done = match page.next {
                ListingNext::More(c) => {
                    if cursor.as_deref() == Some(c.as_str()) {
                        anyhow::bail!(
                            "the connector returned the same cursor twice; its listing would never end (a connector bug)"
                        );
                    }
                    cursor = Some(c);
                    None
                }
                ListingNext::Done(c) => Some(c),
            };
            if mode == CrawlMode::Full
                && let Some(p) = self.store.state.full_in_progress.as_mut()
            {
                p.listed.extend(page.changes.iter().map(|c| c.id.clone()));
                p.cursor = cursor.clone();
            }
            if let Some(next_incremental) = done {
                if mode == CrawlMode::Full {
                    self.reconcile_deletions(datasource, report)?;
                    self.store.state.full_in_progress = None;
                }
                self.store.state.incremental_cursor = Some(next_incremental);
                self.store.save()?;
                crash::point("state saved");
                report.completed = true;
                return Ok(());
            }
            self.store.save()?;
            crash::point("state saved");
            if self
                .options
                .stop
                .as_ref()
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
            {
                anyhow::bail!("interrupted; the next crawl resumes from this checkpoint");
            }
        }
    }

    /// Fetches items and their permissions in parallel, in listing order.
    fn fetch_all(&self, ready: &[(String, Visibility)]) -> Vec<(String, Fetched)> {
        fetch_all(self.connector, &self.options, ready)
    }
}

/// Runs a connector call, retrying transient errors by `policy`.
fn retry_call<T>(
    policy: &RetryPolicy,
    op: impl FnMut() -> Result<T, CallError>,
) -> Result<T, CallError> {
    policy.run(
        op,
        |e: &CallError| match (e, e.kind()) {
            (CallError::Deadline { .. }, _) => Verdict::RetryAtMost(1),
            (_, ErrorKind::Transient) => Verdict::Retry(e.retry_after()),
            _ => Verdict::Fatal,
        },
        std::thread::sleep,
    )
}

/// Fetches items and their permissions with `options.concurrency` workers, in listing order.
fn fetch_all(
    connector: &ConnectorInstance,
    options: &CrawlOptions,
    ready: &[(String, Visibility)],
) -> Vec<(String, Fetched)> {
    {
        let queue: Mutex<VecDeque<(usize, &(String, Visibility))>> =
            Mutex::new(ready.iter().enumerate().collect());
        let results: Mutex<Vec<(usize, String, Fetched)>> = Mutex::new(Vec::new());
        let workers = options.concurrency.clamp(1, ready.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some((i, (id, vis))) = next else { break };
                        let r = retry_call(&options.retry, || connector.fetch_item(id, *vis))
                            .and_then(|item| {
                                let perms = connector.map_permissions(&item.access)?;
                                Ok((item, perms))
                            });
                        if let Ok(mut out) = results.lock() {
                            out.push((i, id.clone(), r));
                        }
                    }
                });
            }
        });
        let mut out = results.into_inner().unwrap_or_default();
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, id, r)| (id, r)).collect()
    }
}

impl<'a> Crawler<'a> {
    /// Uploads changed documents in batches; answers the (id, object type, hash) of each
    /// acknowledged one.
    fn upload(
        &mut self,
        datasource: &str,
        fetched: Vec<(String, Fetched)>,
        report: &mut CrawlReport,
    ) -> anyhow::Result<Vec<(String, String, String)>> {
        let mut pending = Vec::new();
        for (id, result) in fetched {
            match result {
                Ok((item, perms)) => {
                    report.fetched += 1;
                    if item.id != id {
                        report.record_failure(
                            &id,
                            ErrorKind::System,
                            format!(
                                "the connector answered item `{}` for id `{id}` (a connector bug)",
                                guest_text::clean(&item.id, MAX_ID_BYTES)
                            ),
                        );
                        continue;
                    }
                    match &perms {
                        Permissions::AllUsers => report.access.public += 1,
                        Permissions::Users(u) if !u.is_empty() => report.access.restricted += 1,
                        _ => report.access.no_access += 1,
                    }
                    let doc = match documents::to_document(datasource, &item, &perms) {
                        Ok(doc) => doc,
                        Err(e) => {
                            report.record_failure(&id, ErrorKind::System, format!("{e:#}"));
                            continue;
                        }
                    };
                    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
                    self.usage.bytes(bytes.len() as u64)?;
                    if self.connector.egress().redactor().contains(&bytes) {
                        report.record_failure(
                            &id,
                            ErrorKind::System,
                            "the document carries a configured secret (the connector echoed a credential); it was not indexed".into(),
                        );
                        continue;
                    }
                    let hash = documents::content_hash(&bytes);
                    if self.store.state.documents.get(&id).map(|d| &d.hash) == Some(&hash) {
                        report.unchanged += 1;
                        self.store.state.failures.remove(&id);
                        continue;
                    }
                    pending.push((id, item.object_type.clone(), hash, doc));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    *report
                        .skipped
                        .entry("gone between listing and fetch".to_string())
                        .or_default() += 1;
                }
                Err(e) => {
                    let msg = self.connector.egress().redactor().redact(&e.to_string());
                    tracing::warn!(item = %id, "not indexed: {msg}");
                    report.record_failure(&id, e.kind(), msg);
                }
            }
        }
        let mut acked = Vec::new();
        for batch in documents::batches(pending, self.options.batch_size, MAX_BATCH_BYTES) {
            let docs: Vec<_> = batch.iter().map(|(_, _, _, d)| d.clone()).collect();
            self.index
                .index_documents(datasource, &docs)
                .with_context(|| format!("uploading {} documents to the index", docs.len()))?;
            crash::point("documents uploaded");
            report.indexed += docs.len() as u64;
            acked.extend(batch.into_iter().map(|(id, ty, hash, _)| (id, ty, hash)));
        }
        Ok(acked)
    }

    /// After a complete full listing: delete what the listing no longer has and the source
    /// confirms is gone; hold the deletions when they exceed the brake.
    fn reconcile_deletions(
        &mut self,
        datasource: &str,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        // What is held is decided anew by every complete listing: ids held before that are
        // listed again, or no longer proven gone, are not held any more.
        self.store.state.held_deletions.clear();
        let Some(progress) = self.store.state.full_in_progress.as_ref() else {
            return Ok(());
        };
        let indexed = self.store.state.documents.len();
        if progress.listed.is_empty() && indexed > 0 {
            tracing::warn!(
                "the full listing was empty while the index holds {indexed} documents: deleting nothing"
            );
            report.warnings.push(
                "the listing was empty while the index holds documents: no deletions were made"
                    .into(),
            );
            return Ok(());
        }
        let candidates: Vec<String> = self
            .store
            .state
            .documents
            .keys()
            .filter(|id| !progress.listed.contains(*id))
            .cloned()
            .collect();
        let mut confirmed = Vec::new();
        for id in candidates {
            match self.retry_call(|| self.connector.fetch_item(&id, Visibility::Unknown)) {
                Err(e) if e.kind() == ErrorKind::NotFound => confirmed.push(id),
                Ok(_) => {
                    tracing::info!(item = %id, "not in the listing but still at the source: kept")
                }
                Err(e) => tracing::warn!(item = %id, "could not confirm deletion ({e}): kept"),
            }
        }
        // The brake counts deletions over a rolling window, so several crawls cannot each
        // delete just under the share.
        let now = now_secs();
        let recent = self
            .store
            .state
            .deletions_since(now - state::DELETION_WINDOW_SECS);
        let share =
            (recent + confirmed.len() as u64) as f64 / (indexed as u64 + recent).max(1) as f64;
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
            self.store.state.held_deletions = confirmed.into_iter().collect();
            return Ok(());
        }
        for id in confirmed {
            let object_type = self
                .store
                .state
                .documents
                .get(&id)
                .map(|d| d.object_type.clone())
                .unwrap_or_default();
            self.index
                .delete_document(datasource, &object_type, &id)
                .with_context(|| format!("deleting `{id}` from the index"))?;
            crash::point("document deleted");
            self.store.state.documents.remove(&id);
            self.store.state.record_deletions(now, 1);
            report.deleted += 1;
            self.store.save()?;
            crash::point("state saved");
        }
        Ok(())
    }
}

/// Glean's limit on a document id.
const MAX_ID_BYTES: usize = 200;

/// Why a listed id cannot be used, if it cannot: empty, too long for the index, or holding
/// control characters (which could forge output wherever the id is printed).
fn invalid_id(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_ID_BYTES {
        Some("it is longer than 200 bytes")
    } else if id.chars().any(char::is_control) {
        Some("it holds control characters")
    } else {
        None
    }
}

/// A problem the operator must fix; stops the crawl and is returned as an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(pub String);

fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ConfigProblem>().is_some()
            || c.downcast_ref::<CallError>().map(|ce| ce.kind()) == Some(ErrorKind::Config)
    })
}

fn listing_error(e: CallError, report: &mut CrawlReport) -> anyhow::Error {
    *report.errors.entry(e.kind()).or_default() += 1;
    anyhow::Error::new(e).context("listing changes")
}
