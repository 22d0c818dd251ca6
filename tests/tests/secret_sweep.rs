//! Sentinel secrets: a crawl with sentinel credentials — one that succeeds and one that fails on
//! a wrong password — and every output is searched for them: reports (text and JSON), errors,
//! the state database, the indexed documents and a recording tape. None may hold a secret.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;

use chrono::Utc;
use common::WorldBuilder;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};
use tenant_instance::config::Config;
use tenant_instance::crawl::Crawler;
use tenant_instance::crawl::types::CrawlMode;
use tenant_instance::egress::Tape;
use tenant_instance::egress::tape::Recorder;
use tenant_instance::runtime::GuestClock;
use tenant_instance::setup::{RunOptions, prepare_with};

const KEY: &str = "SENTINEL-KEY-91c4d2";
const PASSWORD: &str = "SENTINEL-PASSWORD-3e8f70";
const TOKEN: &str = "SENTINEL-TOKEN-5a61bb";

fn files_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn no_output_ever_holds_a_secret() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let clari = MockClari::spawn(
        loopback,
        MockClariConfig {
            seed: 13,
            calls: 30,
            anchor: Utc::now(),
            api_key: KEY.into(),
            api_password: PASSWORD.into(),
            ..MockClariConfig::default()
        },
    )
    .unwrap();
    let glean = MockGlean::spawn(
        loopback,
        MockGleanConfig {
            token: TOKEN.into(),
            ..MockGleanConfig::default()
        },
    )
    .unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("e2e-secrets-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let mut outputs = String::new();

    for (name, password) in [("good", PASSWORD), ("wrong", "SENTINEL-WRONG-PASSWORD-x")] {
        let state = root.join(name);
        let file =
            WorldBuilder::new("sweep", 0).config_file(&clari.base_url(), &glean.base_url(), &state);
        let env = move |k: &str| match k {
            "CLARI_API_KEY" => Some(KEY.to_string()),
            "CLARI_API_PASSWORD" => Some(password.to_string()),
            _ => Some(TOKEN.to_string()),
        };
        let config = Config::from_file(file, Path::new("."), &env).unwrap();
        outputs.push_str(&format!("{config:?}"));
        let tape = root.join(format!("{name}.tape"));
        let runtime = tenant_instance::cached_runtime().unwrap();
        let mut p = prepare_with(
            &runtime,
            &config,
            RunOptions::new()
                .with_clock(GuestClock::System)
                .with_tape(Tape::Record(
                    Recorder::create(&tape, Utc::now().timestamp()).unwrap(),
                )),
        )
        .unwrap();
        outputs.push_str(&format!("{:?}", p.connector));
        match p.connector.check() {
            Ok(()) => {}
            Err(e) => outputs.push_str(&format!("{e} {e:?}")),
        }
        match Crawler::new(&p.connector, &*p.index, &mut *p.store, p.options.clone())
            .run(CrawlMode::Full)
        {
            Ok(report) => {
                outputs.push_str(&format!("{report}"));
                outputs.push_str(&serde_json::to_string(&report).unwrap());
            }
            Err(e) => outputs.push_str(&format!("{e:#} {e:?}")),
        }
        outputs.push_str(&files_text(&state));
        outputs.push_str(&std::fs::read_to_string(&tape).unwrap());
    }
    // The wrong password really failed, with a message that says what to do.
    assert!(
        outputs.contains("check the Clari Copilot API key and password"),
        "{outputs}"
    );
    outputs.push_str(&serde_json::to_string(&glean.documents("claricopilot")).unwrap());
    assert!(
        glean.documents("claricopilot").len() > 5,
        "the good crawl indexed documents"
    );
    for secret in [KEY, PASSWORD, TOKEN, "SENTINEL-WRONG-PASSWORD-x"] {
        assert!(
            !outputs.contains(secret),
            "`{secret}` leaked into an output"
        );
    }
}
