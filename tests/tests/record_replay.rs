//! Record and replay end to end: a full crawl against the mocks is recorded at the host import
//! (no secrets on the tape), then replayed twice with the mocks gone and no credentials; both
//! replays write byte-identical documents, the same the recorded crawl produced.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::Utc;
use common::WorldBuilder;
use mock_clari::{MockClari, MockClariConfig};
use tenant_instance::config::Config;
use tenant_instance::crawl::Crawler;
use tenant_instance::crawl::types::CrawlMode;
use tenant_instance::egress::Tape;
use tenant_instance::egress::tape::{Player, Recorder};
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{RunOptions, prepare_with};

const KEY: &str = "SENTINEL-KEY-4f1c9e";
const PASSWORD: &str = "SENTINEL-PASSWORD-77ab02";

fn config(clari: &str, dir: &Path, secrets: bool) -> Config {
    let file =
        WorldBuilder::new("replay", 0).config_file(clari, "http://127.0.0.1:9", &dir.join("state"));
    let env = move |k: &str| match (k, secrets) {
        ("CLARI_API_KEY", true) => Some(KEY.to_string()),
        ("CLARI_API_PASSWORD", true) => Some(PASSWORD.to_string()),
        // A replay needs no secret; the harness CLI fills placeholders the same way.
        _ => Some("not-a-secret".to_string()),
    };
    Config::from_file(file, Path::new("."), &env).unwrap()
}

/// A mock Clari Copilot of 40 calls generated from `seed`, with the test's credentials.
fn mock_clari(seed: u64) -> MockClari {
    MockClari::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockClariConfig {
            seed,
            calls: 40,
            anchor: Utc::now(),
            api_key: KEY.into(),
            api_password: PASSWORD.into(),
            ..MockClariConfig::default()
        },
    )
    .unwrap()
}

/// One full crawl with the guest clock fixed at `now` (a recording's own clock: taken twice,
/// a second could pass between the two and the replay would ask other questions).
fn crawl(config: &Config, tape: Tape, out: &Path, now: i64) -> u64 {
    let runtime = tenant_instance::cached_runtime().unwrap();
    let mut p = prepare_with(
        &runtime,
        config,
        RunOptions::new()
            .with_clock(GuestClock::Fixed(now))
            .with_tape(tape)
            .with_output_dir(out.to_path_buf()),
    )
    .unwrap();
    let report = Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
        .run(CrawlMode::Full)
        .unwrap();
    assert!(report.completed, "{report}");
    assert!(report.indexed > 10, "{report}");
    report.indexed
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_recorded_crawl_replays_byte_for_byte_without_network_or_secrets() {
    let tmp = tempfile::Builder::new()
        .prefix("e2e-replay-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let tape = root.join("clari.tape");
    {
        let clari = mock_clari(31);
        let now = Utc::now().timestamp();
        let recorder = Recorder::create(&tape, now).unwrap();
        crawl(
            &config(&clari.base_url(), &root.join("rec"), true),
            Tape::Record(recorder),
            &root.join("recorded"),
            now,
        );
        // The mock goes away here: the replays reach no network.
    }
    let text = std::fs::read_to_string(&tape).unwrap();
    assert!(
        !text.contains(KEY) && !text.contains(PASSWORD),
        "the tape holds no secret"
    );
    assert!(text.lines().count() > 10);

    let gone = "http://127.0.0.1:9";
    // A replay runs on the recording's clock, whatever `now` says.
    let later = Utc::now().timestamp() + 3600;
    crawl(
        &config(gone, &root.join("r1"), false),
        Tape::Replay(Player::open(&tape).unwrap()),
        &root.join("replay1"),
        later,
    );
    crawl(
        &config(gone, &root.join("r2"), false),
        Tape::Replay(Player::open(&tape).unwrap()),
        &root.join("replay2"),
        later,
    );
    let one = files(&root.join("replay1"));
    assert!(one.len() > 10);
    assert_eq!(
        one,
        files(&root.join("replay2")),
        "two replays write the same bytes"
    );
    assert_eq!(
        one,
        files(&root.join("recorded")),
        "a replay writes what the recorded crawl wrote"
    );
}

/// The SDK's test kit plays the host's recordings: the Clari connector, compiled natively, lists
/// and fetches every call of a recorded crawl from the tape (no host, no network, no secret),
/// and finds exactly the items the recorded crawl indexed.
#[test]
fn the_sdk_test_kit_replays_a_host_recording_natively() {
    use clari_copilot_connector::ClariCopilot;
    use connector_sdk::testkit::{TestHost, tape::Tape as SdkTape};
    use connector_sdk::{ChangeState, Connector as _, ListingNext};

    let tmp = tempfile::Builder::new()
        .prefix("e2e-sdk-tape-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let tape = root.join("clari.tape");
    let indexed = {
        let clari = mock_clari(33);
        let now = Utc::now().timestamp();
        let recorder = Recorder::create(&tape, now).unwrap();
        let cfg = config(&clari.base_url(), &root.join("rec"), true);
        crawl(&cfg, Tape::Record(recorder), &root.join("recorded"), now)
    };
    // The settings the recorded crawl ran with (`WorldBuilder`'s).
    let host = TestHost::replaying(SdkTape::load(&tape).unwrap()).setting("history_months", "12");
    let ctx = host.ctx();
    let connector = ClariCopilot::new(&ctx).unwrap();
    let mut cursor: Option<String> = None;
    let mut fetched = Vec::new();
    for _ in 0..100 {
        let page = connector
            .list_changes(&ctx, connector_sdk::CrawlMode::Full, cursor.as_deref())
            .unwrap();
        for change in page.changes {
            if let ChangeState::Ready(visibility) = change.state {
                let item = connector.fetch_item(&ctx, &change.id, visibility).unwrap();
                fetched.push(item.id);
            }
        }
        match page.next {
            ListingNext::More(next) => cursor = Some(next),
            ListingNext::Done(_) => break,
        }
    }
    fetched.sort();
    fetched.dedup();
    assert_eq!(fetched.len() as u64, indexed, "{fetched:?}");
    assert!(
        host.requests().iter().all(|r| r.upstream == "clari"),
        "only the declared upstream was asked"
    );
}

/// The instance's state as a recording must leave it: cursor, last full crawl, documents.
fn own_state(config: &Config) -> (String, Option<i64>, u64, u64) {
    use tenant_instance::crawl::state::{SqliteStore, StateStore};
    let store = SqliteStore::open(&config.state_dir, &config.name).unwrap();
    let meta = store.meta().clone();
    (
        format!("{:?}", meta.incremental_cursor),
        meta.last_full.map(|f| f.started_at),
        store.document_count().unwrap(),
        store.budget.requests,
    )
}

#[test]
fn a_recording_crawls_fresh_state_and_leaves_the_instances_state_alone() {
    let tmp = tempfile::Builder::new()
        .prefix("e2e-record-fresh-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let clari = mock_clari(32);
    let own = config(&clari.base_url(), &root.join("own"), true);
    // The instance crawls once: everything indexed, its state written.
    crawl(&own, Tape::Off, &root.join("first"), Utc::now().timestamp());
    let before = own_state(&own);
    assert!(before.2 > 10, "{before:?}");
    // A recording on the same configuration fetches every item again (onto the tape)...
    let tape = root.join("clari.tape");
    let now = Utc::now().timestamp();
    let recorder = Recorder::create(&tape, now).unwrap();
    crawl(&own, Tape::Record(recorder), &root.join("recorded"), now);
    // ...and leaves the instance's cursor, crawl history and documents as they were; its
    // requests were real, so the weekly budget counts them.
    let after = own_state(&own);
    assert_eq!(
        (&after.0, after.1, after.2),
        (&before.0, before.1, before.2)
    );
    assert!(after.3 > before.3, "budget {} -> {}", before.3, after.3);
    // The tape holds the whole crawl: a replay indexes every item again.
    crawl(
        &config("http://127.0.0.1:9", &root.join("replay"), false),
        Tape::Replay(Player::open(&tape).unwrap()),
        &root.join("replayed"),
        now,
    );
    assert_eq!(
        files(&root.join("replayed")),
        files(&root.join("recorded")),
        "the replay writes what the recording wrote"
    );
}
