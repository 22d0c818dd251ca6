//! The engine's rules with in-memory fakes: no wasm, no HTTP, milliseconds each.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::crawler::USERS_REFRESH_SECS;
use crate::seams::{Document, ErrorKind, Sink, Source, SourceError, UsersUpload};
use crate::store::{MemoryStore, StateStore};
use crate::types::*;
use crate::{CrawlOptions, Crawler};

/// A source with `items` (id → visibility), listed `page` at a time.
struct FakeSource {
    items: Mutex<BTreeMap<String, Visibility>>,
    page: usize,
    /// Ids answered `not-found` on fetch even though listed (gone between listing and fetch)
    /// or, when unlisted, proven deleted. Unlisted ids not here fetch fine (still at source).
    gone: Mutex<Vec<String>>,
    /// Ids hidden from the listing (but still fetchable unless in `gone`).
    unlisted: Mutex<Vec<String>>,
    /// Answer a listing that repeats its cursor.
    repeat_cursor: AtomicBool,
    /// Fail the listing after this many pages (None: never).
    fail_listing_after: Mutex<Option<usize>>,
    /// Answer another id than asked for this one.
    liar: Mutex<Option<String>>,
    title: Mutex<String>,
    users: Vec<User>,
    /// A member added to every restricted item's permissions.
    extra_member: Mutex<Option<String>>,
    log: Mutex<Vec<String>>,
    /// List with fingerprints (of the title) instead of none.
    fingerprints: AtomicBool,
}

impl FakeSource {
    fn new(n: usize, page: usize) -> Self {
        FakeSource {
            items: Mutex::new(
                (0..n)
                    .map(|i| {
                        let v = if i % 3 == 0 {
                            Visibility::Restricted
                        } else {
                            Visibility::Public
                        };
                        (format!("item-{i:03}"), v)
                    })
                    .collect(),
            ),
            page,
            gone: Mutex::new(Vec::new()),
            unlisted: Mutex::new(Vec::new()),
            repeat_cursor: AtomicBool::new(false),
            fail_listing_after: Mutex::new(None),
            liar: Mutex::new(None),
            fingerprints: AtomicBool::new(false),
            title: Mutex::new("Title".into()),
            users: vec![User {
                id: "u1".into(),
                email: "a@example.com".into(),
                name: "A".into(),
                active: true,
            }],
            extra_member: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        }
    }

    fn delete(&self, id: &str) {
        self.unlisted.lock().unwrap().push(id.into());
        self.gone.lock().unwrap().push(id.into());
    }

    fn log(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }
}

/// A source whose item with the given id echoes a "secret" into its title.
struct Leaky(FakeSource, &'static str);

impl Source for Leaky {
    fn describe(&self) -> Result<ConnectorInfo, SourceError> {
        self.0.describe()
    }
    fn check(&self) -> Result<(), SourceError> {
        Ok(())
    }
    fn list_changes(&self, m: CrawlMode, c: Option<&str>) -> Result<ChangePage, SourceError> {
        self.0.list_changes(m, c)
    }
    fn fetch_item(&self, id: &str, v: Visibility) -> Result<Item, SourceError> {
        let mut item = self.0.fetch_item(id, v)?;
        if id == self.1 {
            item.title = "the key is hunter2-secret".into();
        }
        Ok(item)
    }
    fn map_permissions(&self, f: &AccessFacts) -> Result<Permissions, SourceError> {
        self.0.map_permissions(f)
    }
    fn list_users(&self, c: Option<&str>) -> Result<UserPage, SourceError> {
        self.0.list_users(c)
    }
    fn carries_secret(&self, bytes: &[u8]) -> bool {
        bytes.windows(14).any(|w| w == b"hunter2-secret")
    }
}

impl Source for FakeSource {
    fn describe(&self) -> Result<ConnectorInfo, SourceError> {
        Ok(ConnectorInfo {
            name: "fake".into(),
            display_name: "Fake".into(),
            version: "1".into(),
            url_pattern: ".*".into(),
            upstreams: vec![],
            object_types: vec![],
        })
    }
    fn check(&self) -> Result<(), SourceError> {
        Ok(())
    }
    fn list_changes(
        &self,
        _mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, SourceError> {
        let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        if let Some(after) = *self.fail_listing_after.lock().unwrap()
            && start / self.page.max(1) >= after
        {
            return Err(SourceError::new(ErrorKind::System, "listing broke"));
        }
        self.log(format!("list {start}"));
        let unlisted = self.unlisted.lock().unwrap().clone();
        let all: Vec<(String, Visibility)> = self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| !unlisted.contains(id))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let chunk: Vec<Change> = all
            .iter()
            .skip(start)
            .take(self.page)
            .map(|(id, v)| Change {
                fingerprint: self
                    .fingerprints
                    .load(Ordering::SeqCst)
                    .then(|| self.title.lock().unwrap().clone()),
                id: id.clone(),
                modified_at: None,
                state: ChangeState::Ready(*v),
            })
            .collect();
        let end = start + chunk.len();
        let next = if self.repeat_cursor.load(Ordering::SeqCst) && start > 0 {
            ListingNext::More(start.to_string())
        } else if end >= all.len() {
            ListingNext::Done("incr".into())
        } else {
            ListingNext::More(end.to_string())
        };
        Ok(ChangePage {
            changes: chunk,
            next,
        })
    }
    fn fetch_item(&self, id: &str, visibility: Visibility) -> Result<Item, SourceError> {
        if self.gone.lock().unwrap().iter().any(|g| g == id) {
            return Err(SourceError::new(ErrorKind::NotFound, "gone"));
        }
        let answered = match &*self.liar.lock().unwrap() {
            Some(l) if l == id => "someone-else".to_string(),
            _ => id.to_string(),
        };
        Ok(Item {
            id: answered,
            object_type: "thing".into(),
            title: self.title.lock().unwrap().clone(),
            url: format!("https://x/{id}"),
            body: "body".into(),
            summary: None,
            author: None,
            created_at: None,
            updated_at: None,
            container: None,
            tags: vec![],
            properties: vec![],
            access: AccessFacts {
                visibility,
                members: Some(
                    std::iter::once("a@example.com".to_string())
                        .chain(self.extra_member.lock().unwrap().clone())
                        .collect(),
                ),
            },
        })
    }
    fn map_permissions(&self, facts: &AccessFacts) -> Result<Permissions, SourceError> {
        Ok(match facts.visibility {
            Visibility::Public => Permissions::AllUsers,
            Visibility::Restricted => Permissions::Users(facts.members.clone().unwrap_or_default()),
            Visibility::Unknown => Permissions::Nobody,
        })
    }
    fn list_users(&self, _cursor: Option<&str>) -> Result<UserPage, SourceError> {
        self.log("users".into());
        Ok(UserPage {
            users: self.users.clone(),
            next_cursor: None,
        })
    }
}

/// An index in memory; it can be told to fail uploads.
#[derive(Default)]
struct FakeSink {
    docs: Mutex<BTreeMap<String, Document>>,
    uploads: AtomicU32,
    fail_uploads: AtomicBool,
    log: Mutex<Vec<String>>,
    /// Datasource registrations.
    registrations: AtomicU32,
}

impl Sink for FakeSink {
    fn ensure_datasource(&self, _: &str, _: &ConnectorInfo) -> anyhow::Result<()> {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn begin_users(&self, datasource: &str) -> anyhow::Result<UsersUpload> {
        Ok(UsersUpload {
            datasource: datasource.into(),
            upload_id: "u".into(),
        })
    }
    fn index_users_page(
        &self,
        _: &UsersUpload,
        users: &[User],
        _: bool,
        last: bool,
    ) -> anyhow::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("users {} last={last}", users.len()));
        Ok(())
    }
    fn validate(&self, _: &str, _: &Document) -> Result<(), String> {
        Ok(())
    }
    fn index_documents(&self, _: &str, docs: &[Document]) -> anyhow::Result<()> {
        if self.fail_uploads.load(Ordering::SeqCst) {
            anyhow::bail!("the index is down");
        }
        self.uploads.fetch_add(1, Ordering::SeqCst);
        self.log
            .lock()
            .unwrap()
            .push(format!("docs {}", docs.len()));
        let mut d = self.docs.lock().unwrap();
        for doc in docs {
            d.insert(doc.item.id.clone(), doc.clone());
        }
        Ok(())
    }
    fn delete_document(&self, _: &str, _: &str, id: &str) -> anyhow::Result<()> {
        self.docs.lock().unwrap().remove(id);
        Ok(())
    }
}

fn options() -> CrawlOptions {
    CrawlOptions {
        retry: crate::retry::RetryPolicy {
            max_retries: 1,
            base_delay: std::time::Duration::from_millis(1),
            ..Default::default()
        },
        ..CrawlOptions::default()
    }
}

fn crawl(
    source: &FakeSource,
    sink: &FakeSink,
    store: &mut MemoryStore,
    mode: CrawlMode,
    allow_mass_delete: bool,
) -> crate::CrawlReport {
    let mut o = options();
    o.allow_mass_delete = allow_mass_delete;
    Crawler::new(source, sink, store, o).run(mode).unwrap()
}

fn full(source: &FakeSource, sink: &FakeSink, store: &mut MemoryStore) -> crate::CrawlReport {
    crawl(source, sink, store, CrawlMode::Full, false)
}

#[test]
fn deletes_only_on_proof() {
    let (source, sink, mut store) = (
        FakeSource::new(30, 7),
        FakeSink::default(),
        MemoryStore::default(),
    );
    assert!(full(&source, &sink, &mut store).completed);
    assert_eq!(sink.docs.lock().unwrap().len(), 30);
    // Unlisted but still at the source: kept. Unlisted and 404: deleted.
    source.unlisted.lock().unwrap().push("item-001".into());
    source.delete("item-002");
    let r = full(&source, &sink, &mut store);
    assert!(r.completed, "{r}");
    assert_eq!(r.deleted, 1);
    let docs = sink.docs.lock().unwrap();
    assert!(docs.contains_key("item-001") && !docs.contains_key("item-002"));
    assert_eq!(store.documents.len(), 29);
}

#[test]
fn a_failed_listing_deletes_nothing() {
    let (source, sink, mut store) = (
        FakeSource::new(30, 7),
        FakeSink::default(),
        MemoryStore::default(),
    );
    full(&source, &sink, &mut store);
    source.delete("item-004");
    *source.fail_listing_after.lock().unwrap() = Some(2);
    let r = full(&source, &sink, &mut store);
    assert!(!r.completed);
    assert_eq!(r.deleted, 0);
    assert!(sink.docs.lock().unwrap().contains_key("item-004"));
}

#[test]
fn the_brake_holds_mass_deletions_until_allowed() {
    let (source, sink, mut store) = (
        FakeSource::new(20, 7),
        FakeSink::default(),
        MemoryStore::default(),
    );
    full(&source, &sink, &mut store);
    for i in 0..6 {
        source.delete(&format!("item-{i:03}"));
    }
    let r = full(&source, &sink, &mut store);
    assert_eq!((r.deleted, r.deletions_held), (0, 6), "{r}");
    assert_eq!(store.held.len(), 6);
    assert_eq!(sink.docs.lock().unwrap().len(), 20);
    let r = crawl(&source, &sink, &mut store, CrawlMode::Full, true);
    assert_eq!((r.deleted, r.deletions_held), (6, 0), "{r}");
    assert!(store.held.is_empty());
    assert_eq!(sink.docs.lock().unwrap().len(), 14);
}

#[test]
fn an_empty_listing_deletes_nothing() {
    let (source, sink, mut store) = (
        FakeSource::new(10, 4),
        FakeSink::default(),
        MemoryStore::default(),
    );
    full(&source, &sink, &mut store);
    for i in 0..10 {
        source.delete(&format!("item-{i:03}"));
    }
    let r = crawl(&source, &sink, &mut store, CrawlMode::Full, true);
    assert!(r.completed);
    assert_eq!(r.deleted, 0, "{r}");
    assert!(!r.warnings.is_empty());
    assert!(r.stopped.is_none(), "a completed crawl has no stop reason");
    assert_eq!(sink.docs.lock().unwrap().len(), 10);
}

#[test]
fn a_repeated_cursor_stops_the_crawl() {
    let (source, sink, mut store) = (
        FakeSource::new(30, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    source.repeat_cursor.store(true, Ordering::SeqCst);
    let r = full(&source, &sink, &mut store);
    assert!(!r.completed);
    assert!(r.stopped.unwrap().contains("same cursor twice"));
}

#[test]
fn an_item_answered_under_another_id_is_refused() {
    let (source, sink, mut store) = (
        FakeSource::new(5, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    *source.liar.lock().unwrap() = Some("item-002".into());
    let r = full(&source, &sink, &mut store);
    assert_eq!(r.failures.len(), 1);
    assert!(
        r.failures[0]
            .message
            .contains("answered item `someone-else` for id `item-002`")
    );
    assert!(!sink.docs.lock().unwrap().contains_key("someone-else"));
    assert!(store.failures.contains_key("item-002"));
}

#[test]
fn checkpoints_only_after_the_index_acknowledged() {
    let (source, sink, mut store) = (
        FakeSource::new(20, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    sink.fail_uploads.store(true, Ordering::SeqCst);
    let r = full(&source, &sink, &mut store);
    assert!(!r.completed);
    assert!(store.documents.is_empty(), "nothing recorded as indexed");
    assert_eq!(
        store.meta.full_in_progress.as_ref().unwrap().cursor,
        None,
        "the cursor did not move past unacknowledged documents"
    );
}

#[test]
fn a_stopped_crawl_resumes_from_its_checkpoint() {
    let (source, sink, mut store) = (
        FakeSource::new(20, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    *source.fail_listing_after.lock().unwrap() = Some(2);
    let r = full(&source, &sink, &mut store);
    assert!(!r.completed);
    assert_eq!(store.documents.len(), 10);
    *source.fail_listing_after.lock().unwrap() = None;
    source.log.lock().unwrap().clear();
    let r = full(&source, &sink, &mut store);
    assert!(r.completed, "{r}");
    assert_eq!(r.indexed, 10, "only the rest was fetched and indexed: {r}");
    assert!(!source.log.lock().unwrap().contains(&"list 0".to_string()));
    assert_eq!(store.documents.len(), 20);
    assert!(store.meta.full_in_progress.is_none());
}

#[test]
fn unchanged_documents_are_not_uploaded_again() {
    let (source, sink, mut store) = (
        FakeSource::new(12, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    full(&source, &sink, &mut store);
    let because = |store: &MemoryStore| -> Vec<Option<String>> {
        store
            .documents
            .values()
            .map(|d| d.fetched_because.clone())
            .collect()
    };
    // Each document keeps why the crawl that uploaded it fetched it.
    assert!(
        because(&store)
            .iter()
            .all(|b| b.as_deref() == Some("it was new to the index")),
        "{:?}",
        because(&store)
    );
    let uploads = sink.uploads.load(Ordering::SeqCst);
    let r = full(&source, &sink, &mut store);
    assert_eq!((r.indexed, r.unchanged), (0, 12), "{r}");
    assert_eq!(sink.uploads.load(Ordering::SeqCst), uploads);
    *source.title.lock().unwrap() = "New title".into();
    let r = full(&source, &sink, &mut store);
    assert_eq!(r.indexed, 12);
    assert!(
        because(&store).iter().all(|b| b
            .as_deref()
            .is_some_and(|b| b.contains("no listing fingerprint"))),
        "{:?}",
        because(&store)
    );
}

#[test]
fn the_deep_refresh_is_a_full_crawls_and_never_repeats_at_every_poll() {
    // A source that re-lists unchanged items in incremental crawls (Gong re-lists a window):
    // between two full crawls, no poll fetches an unchanged item, whatever its deep-refresh
    // turn; the next full crawl fetches its share.
    let (source, sink, mut store) = (
        FakeSource::new(28, 7),
        FakeSink::default(),
        MemoryStore::default(),
    );
    source.fingerprints.store(true, Ordering::SeqCst);
    let mut o = options();
    o.deep_refresh_every = 2;
    let mut run = |mode| {
        Crawler::new(&source, &sink, &mut store, o.clone())
            .run(mode)
            .unwrap()
    };
    assert_eq!(run(CrawlMode::Full).indexed, 28);
    for _ in 0..3 {
        let r = run(CrawlMode::Incremental);
        assert_eq!((r.listed, r.fetched), (28, 0), "{r}");
    }
    let r = run(CrawlMode::Full);
    assert!(r.fetched > 0 && r.fetched < 28, "a share: {r}");
}

#[test]
fn users_go_to_the_index_before_documents() {
    let (source, sink, mut store) = (
        FakeSource::new(3, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    full(&source, &sink, &mut store);
    let log = sink.log.lock().unwrap().clone();
    assert_eq!(
        log.first().map(String::as_str),
        Some("users 1 last=true"),
        "{log:?}"
    );
    assert!(log.iter().skip(1).all(|l| l.starts_with("docs")), "{log:?}");
}

#[test]
fn an_incremental_crawl_needs_a_full_one_first() {
    let (source, sink, mut store) = (
        FakeSource::new(3, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    let e = Crawler::new(&source, &sink, &mut store, options())
        .run(CrawlMode::Incremental)
        .unwrap_err();
    assert!(format!("{e:#}").contains("run a full crawl first"));
    full(&source, &sink, &mut store);
    assert_eq!(store.meta.incremental_cursor.as_deref(), Some("incr"));
    assert!(crawl(&source, &sink, &mut store, CrawlMode::Incremental, false).completed);
}

#[test]
fn checkpoint_cost_follows_the_change_not_the_index() {
    // A store records what each checkpoint writes; an unchanged page writes no document.
    struct Counting(MemoryStore, Vec<usize>);
    impl StateStore for Counting {
        fn meta(&self) -> &crate::StateMeta {
            self.0.meta()
        }
        fn document(&self, id: &str) -> anyhow::Result<Option<crate::DocRecord>> {
            self.0.document(id)
        }
        fn document_count(&self) -> anyhow::Result<u64> {
            self.0.document_count()
        }
        fn listed_count(&self) -> anyhow::Result<u64> {
            self.0.listed_count()
        }
        fn unlisted_documents(&self) -> anyhow::Result<Vec<(String, crate::DocRecord)>> {
            self.0.unlisted_documents()
        }
        fn held_deletions(&self) -> anyhow::Result<Vec<String>> {
            self.0.held_deletions()
        }
        fn failures(
            &self,
            limit: usize,
        ) -> anyhow::Result<(u64, Vec<(String, crate::FailureRecord)>)> {
            self.0.failures(limit)
        }
        fn commit(&mut self, cp: crate::Checkpoint) -> anyhow::Result<()> {
            self.1.push(cp.upserts.len() + cp.deletes.len());
            self.0.commit(cp)
        }
    }
    let (source, sink) = (FakeSource::new(50, 10), FakeSink::default());
    let mut store = Counting(MemoryStore::default(), Vec::new());
    Crawler::new(&source, &sink, &mut store, options())
        .run(CrawlMode::Full)
        .unwrap();
    store.1.clear();
    Crawler::new(&source, &sink, &mut store, options())
        .run(CrawlMode::Full)
        .unwrap();
    assert!(store.1.iter().all(|n| *n == 0), "{:?}", store.1);
}

#[test]
fn a_document_carrying_a_secret_is_refused_naming_the_document() {
    let source = Leaky(FakeSource::new(6, 5), "item-003");
    let (sink, mut store) = (FakeSink::default(), MemoryStore::default());
    let r = Crawler::new(&source, &sink, &mut store, options())
        .run(CrawlMode::Full)
        .unwrap();
    assert!(r.completed);
    assert_eq!(r.indexed, 5);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].id, "item-003");
    assert!(r.failures[0].message.contains("configured secret"));
    assert!(!r.failures[0].message.contains("hunter2"));
    assert!(!sink.docs.lock().unwrap().contains_key("item-003"));
}

#[test]
fn users_are_uploaded_only_when_they_changed() {
    let (mut source, sink, mut store) = (
        FakeSource::new(3, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    let users_uploads = |sink: &FakeSink| {
        sink.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("users"))
            .count()
    };
    let first = full(&source, &sink, &mut store);
    assert_eq!((first.users_indexed, first.users_unchanged), (1, false));
    assert_eq!(users_uploads(&sink), 1);
    // Nothing changed: the identity store is not sent again, on either kind of crawl.
    let again = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert!(
        again.users_unchanged && again.users_indexed == 0,
        "{again:?}"
    );
    full(&source, &sink, &mut store);
    assert_eq!(users_uploads(&sink), 1);
    // A renamed user is a change: the set goes out again, whole.
    source.users[0].name = "Renamed".into();
    let changed = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert_eq!((changed.users_indexed, changed.users_unchanged), (1, false));
    assert_eq!(users_uploads(&sink), 2);
}

#[test]
fn a_document_naming_an_unknown_user_is_held_until_the_user_exists() {
    let (mut source, sink, mut store) = (
        FakeSource::new(9, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    // Restricted items (0, 3, 6) also name a user the source does not list.
    *source.extra_member.lock().unwrap() = Some("Ghost@Example.com".into());
    let first = full(&source, &sink, &mut store);
    assert!(first.completed);
    assert_eq!((first.held, first.indexed), (3, 6), "{first}");
    let names_ghost = |sink: &FakeSink| {
        sink.docs.lock().unwrap().values().any(|d| {
            matches!(&d.permissions, Permissions::Users(u) if u.iter().any(|p| p.contains("host")))
        })
    };
    assert!(
        !names_ghost(&sink),
        "a document naming an unknown user was uploaded"
    );
    let (_, failures) = store.failures(100).unwrap();
    let held: Vec<_> = failures
        .iter()
        .filter(|(_, f)| f.kind == "held-restricted")
        .collect();
    assert_eq!(held.len(), 3);
    assert!(
        held[0].1.message.contains("Ghost@Example.com"),
        "{:?}",
        held[0]
    );
    // Nothing changed: still held, still not uploaded.
    crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert_eq!(sink.docs.lock().unwrap().len(), 6);
    // The user appears (case aside): the held documents go out at the next crawl.
    source.users.push(User {
        id: "u2".into(),
        email: "ghost@example.com".into(),
        name: "Ghost".into(),
        active: true,
    });
    let next = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert_eq!(next.released, 3, "{next}");
    assert_eq!(sink.docs.lock().unwrap().len(), 9);
    let (_, failures) = store.failures(100).unwrap();
    assert!(
        failures.iter().all(|(_, f)| !f.kind.starts_with("held")),
        "{failures:?}"
    );
}

#[test]
fn an_unchanged_incremental_crawl_does_not_register_the_datasource_again() {
    let (source, sink, mut store) = (
        FakeSource::new(3, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    let registered = || sink.registrations.load(Ordering::SeqCst);
    full(&source, &sink, &mut store);
    assert_eq!(registered(), 1);
    assert!(crawl(&source, &sink, &mut store, CrawlMode::Incremental, false).completed);
    assert!(crawl(&source, &sink, &mut store, CrawlMode::Incremental, false).completed);
    assert_eq!(
        registered(),
        1,
        "nothing changed: the index is not asked again"
    );
    // A full crawl always registers (the index may have lost it); so does a changed
    // configuration (here the datasource's name).
    full(&source, &sink, &mut store);
    assert_eq!(registered(), 2);
    let mut o = options();
    o.datasource = Some("renamed".into());
    Crawler::new(&source, &sink, &mut store, o)
        .run(CrawlMode::Incremental)
        .unwrap();
    assert_eq!(registered(), 3);
}

#[test]
fn a_poll_with_nothing_to_fetch_lists_the_users_only_once_an_hour() {
    let (mut source, sink, mut store) = (
        FakeSource::new(3, 5),
        FakeSink::default(),
        MemoryStore::default(),
    );
    source.fingerprints.store(true, Ordering::SeqCst);
    let user_listings = |source: &FakeSource| {
        source
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "users")
            .count()
    };
    full(&source, &sink, &mut store);
    assert_eq!(user_listings(&source), 1, "a full crawl lists the users");
    // Unchanged at the source: nothing to fetch, so nothing is asked about the users.
    let quiet = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert!(quiet.completed && quiet.fetched == 0, "{quiet:?}");
    assert_eq!(user_listings(&source), 1);
    // An hour later the users are listed again, and a renamed one goes to the index.
    source.users[0].name = "Renamed".into();
    store.meta.users_listed_at = store.meta.users_listed_at.map(|t| t - USERS_REFRESH_SECS);
    let late = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert_eq!(user_listings(&source), 2);
    assert_eq!(late.users_indexed, 1);
    // A change to fetch lists them at once (its permissions are checked against them).
    *source.title.lock().unwrap() = "edited".into();
    let changed = crawl(&source, &sink, &mut store, CrawlMode::Incremental, false);
    assert!(changed.fetched > 0, "{changed:?}");
    assert_eq!(user_listings(&source), 3);
}
