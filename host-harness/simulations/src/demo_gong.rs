//! `harness demo --source gong`: the same platform with the second connector. Starts the mock
//! Gong and mock Glean servers on free loopback ports, crawls a generated company with the
//! built-in Gong component (Basic auth composed by the host from two secrets), changes a few
//! calls at the source (a new call, a retitle, a call made private, deletions), runs an
//! incremental crawl and a reconciling full crawl, then searches as a person and as a
//! colleague who may see less. Nothing here is in the crawl path: the host runs Gong as it
//! runs any component.

use std::time::Instant;

use anyhow::Context;
use mock_glean::{MockGlean, MockGleanConfig};
use mock_gong::{MockGong, MockGongConfig, NewCall};

use crawl_engine::types::CrawlMode;

use crate::demo::{DemoOptions, TempState, crawl, load, loopback, search_as_people};
use tenant_instance::config::Config;

/// The configuration the Gong demo crawls with, as a user would write it.
pub fn gong_config_toml(gong: &str, glean: &str, state_dir: &str, rate: f64) -> String {
    format!(
        r#"[connector]
name = "gong-demo"
builtin = "gong"
state_dir = "{state_dir}"

[connector.settings]
history_days = 200

[upstreams.gong]
base_url = "{gong}"
rate_per_second = {rate}
# The mock runs on loopback.
allow_private_network = true

# The host sends `Authorization: Basic base64(key:secret)`; the connector never sees either.
[upstreams.gong.basic]
username = {{ env = "GONG_ACCESS_KEY" }}
password = {{ env = "GONG_ACCESS_KEY_SECRET" }}

[glean]
base_url = "{glean}"
token_env = "GLEAN_INDEXING_TOKEN"

[crawl]
concurrency = 4
batch_size = 100
"#
    )
}

/// Runs the Gong demo, printing as it goes.
pub fn run(options: &DemoOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let gong_config = MockGongConfig {
        seed: options.seed,
        calls: options.calls,
        anchor: chrono::Utc::now(),
        ..MockGongConfig::default()
    };
    let (key, secret) = (
        gong_config.access_key.clone(),
        gong_config.access_key_secret.clone(),
    );
    let gong = MockGong::spawn(loopback(), gong_config).context("starting the mock Gong server")?;
    let glean_config = MockGleanConfig::default();
    let token = glean_config.token.clone();
    let glean =
        MockGlean::spawn(loopback(), glean_config).context("starting the mock Glean server")?;
    println!("mock Gong API           {}", gong.base_url());
    println!("mock Glean indexing API {}", glean.base_url());
    let state =
        TempState(std::env::temp_dir().join(format!("harness-demo-gong-{}", std::process::id())));
    let text = gong_config_toml(
        &gong.base_url(),
        &glean.base_url(),
        &state.0.display().to_string(),
        options.rate_per_second,
    );
    let file = tenant_instance::config::parse_file(&text).context("the demo configuration")?;
    let env = move |k: &str| match k {
        "GONG_ACCESS_KEY" => Some(key.clone()),
        "GONG_ACCESS_KEY_SECRET" => Some(secret.clone()),
        "GLEAN_INDEXING_TOKEN" => Some(token.clone()),
        _ => None,
    };
    let config = Config::from_file(file, std::path::Path::new("."), &env)?;
    let mut prepared = load(&config)?;
    let datasource = prepared.info.name.clone();
    let calls = gong.control().calls();
    println!(
        "source company: {} calls ({} private, {} with privacy unknown, {} with a transcript)\n",
        calls.len(),
        calls.iter().filter(|c| c.is_private == Some(true)).count(),
        calls.iter().filter(|c| c.is_private.is_none()).count(),
        calls.iter().filter(|c| c.has_transcript).count()
    );
    print!("{}", crawl(&mut prepared, CrawlMode::Full)?.0);
    change_the_source(&gong, &glean, &datasource)?;
    print!("{}", crawl(&mut prepared, CrawlMode::Incremental)?.0);
    println!(
        "  (an incremental crawl re-lists a window of recent calls; Gong has no modified-since filter and no tombstones, so a full crawl reconciles edits to older calls and deletions)\n"
    );
    print!("{}", crawl(&mut prepared, CrawlMode::Full)?.0);
    search_as_people(&glean, &datasource);
    println!(
        "{} requests to Gong, {} answered 429; demo finished in {:.1}s",
        gong.control().request_count(),
        gong.control().throttled_count(),
        started.elapsed().as_secs_f64()
    );
    drop(prepared);
    drop((gong, glean));
    Ok(())
}

/// Life goes on at the source: a new call, a retitle, a call made private, deleted calls.
fn change_the_source(gong: &MockGong, glean: &MockGlean, datasource: &str) -> anyhow::Result<()> {
    let control = gong.control();
    let new_id = control.add_call(NewCall {
        title: Some("Initech | pricing follow-up (new)".into()),
        is_private: Some(false),
        ..NewCall::default()
    });
    let docs = glean.documents(datasource);
    let ids: Vec<String> = docs.iter().filter_map(|d| d.id.clone()).collect();
    let (Some(retitled), Some(hidden)) = (ids.first(), ids.get(1)) else {
        anyhow::bail!("the first crawl indexed fewer than two calls");
    };
    control.set_title(
        retitled,
        "Renamed after the call: Initech security deep-dive",
    )?;
    control.set_private(hidden, Some(true))?;
    let deleted: Vec<String> = ids.iter().rev().take(3).cloned().collect();
    for id in &deleted {
        control.delete_call(id)?;
    }
    println!(
        "\nat the source: 1 new call ({new_id}), 1 call retitled, 1 call made private, {} calls deleted\n",
        deleted.len()
    );
    Ok(())
}
