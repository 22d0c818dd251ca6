//! One crawl, start to end: register the datasource, stream users, then the listing page by
//! page. Each page goes through typed stages — listed → fetched → mapped → acknowledged →
//! checkpointed — and a checkpoint is committed only after the index acknowledged everything
//! before it. A complete full listing ends with deletions on proof ([`crate::deletions`]).

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Context;

use crate::limits::{CrawlLimits, LimitReached, Usage};
use crate::report::{CrawlReport, Ending};
use crate::retry::RetryPolicy;
use crate::seams::{
    Clock, CrashHook, ErrorKind, Event, NoCrash, Observer, Silent, Sink, Source, SourceError,
    SystemClock,
};
use crate::stages::{self, Acknowledged, Listed};
use crate::store::{Checkpoint, CrawlOutcome, FailureRecord, FullPosition, StateStore};
use crate::text;
use crate::types::{ChangeState, CrawlMode, ListingNext, User};

/// How a crawl behaves.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Parallel `fetch-item` calls.
    pub concurrency: usize,
    /// Documents per upload request.
    pub batch_size: usize,
    /// Share of the index that may be deleted in a rolling day before deletions are held.
    pub max_delete_share: f64,
    /// Lift the brake: delete even above `max_delete_share`.
    pub allow_mass_delete: bool,
    pub retry: RetryPolicy,
    /// Datasource name; default: the connector's name.
    pub datasource: Option<String>,
    /// Set to stop at the next checkpoint (graceful shutdown).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Bounds on one crawl.
    pub limits: CrawlLimits,
    /// Items whose listing fingerprint is unchanged are not fetched, except a rolling share:
    /// each is re-fetched at least once every this many full crawls (for what a listing
    /// cannot show). 1 fetches everything every time.
    pub deep_refresh_every: u64,
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
            limits: CrawlLimits::default(),
            deep_refresh_every: 14,
        }
    }
}

/// The engine's injected collaborators besides source, sink and store.
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    pub clock: &'a dyn Clock,
    pub observer: &'a dyn Observer,
    pub crash: &'a dyn CrashHook,
}

impl Default for Hooks<'_> {
    fn default() -> Self {
        Hooks {
            clock: &SystemClock,
            observer: &Silent,
            crash: &NoCrash,
        }
    }
}

/// A problem the operator must fix; stops the crawl and is returned as an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(pub String);

/// Runs crawls of one source into one sink.
pub struct Crawler<'a> {
    pub(crate) source: &'a dyn Source,
    pub(crate) sink: &'a dyn Sink,
    pub(crate) store: &'a mut dyn StateStore,
    pub(crate) options: CrawlOptions,
    pub(crate) hooks: Hooks<'a>,
    pub(crate) usage: Usage,
    /// Records of unchanged documents whose fingerprint moved, for the next checkpoint.
    refreshed: Vec<(String, crate::store::DocRecord)>,
    /// The users this crawl listed (their emails): what documents may name.
    principals: Option<HashSet<String>>,
    /// The identities were uploaded this crawl (they changed).
    users_changed: bool,
}

impl<'a> Crawler<'a> {
    pub fn new(
        source: &'a dyn Source,
        sink: &'a dyn Sink,
        store: &'a mut dyn StateStore,
        options: CrawlOptions,
    ) -> Self {
        let usage = Usage::new(options.limits.clone(), Instant::now());
        Crawler {
            source,
            sink,
            store,
            options,
            hooks: Hooks::default(),
            usage,
            refreshed: Vec::new(),
            principals: None,
            users_changed: false,
        }
    }

    pub fn with_hooks(mut self, hooks: Hooks<'a>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Runs one crawl. An error means the crawl could not start, or stopped for a reason the
    /// operator must fix; a crawl that stopped otherwise is returned in `Ok` with
    /// `completed == false` and the reason in `stopped`.
    pub fn run(&mut self, mode: CrawlMode) -> anyhow::Result<CrawlReport> {
        let started = self.hooks.clock.instant();
        self.usage = Usage::new(self.options.limits.clone(), started);
        let started_at = self.hooks.clock.now();
        let requests_before = self.source.requests_sent();
        let mut report = CrawlReport {
            mode: mode.name().to_string(),
            ..CrawlReport::default()
        };
        let info = self
            .source
            .describe()
            .context("the connector could not describe itself")?;
        let datasource = self
            .options
            .datasource
            .clone()
            .unwrap_or_else(|| info.name.clone());
        self.register_datasource(mode, &datasource, &info)?;

        // The users are listed first when a full crawl runs, when the last listing is an hour
        // old or when items wait for a user; otherwise only once the listing finds something
        // to fetch (an unchanged poll asks the source nothing for them).
        let eager = mode == CrawlMode::Full || self.users_due() || self.items_waiting()?;
        let result = if eager {
            self.ensure_users(&datasource, &mut report)
        } else {
            Ok(())
        }
        .and_then(|()| self.crawl_listing(mode, &datasource, &mut report));
        if let Err(e) = &result {
            report.completed = false;
            report.stopped = Some(self.source.redact(&format!("{e:#}")));
            report.ending = Some(if e.chain().any(|c| c.is::<LimitReached>()) {
                Ending::Limit
            } else if self.stopping() {
                Ending::Interrupted
            } else {
                Ending::Failed
            });
        }
        report.requests = self.source.requests_sent() - requests_before;
        report.elapsed = self
            .hooks
            .clock
            .instant()
            .saturating_duration_since(started);
        self.finish(mode, started_at, &report)?;
        self.hooks.observer.on(Event::Finished(&report));
        // A configuration problem is the operator's to fix: surface it as an error.
        if let Err(e) = result
            && is_config_error(&e)
        {
            return Err(e);
        }
        Ok(report)
    }

    /// The last checkpoint of a crawl: its failures and its outcome.
    fn finish(
        &mut self,
        mode: CrawlMode,
        started_at: i64,
        report: &CrawlReport,
    ) -> anyhow::Result<()> {
        let now = self.hooks.clock.now();
        let mut meta = self.store.meta().clone();
        let outcome = CrawlOutcome {
            mode: report.mode.clone(),
            started_at,
            finished_at: now,
            completed: report.completed,
            indexed: report.indexed,
            deleted: report.deleted,
            failed: report.failures.len() as u64,
            error: report.stopped.clone(),
            requests: report.requests,
        };
        // The source is in motion when something changed, or when an incremental listing
        // shows calls not ready yet (still processing: they will finish soon).
        let processing = mode == CrawlMode::Incremental && !report.skipped.is_empty();
        if report.indexed + report.deleted > 0 || processing {
            meta.last_change_at = Some(now);
        }
        match mode {
            CrawlMode::Full => meta.last_full = Some(outcome),
            CrawlMode::Incremental => meta.last_incremental = Some(outcome),
        }
        let failures = report
            .failures
            .iter()
            .map(|f| {
                (
                    f.id.clone(),
                    FailureRecord {
                        kind: f.kind.name().to_string(),
                        message: f.message.clone(),
                        at: now,
                    },
                )
            })
            .collect();
        self.commit(Checkpoint {
            failures,
            meta,
            ..Checkpoint::default()
        })
    }

    pub(crate) fn commit(&mut self, checkpoint: Checkpoint) -> anyhow::Result<()> {
        self.store.commit(checkpoint)?;
        self.hooks.crash.point("state saved");
        Ok(())
    }

    pub(crate) fn retry_call<T>(
        &self,
        op: impl FnMut() -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        stages::retry_call(&self.options.retry, self.hooks.clock, op)
    }

    /// Lists the users and brings the index's identity store up to date, once a crawl, and
    /// releases held items if the users changed.
    fn ensure_users(&mut self, datasource: &str, report: &mut CrawlReport) -> anyhow::Result<()> {
        if self.principals.is_some() {
            return Ok(());
        }
        self.index_users(datasource, report)?;
        if self.users_changed {
            self.release_held(datasource, report)?;
        }
        Ok(())
    }

    /// Whether the users were last listed [`USERS_REFRESH_SECS`] ago or more (or never).
    fn users_due(&self) -> bool {
        let now = self.hooks.clock.now();
        self.store
            .meta()
            .users_listed_at
            .is_none_or(|at| now.saturating_sub(at) >= USERS_REFRESH_SECS)
    }

    /// Whether items wait in the failures (a held item waits for its user to be listed).
    fn items_waiting(&self) -> anyhow::Result<bool> {
        Ok(self.store.failures(0)?.0 > 0)
    }

    /// Registers the datasource with the index on every full crawl and whenever its
    /// configuration changed; an unchanged incremental crawl sends the index nothing for it.
    fn register_datasource(
        &mut self,
        mode: CrawlMode,
        datasource: &str,
        info: &crate::types::ConnectorInfo,
    ) -> anyhow::Result<()> {
        let hash = datasource_hash(datasource, info);
        let known = self.store.meta().datasource_hash.as_deref() == Some(hash.as_str());
        if mode == CrawlMode::Incremental && known {
            return Ok(());
        }
        self.sink
            .ensure_datasource(datasource, info)
            .context("could not register the datasource with the index")?;
        if !known {
            let mut meta = self.store.meta().clone();
            meta.datasource_hash = Some(hash);
            self.commit(Checkpoint {
                meta,
                ..Checkpoint::default()
            })?;
        }
        Ok(())
    }

    /// Streams the source's users to the index page by page: one page is held back until the
    /// next one is known, so the index learns which page is the last. Memory holds two pages.
    fn index_users(&mut self, datasource: &str, report: &mut CrawlReport) -> anyhow::Result<()> {
        let users = self.list_all_users(report)?;
        self.principals = Some(crate::closure::principals(&users));
        // The identity store is replaced only when the set changed since the last upload that
        // the index acknowledged: an unchanged crawl sends Glean nothing for it.
        let hash = users_hash(datasource, &users);
        if self.store.meta().users_hash.as_deref() == Some(hash.as_str()) {
            report.users_unchanged = true;
            let mut meta = self.store.meta().clone();
            meta.users_listed_at = Some(self.hooks.clock.now());
            return self.commit(Checkpoint {
                meta,
                ..Checkpoint::default()
            });
        }
        let upload = self.sink.begin_users(datasource)?;
        let chunks: Vec<&[User]> = if users.is_empty() {
            vec![&[]]
        } else {
            users.chunks(USERS_PER_UPLOAD).collect()
        };
        let count = chunks.len();
        for (n, chunk) in chunks.into_iter().enumerate() {
            self.sink
                .index_users_page(&upload, chunk, n == 0, n + 1 == count)
                .context("uploading users to the index")?;
            report.users_indexed += chunk.len() as u64;
        }
        self.hooks.crash.point("users uploaded");
        self.users_changed = true;
        let mut meta = self.store.meta().clone();
        meta.users_hash = Some(hash);
        meta.users_listed_at = Some(self.hooks.clock.now());
        self.commit(Checkpoint {
            meta,
            ..Checkpoint::default()
        })?;
        Ok(())
    }

    /// Every user the connector lists (bounded by `[crawl.limits] max_users`).
    fn list_all_users(&mut self, report: &mut CrawlReport) -> anyhow::Result<Vec<User>> {
        let mut cursor: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let page = self
                .retry_call(|| self.source.list_users(cursor.as_deref()))
                .map_err(anyhow::Error::new)
                .context("listing users")?;
            self.usage
                .users(page.users.len() as u64, self.hooks.clock.instant())?;
            all.extend(self.clean_users(page.users, report));
            match page.next_cursor {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                Some(_) => anyhow::bail!(
                    "the connector returned the same users cursor twice; its user listing would never end (a connector bug)"
                ),
                None => return Ok(all),
            }
        }
    }

    /// Users that carry a configured secret are not uploaded (a connector that echoes a
    /// credential into a name or email).
    fn clean_users(&self, users: Vec<User>, report: &mut CrawlReport) -> Vec<User> {
        users
            .into_iter()
            .filter(|u| {
                let text = format!("{}\n{}\n{}", u.id, u.email, u.name);
                if self.source.carries_secret(text.as_bytes()) {
                    report.record_failure(
                        &text::clean(&self.source.redact(&u.id), text::MAX_ID_BYTES),
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

    /// Where the listing starts: a full crawl resumes an unfinished one; an incremental crawl
    /// needs the cursor of a completed listing.
    fn start_cursor(&mut self, mode: CrawlMode) -> anyhow::Result<Option<String>> {
        match mode {
            CrawlMode::Full => {
                if let Some(p) = &self.store.meta().full_in_progress {
                    return Ok(p.cursor.clone());
                }
                let mut meta = self.store.meta().clone();
                meta.full_in_progress = Some(FullPosition {
                    cursor: None,
                    started_at: self.hooks.clock.now(),
                });
                self.commit(Checkpoint {
                    reset_listed: true,
                    meta,
                    ..Checkpoint::default()
                })?;
                Ok(None)
            }
            CrawlMode::Incremental => Ok(Some(
                self.store.meta().incremental_cursor.clone().ok_or_else(|| {
                    ConfigProblem(
                        "there is no incremental cursor yet: run a full crawl first (`harness crawl --mode full`)".into(),
                    )
                })?,
            )),
        }
    }

    fn crawl_listing(
        &mut self,
        mode: CrawlMode,
        datasource: &str,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        let mut cursor = self.start_cursor(mode)?;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let page = self
                .retry_call(|| self.source.list_changes(mode, cursor.as_deref()))
                .map_err(|e| {
                    *report.errors.entry(e.kind).or_default() += 1;
                    anyhow::Error::new(e).context("listing changes")
                })?;
            let listed = self.take_listed(mode, &page.changes, &mut seen, report)?;
            if !listed.is_empty() {
                // Items to fetch: their permissions are checked against the users.
                self.ensure_users(datasource, report)?;
            }
            let page_ids: Vec<String> = page.changes.iter().map(|c| c.id.clone()).collect();
            let acknowledged = self.process_page(datasource, listed, report)?;
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
            // A page that a stop cut short (its requests refused, its items failed for that
            // reason) is not recorded: the next crawl does it again from the last checkpoint.
            if self.stopping() {
                anyhow::bail!("interrupted; the next crawl resumes from the last checkpoint");
            }
            self.checkpoint_page(mode, acknowledged, page_ids, &cursor, report)?;
            if let Some(next_incremental) = done {
                if mode == CrawlMode::Full {
                    self.reconcile_deletions(datasource, report)?;
                }
                let mut meta = self.store.meta().clone();
                meta.full_in_progress = None;
                meta.incremental_cursor = Some(next_incremental);
                if mode == CrawlMode::Full {
                    meta.full_crawls += 1;
                }
                self.commit(Checkpoint {
                    reset_listed: mode == CrawlMode::Full,
                    meta,
                    ..Checkpoint::default()
                })?;
                report.completed = true;
                return Ok(());
            }
            if self.stopping() {
                anyhow::bail!("interrupted; the next crawl resumes from this checkpoint");
            }
        }
    }

    /// Whether the crawl was asked to stop (graceful shutdown).
    fn stopping(&self) -> bool {
        self.options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Stage 1, listed: the page's new, usable ids; skipped ones are counted.
    fn take_listed(
        &mut self,
        mode: CrawlMode,
        changes: &[crate::types::Change],
        seen: &mut HashSet<String>,
        report: &mut CrawlReport,
    ) -> anyhow::Result<Vec<Listed>> {
        let mut listed = Vec::new();
        let mut new_ids = 0;
        for change in changes {
            if let Some(why) = stages::invalid_id(&change.id) {
                report.record_failure(
                    &text::clean(&change.id, text::MAX_ID_BYTES),
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
                ChangeState::Ready(v) => match self.fetch_reason(change, mode)? {
                    None => {
                        report.unchanged += 1;
                        report.not_fetched += 1;
                        report.recovered.push(change.id.clone());
                    }
                    Some(because) => listed.push(Listed {
                        id: change.id.clone(),
                        visibility: *v,
                        fingerprint: change.fingerprint.clone(),
                        because,
                    }),
                },
                ChangeState::Skipped(reason) => {
                    let reason = text::clean(reason, text::MAX_REASON_BYTES);
                    *report.skipped.entry(reason).or_default() += 1
                }
            }
        }
        self.usage.page(new_ids, self.hooks.clock.instant())?;
        Ok(listed)
    }

    /// Why `change` is fetched, in words; `None` when the listing shows it unchanged since it
    /// was indexed and it is not in this crawl's share of the deep refresh.
    fn fetch_reason(
        &self,
        change: &crate::types::Change,
        mode: CrawlMode,
    ) -> anyhow::Result<Option<String>> {
        let stored = self.store.document(&change.id)?;
        let Some(stored) = stored else {
            return Ok(Some("it was new to the index".into()));
        };
        let Some(fp) = &change.fingerprint else {
            return Ok(Some(match mode {
                CrawlMode::Incremental => "an incremental crawl listed it as changed".into(),
                CrawlMode::Full => {
                    "the connector gives no listing fingerprint, so every full crawl fetches it"
                        .into()
                }
            }));
        };
        if stored.fingerprint.as_deref() != Some(fp.as_str()) {
            return Ok(Some(
                "its listing entry changed since it was last fetched (title, status, CRM links, people or privacy)".into(),
            ));
        }
        // The deep refresh is a full crawl's: the round only moves when a full crawl completes,
        // so an incremental crawl that re-lists unchanged items (a source without a
        // modified-since filter re-lists a window) would fetch the same due share at every
        // poll until then.
        let every = self.options.deep_refresh_every;
        if mode == CrawlMode::Full
            && stages::deep_refresh_due(&change.id, self.store.meta().full_crawls, every)
        {
            return Ok(Some(format!(
                "its turn in the deep refresh (each item is fetched at least every {} full crawls, for what a listing cannot show)",
                every.max(1)
            )));
        }
        Ok(None)
    }

    /// Stages 2 to 4: fetched, mapped, acknowledged by the index.
    pub(crate) fn process_page(
        &mut self,
        datasource: &str,
        listed: Vec<Listed>,
        report: &mut CrawlReport,
    ) -> anyhow::Result<Vec<Acknowledged>> {
        let fetched = stages::fetch_all(
            self.source,
            &self.options.retry,
            self.hooks.clock,
            self.options.concurrency,
            &listed,
        );
        let mut mapped = Vec::new();
        for (id, result) in fetched {
            match result {
                Ok(f) => {
                    if let Some(m) = self.map(datasource, id, f, report)? {
                        mapped.push(m);
                    }
                }
                Err(e) if e.kind == ErrorKind::NotFound => {
                    *report
                        .skipped
                        .entry("gone between listing and fetch".to_string())
                        .or_default() += 1;
                }
                Err(e) => {
                    let msg = self.source.redact(&e.message);
                    tracing::warn!(item = %id, "not indexed: {msg}");
                    report.record_failure(&id, e.kind, msg);
                }
            }
        }
        self.upload(datasource, mapped, report)
    }

    /// Stage 3, mapped: checked, swept for secrets, hashed; `None` when there is nothing to
    /// upload (unchanged or refused).
    fn map(
        &mut self,
        datasource: &str,
        id: String,
        f: stages::Fetched,
        report: &mut CrawlReport,
    ) -> anyhow::Result<Option<stages::Mapped>> {
        report.fetched += 1;
        if f.doc.item.id != id {
            let msg = format!(
                "the connector answered item `{}` for id `{id}` (a connector bug)",
                text::clean(&f.doc.item.id, text::MAX_ID_BYTES)
            );
            report.record_failure(&id, ErrorKind::System, msg);
            return Ok(None);
        }
        if let Some(known) = &self.principals {
            let unknown = crate::closure::unknown(known, &f.doc.permissions);
            if !unknown.is_empty() {
                report.held += 1;
                let kind = ErrorKind::Held(f.doc.item.access.visibility);
                report.record_failure(&id, kind, crate::closure::held_message(&unknown));
                return Ok(None);
            }
        }
        report.access.count(&f.doc.permissions);
        if let Err(why) = self.sink.validate(datasource, &f.doc) {
            report.record_failure(&id, ErrorKind::System, why);
            return Ok(None);
        }
        let bytes = serde_json::to_vec(&f.doc).unwrap_or_default();
        self.usage.bytes(bytes.len() as u64)?;
        if self.source.carries_secret(&bytes) {
            report.record_failure(
                &id,
                ErrorKind::System,
                "the document carries a configured secret (the connector echoed a credential); it was not indexed".into(),
            );
            return Ok(None);
        }
        let hash = stages::content_hash(&bytes);
        if let Some(stored) = self.store.document(&id)?
            && stored.hash == hash
        {
            report.unchanged += 1;
            if stored.fingerprint != f.fingerprint {
                // Same document, new listing fingerprint: remember it, so the next crawl
                // need not fetch it.
                self.refreshed.push((
                    id.clone(),
                    crate::store::DocRecord {
                        fingerprint: f.fingerprint,
                        ..stored
                    },
                ));
            }
            report.recovered.push(id);
            return Ok(None);
        }
        Ok(Some(stages::Mapped {
            id,
            hash,
            size: bytes.len(),
            doc: f.doc,
            fingerprint: f.fingerprint,
            because: f.because,
        }))
    }

    /// Stage 4, acknowledged: uploads in batches; answers what the index acknowledged.
    fn upload(
        &mut self,
        datasource: &str,
        mapped: Vec<stages::Mapped>,
        report: &mut CrawlReport,
    ) -> anyhow::Result<Vec<Acknowledged>> {
        let now = self.hooks.clock.now();
        let mut acked = Vec::new();
        for batch in stages::batches(mapped, self.options.batch_size) {
            let docs: Vec<_> = batch.iter().map(|m| m.doc.clone()).collect();
            self.sink
                .index_documents(datasource, &docs)
                .with_context(|| format!("uploading {} documents to the index", docs.len()))?;
            self.hooks.crash.point("documents uploaded");
            report.indexed += docs.len() as u64;
            acked.extend(batch.into_iter().map(|m| Acknowledged::new(m, now)));
        }
        Ok(acked)
    }

    /// Stage 5, checkpointed: the index has acknowledged everything before `cursor`.
    pub(crate) fn checkpoint_page(
        &mut self,
        mode: CrawlMode,
        acknowledged: Vec<Acknowledged>,
        page_ids: Vec<String>,
        cursor: &Option<String>,
        report: &mut CrawlReport,
    ) -> anyhow::Result<()> {
        let mut meta = self.store.meta().clone();
        let full = mode == CrawlMode::Full;
        if full && let Some(p) = meta.full_in_progress.as_mut() {
            p.cursor = cursor.clone();
        }
        let mut cleared: Vec<String> = std::mem::take(&mut report.recovered);
        cleared.extend(acknowledged.iter().map(|a| a.id.clone()));
        let mut upserts: Vec<_> = std::mem::take(&mut self.refreshed);
        upserts.extend(acknowledged.into_iter().map(|a| (a.id, a.record)));
        let checkpoint = Checkpoint {
            upserts,
            listed: if full { page_ids } else { Vec::new() },
            cleared_failures: cleared,
            meta,
            ..Checkpoint::default()
        };
        self.commit(checkpoint)?;
        self.hooks.observer.on(Event::Checkpointed(report));
        Ok(())
    }
}

/// The longest the users go unlisted while polls find nothing to fetch: a new or renamed user
/// reaches the index's identity store within this (at once when an item names them).
pub const USERS_REFRESH_SECS: i64 = 3600;

/// Users per page of an identity upload.
const USERS_PER_UPLOAD: usize = 1000;

/// SHA-256 of the users as they would be uploaded to `datasource`, in listing order.
fn users_hash(datasource: &str, users: &[User]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(datasource.as_bytes());
    for u in users {
        for field in [u.id.as_str(), u.email.as_str(), u.name.as_str()] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        h.update([u8::from(u.active)]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of what registering `datasource` for `info` sends the index.
fn datasource_hash(datasource: &str, info: &crate::types::ConnectorInfo) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update((datasource.len() as u64).to_le_bytes());
    h.update(datasource.as_bytes());
    h.update(serde_json::to_vec(info).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `e` is the operator's to fix (a [`ConfigProblem`], or the connector saying its
/// configuration is wrong), so retrying cannot help.
pub fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ConfigProblem>().is_some()
            || c.downcast_ref::<SourceError>().map(|se| se.kind) == Some(ErrorKind::Config)
    })
}
