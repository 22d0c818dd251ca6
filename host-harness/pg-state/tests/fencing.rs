//! Leases and fencing against a real PostgreSQL (started by the test from Debian's package):
//! migrations run once whoever starts first, concurrent claims never share a tenant, a lease
//! taken over after expiry refuses every write of the old holder (checkpoints and budget
//! counts), the epoch log shows one holder at a time, renewals in one statement tell exactly
//! which leases were lost, a replica's pool bounds its sessions, and the store keeps what the
//! engine's in-memory store keeps.

use std::time::Duration;

use budget_period::{BudgetLedger, BudgetUsage};
use crawl_engine::{Checkpoint, DocRecord, FailureRecord, MemoryStore, StateStore};
use pg_state::testing::TempPostgres;
use pg_state::{LeaseLost, Leases, PgBudgetLedger, PgStore, Sessions, connect, migrate};

fn database(pg: &TempPostgres, name: &str) -> String {
    let url = pg.database(name).unwrap();
    migrate::run(&mut connect(&url).unwrap()).unwrap();
    url
}

/// A replica's pool of sessions, as `harness serve` has it.
fn sessions(url: &str) -> Sessions {
    Sessions::new(url, Duration::from_secs(60), 4).unwrap()
}

fn tenants(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

#[test]
fn migrations_run_once_whoever_starts_first() {
    let pg = TempPostgres::start().unwrap();
    let url = pg.database("m").unwrap();
    let found: Vec<i64> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| migrate::run(&mut connect(&url).unwrap()).unwrap()))
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Exactly one of the three found an empty schema.
    assert_eq!(found.iter().filter(|v| **v == 0).count(), 1, "{found:?}");
    assert_eq!(
        migrate::run(&mut connect(&url).unwrap()).unwrap(),
        migrate::VERSION
    );
    let mut db = connect(&url).unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, migrate::VERSION);
}

#[test]
fn replicas_claiming_together_never_share_a_tenant() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "claims");
    let all = tenants(30);
    Leases::new("setup", Duration::from_secs(30))
        .unwrap()
        .register(&mut connect(&url).unwrap(), &all)
        .unwrap();
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let replicas: Vec<_> = (0..3)
            .map(|r| {
                let (url, all) = (&url, &all);
                s.spawn(move || {
                    let leases = Leases::new(format!("r{r}"), Duration::from_secs(30)).unwrap();
                    let mut db = connect(url).unwrap();
                    let mut mine = Vec::new();
                    for _ in 0..10 {
                        mine.extend(
                            leases
                                .claim(&mut db, all, 4)
                                .unwrap()
                                .into_iter()
                                .map(|l| l.tenant),
                        );
                    }
                    mine
                })
            })
            .collect();
        replicas.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut every: Vec<String> = claimed.concat();
    every.sort();
    assert_eq!(every, all, "each tenant claimed exactly once: {claimed:?}");
}

fn doc(hash: &str) -> DocRecord {
    DocRecord {
        object_type: "call".into(),
        hash: hash.into(),
        indexed_at: 1,
        fingerprint: Some(format!("f-{hash}")),
        fetched_because: Some("it was new to the index".into()),
    }
}

#[test]
fn a_taken_over_lease_refuses_every_write_of_the_old_holder() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "fence");
    let ttl = Duration::from_secs(1);
    let (a, b) = (
        Leases::new("a", ttl).unwrap(),
        Leases::new("b", ttl).unwrap(),
    );
    let mut db = connect(&url).unwrap();
    a.register(&mut db, &["acme".to_string()]).unwrap();
    let mut lease_a = a.claim(&mut db, &["acme".into()], 1).unwrap().remove(0);
    assert_eq!(lease_a.epoch, 1);
    assert!(
        b.claim(&mut db, &["acme".into()], 1).unwrap().is_empty(),
        "held by a"
    );

    let mut store_a = PgStore::open(&sessions(&url), &lease_a).unwrap();
    // The ledger on the store's pool, as a replica's crawl has it.
    let ledger_a = PgBudgetLedger::sharing(&store_a);
    let mut cp = Checkpoint::default();
    cp.upserts.push(("c1".into(), doc("h1")));
    cp.meta.incremental_cursor = Some("cursor-a".into());
    store_a.commit(cp).unwrap();
    let usage = |n| BudgetUsage {
        week_start: 1_795_305_600,
        requests: n,
        last_sent_ms: 5,
    };
    ledger_a.record(&usage(5)).unwrap();
    a.renew(&mut db, &mut lease_a).unwrap();

    // a stops renewing (paused, partitioned): the lease expires by the database's clock and b
    // takes it with the next epoch.
    std::thread::sleep(ttl + Duration::from_millis(200));
    assert!(!lease_a.fresh(), "the local deadline passed first");
    let lease_b = b.claim(&mut db, &["acme".into()], 1).unwrap().remove(0);
    assert_eq!(lease_b.epoch, 2);

    // Every write of a is refused by the database, and renewing says the lease is lost.
    let e = a.renew(&mut db, &mut lease_a).unwrap_err();
    assert!(e.downcast_ref::<LeaseLost>().is_some(), "{e:#}");
    let mut late = Checkpoint::default();
    late.upserts.push(("c2".into(), doc("stale")));
    late.meta.incremental_cursor = Some("stale".into());
    let e = store_a.commit(late).unwrap_err();
    assert!(e.downcast_ref::<LeaseLost>().is_some(), "{e:#}");
    assert!(ledger_a.record(&usage(6)).is_err());

    // b sees a's last accepted state and nothing after it, and carries the count on.
    let mut store_b = PgStore::open(&sessions(&url), &lease_b).unwrap();
    assert_eq!(
        store_b.meta().incremental_cursor.as_deref(),
        Some("cursor-a")
    );
    assert!(store_b.document("c2").unwrap().is_none());
    assert_eq!(PgBudgetLedger::load(&mut db, "acme").unwrap().requests, 5);
    PgBudgetLedger::new(&sessions(&url), &lease_b)
        .record(&usage(7))
        .unwrap();
    // A count never goes down within a week.
    PgBudgetLedger::new(&sessions(&url), &lease_b)
        .record(&usage(3))
        .unwrap();
    assert_eq!(PgBudgetLedger::load(&mut db, "acme").unwrap().requests, 7);
    store_b.commit(Checkpoint::default()).unwrap();

    // The epoch log: one holder per epoch, in order.
    let log: Vec<(i64, String)> = db
        .query(
            "SELECT epoch, owner FROM epoch_log WHERE tenant = 'acme' ORDER BY epoch",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(log, [(1, "a".to_string()), (2, "b".to_string())]);
}

#[test]
fn the_store_keeps_what_the_memory_store_keeps() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "same");
    let leases = Leases::new("r", Duration::from_secs(60)).unwrap();
    let mut db = connect(&url).unwrap();
    leases.register(&mut db, &["x".to_string()]).unwrap();
    let lease = leases.claim(&mut db, &["x".into()], 1).unwrap().remove(0);
    let mut pg_store = PgStore::open(&sessions(&url), &lease).unwrap();
    let mut mem = MemoryStore::default();
    let failure = FailureRecord {
        kind: "source".into(),
        message: "502".into(),
        at: 3,
    };
    let steps = vec![
        Checkpoint {
            upserts: vec![
                ("a".into(), doc("1")),
                ("b".into(), doc("2")),
                ("c".into(), doc("3")),
            ],
            reset_listed: true,
            listed: vec!["a".into(), "b".into()],
            failures: vec![("d".into(), failure.clone())],
            held: Some(vec!["z".into()]),
            ..Checkpoint::default()
        },
        Checkpoint {
            upserts: vec![("a".into(), doc("1b"))],
            deletes: vec!["b".into()],
            listed: vec!["a".into()],
            cleared_failures: vec!["d".into()],
            failures: vec![("e".into(), failure)],
            ..Checkpoint::default()
        },
        // One id twice in a checkpoint: the last record wins, as in memory.
        Checkpoint {
            upserts: vec![("c".into(), doc("3b")), ("c".into(), doc("3c"))],
            listed: vec!["c".into(), "c".into()],
            ..Checkpoint::default()
        },
    ];
    for cp in steps {
        mem.commit(cp.clone()).unwrap();
        pg_store.commit(cp).unwrap();
        for id in ["a", "b", "c", "d"] {
            assert_eq!(
                pg_store.document(id).unwrap(),
                mem.document(id).unwrap(),
                "{id}"
            );
        }
        assert_eq!(
            pg_store.document_count().unwrap(),
            mem.document_count().unwrap()
        );
        assert_eq!(
            pg_store.listed_count().unwrap(),
            mem.listed_count().unwrap()
        );
        assert_eq!(
            pg_store.unlisted_documents().unwrap(),
            mem.unlisted_documents().unwrap()
        );
        assert_eq!(
            pg_store.held_deletions().unwrap(),
            mem.held_deletions().unwrap()
        );
        assert_eq!(pg_store.failures(10).unwrap(), mem.failures(10).unwrap());
    }
    // Reopened, the same.
    let reopened = PgStore::open(&sessions(&url), &lease).unwrap();
    assert_eq!(reopened.meta(), mem.meta());
    assert_eq!(reopened.document("a").unwrap(), mem.document("a").unwrap());
}

#[test]
fn a_paused_holder_mid_transaction_does_not_stall_the_takeover() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "paused");
    let ttl = Duration::from_secs(3);
    let (a, b) = (
        Leases::new("a", ttl).unwrap(),
        Leases::new("b", ttl).unwrap(),
    );
    let mut db = connect(&url).unwrap();
    a.register(&mut db, &["acme".to_string()]).unwrap();
    let lease = a.claim(&mut db, &["acme".into()], 1).unwrap().remove(0);
    // a's writer stops (SIGSTOP) in the middle of a fenced write: its transaction holds the
    // lease row locked and never ends.
    let mut paused = pg_state::connect_for_leases(&url, ttl).unwrap();
    let mut tx = paused.transaction().unwrap();
    pg_state::lease::fence(&mut tx, "acme", "a", lease.epoch).unwrap();
    let started = std::time::Instant::now();
    let mut claimed = Vec::new();
    while claimed.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the takeover stalled on a locked row"
        );
        std::thread::sleep(Duration::from_millis(200));
        claimed = b.claim(&mut db, &["acme".into()], 1).unwrap();
    }
    // The server ended the idle session (a third of the ttl), so the lease went at expiry.
    assert!(
        started.elapsed() < ttl + Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        tx.commit().is_err(),
        "the paused session was ended, its write lost"
    );
}

#[test]
fn actions_wait_in_order_for_the_holder_and_a_full_queue_refuses_more() {
    use pg_state::actions::{self, Action, MAX_PENDING};
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "actions");
    let mut db = connect(&url).unwrap();
    assert!(actions::enqueue(&mut db, "t1", Action::Resume, "r1").unwrap());
    assert!(actions::enqueue(&mut db, "t1", Action::CrawlFull, "r2").unwrap());
    assert!(actions::enqueue(&mut db, "t2", Action::ApproveDeletions, "r1").unwrap());
    // Only the tenants asked for are taken, oldest first, and taken once.
    let taken = actions::take(&mut db, &["t1".to_string()]).unwrap();
    assert_eq!(
        taken,
        vec![
            ("t1".to_string(), Action::Resume),
            ("t1".to_string(), Action::CrawlFull)
        ]
    );
    assert!(
        actions::take(&mut db, &["t1".to_string()])
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        actions::take(&mut db, &["t2".to_string()]).unwrap().len(),
        1
    );
    // A tenant's queue is bounded; another tenant's is not affected.
    for _ in 0..MAX_PENDING {
        assert!(actions::enqueue(&mut db, "t3", Action::CrawlIncremental, "r1").unwrap());
    }
    assert!(!actions::enqueue(&mut db, "t3", Action::CrawlIncremental, "r1").unwrap());
    assert!(actions::enqueue(&mut db, "t4", Action::CrawlIncremental, "r1").unwrap());
    // An action a newer replica wrote is dropped, not misread.
    db.execute(
        "INSERT INTO tenant_actions (tenant, action, asked_of) VALUES ('t4', 'teleport', 'r9')",
        &[],
    )
    .unwrap();
    assert_eq!(
        actions::take(&mut db, &["t4".to_string()]).unwrap(),
        vec![("t4".to_string(), Action::CrawlIncremental)]
    );
    // The paused set: idempotent both ways.
    actions::set_paused(&mut db, "t1", true).unwrap();
    actions::set_paused(&mut db, "t1", true).unwrap();
    actions::set_paused(&mut db, "t2", true).unwrap();
    actions::set_paused(&mut db, "t2", false).unwrap();
    actions::set_paused(&mut db, "t5", false).unwrap();
    assert_eq!(
        actions::paused(&mut db)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["t1".to_string()]
    );
}

#[test]
fn one_renewal_of_many_leases_names_exactly_the_lost_ones() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "renew_many");
    let ttl = Duration::from_secs(1);
    let (a, b) = (
        Leases::new("a", ttl).unwrap(),
        Leases::new("b", ttl).unwrap(),
    );
    let mut db = connect(&url).unwrap();
    let all = tenants(3);
    a.register(&mut db, &all).unwrap();
    let mut held = a.claim(&mut db, &all, 3).unwrap();
    held.sort_by(|x, y| x.tenant.cmp(&y.tenant));
    assert_eq!(held.len(), 3);
    assert!(a.renew_many(&mut db, &mut held).unwrap().is_empty());
    // t01 expires and b takes it; the others are renewed in time.
    std::thread::sleep(Duration::from_millis(500));
    let (mut early, mut late): (Vec<_>, Vec<_>) = held.into_iter().partition(|l| l.tenant != "t01");
    assert!(a.renew_many(&mut db, &mut early).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        b.claim(&mut db, &all, 3).unwrap().len(),
        1,
        "only t01 expired"
    );
    let mut all_held: Vec<_> = early.into_iter().chain(late.drain(..)).collect();
    let lost = a.renew_many(&mut db, &mut all_held).unwrap();
    assert_eq!(
        lost,
        vec![LeaseLost {
            tenant: "t01".into(),
            epoch: 1
        }]
    );
    let still: Vec<bool> = all_held.iter().map(|l| l.fresh()).collect();
    assert_eq!(
        all_held
            .iter()
            .map(|l| l.tenant.as_str())
            .collect::<Vec<_>>(),
        ["t00", "t02", "t01"]
    );
    assert_eq!(
        still,
        [true, true, false],
        "the lost lease's deadline has passed"
    );
}

#[test]
fn a_replica_s_crawls_share_a_bounded_pool_of_sessions() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "pool");
    let ttl = Duration::from_secs(30);
    let leases = Leases::new("r", ttl).unwrap();
    let mut admin = connect(&url).unwrap();
    let all = tenants(12);
    leases.register(&mut admin, &all).unwrap();
    let held = leases.claim(&mut admin, &all, 12).unwrap();
    let pool = Sessions::new(&url, ttl, 3).unwrap();
    // Twelve crawls write at once: each takes a session per write and gives it back.
    std::thread::scope(|s| {
        for lease in &held {
            let pool = &pool;
            s.spawn(move || {
                let mut store = PgStore::open(pool, lease).unwrap();
                let ledger = PgBudgetLedger::sharing(&store);
                for i in 0..10u64 {
                    let mut cp = Checkpoint::default();
                    cp.upserts.push((format!("c{i}"), doc("h")));
                    store.commit(cp).unwrap();
                    ledger
                        .record(&BudgetUsage {
                            week_start: 1_795_305_600,
                            requests: i + 1,
                            last_sent_ms: 1,
                        })
                        .unwrap();
                }
            });
        }
    });
    assert!(pool.open() <= 3, "{} sessions open", pool.open());
    let sessions: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(sessions <= 4, "the pool's 3 and this one: {sessions}");
    let counted: i64 = admin
        .query_one("SELECT sum(requests)::bigint FROM budget", &[])
        .unwrap()
        .get(0);
    assert_eq!(counted, 120);
    let docs: i64 = admin
        .query_one("SELECT count(*) FROM documents", &[])
        .unwrap()
        .get(0);
    assert_eq!(docs, 120);
    // A pooled session, too, ends a transaction left idle for a third of the ttl.
    let limit: String = pool
        .get()
        .unwrap()
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(limit, "10s");
    let statement: String = pool
        .get()
        .unwrap()
        .query_one("SHOW statement_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(statement, "30s", "a statement runs at most the ttl");
}

#[test]
fn an_exhausted_pool_fails_a_checkout_within_a_third_of_the_ttl() {
    let pg = TempPostgres::start().unwrap();
    let url = database(&pg, "exhausted");
    let pool = Sessions::new(&url, Duration::from_secs(3), 1).unwrap();
    let held = pool.get().unwrap();
    let started = std::time::Instant::now();
    let Err(e) = pool.get() else {
        panic!("a second session from a pool of one")
    };
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(format!("{e:#}").contains("state database session"), "{e:#}");
    drop(held);
    pool.get().expect("the session given back is taken again");
}
