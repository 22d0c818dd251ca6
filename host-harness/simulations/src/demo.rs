//! `harness demo`: the whole product on one machine. Starts the mock Clari Copilot and mock
//! Glean servers on free loopback ports, crawls a deterministic workspace with the real
//! component, changes a few calls at the source (a new call, calls that finish processing,
//! deleted calls), runs an incremental crawl and a reconciling full crawl, and prints what was
//! indexed and three results of a search made as a person, then the same search as someone
//! who may see less.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use mock_clari::{MockClari, MockClariConfig, NewCall};
use mock_glean::{MockGlean, MockGleanConfig};

use crawl_engine::types::CrawlMode;
use crawl_engine::{CrawlReport, Crawler};
use wasm_runtime::GuestClock;

use harness_service::render;
use tenant_instance::config::Config;
use tenant_instance::setup;

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub calls: usize,
    pub seed: u64,
    /// Requests per second the harness allows itself against the mock.
    pub rate_per_second: f64,
    /// After the demo, keep the mocks and serve the web console (and admin API) here, with
    /// the demo's instance as a tenant, until Ctrl-C.
    pub console: Option<SocketAddr>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            calls: 300,
            seed: 42,
            rate_per_second: 50.0,
            console: None,
        }
    }
}

/// The configuration the demo crawls with, as a user would write it.
pub fn demo_config_toml(clari: &str, glean: &str, state_dir: &str, rate: f64) -> String {
    format!(
        r#"[connector]
name = "clari-demo"
state_dir = "{state_dir}"

[connector.settings]
history_months = 12

[upstreams.clari]
base_url = "{clari}"
rate_per_second = {rate}
# The mock runs on loopback.
allow_private_network = true

[upstreams.clari.credentials]
X-Api-Key = {{ env = "CLARI_API_KEY" }}
X-Api-Password = {{ env = "CLARI_API_PASSWORD" }}

[glean]
base_url = "{glean}"
token_env = "GLEAN_INDEXING_TOKEN"

[crawl]
concurrency = 4
batch_size = 100
"#
    )
}

pub(crate) fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A temporary state directory, removed however the demo ends.
pub(crate) struct TempState(pub(crate) std::path::PathBuf);

impl Drop for TempState {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Runs the demo, printing as it goes.
pub fn run(options: &DemoOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let anchor = chrono::Utc::now();
    let clari_config = MockClariConfig {
        seed: options.seed,
        calls: options.calls,
        anchor,
        ..MockClariConfig::default()
    };
    let (api_key, api_password) = (
        clari_config.api_key.clone(),
        clari_config.api_password.clone(),
    );
    if options.console.is_some() {
        // SAFETY: set before any thread of this process is started (the mocks start below);
        // the console's tenant file names these variables, as a user's file would.
        unsafe {
            std::env::set_var("CLARI_API_KEY", &api_key);
            std::env::set_var("CLARI_API_PASSWORD", &api_password);
            std::env::set_var("GLEAN_INDEXING_TOKEN", MockGleanConfig::default().token);
        }
    }
    let clari = MockClari::spawn(loopback(), clari_config)
        .context("starting the mock Clari Copilot server")?;
    let glean_config = MockGleanConfig::default();
    let token = glean_config.token.clone();
    let glean =
        MockGlean::spawn(loopback(), glean_config).context("starting the mock Glean server")?;
    println!("mock Clari Copilot API  {}", clari.base_url());
    println!("mock Glean indexing API {}", glean.base_url());

    let state =
        TempState(std::env::temp_dir().join(format!("harness-demo-{}", std::process::id())));
    let text = demo_config_toml(
        &clari.base_url(),
        &glean.base_url(),
        &state.0.display().to_string(),
        options.rate_per_second,
    );
    let file = tenant_instance::config::parse_file(&text).context("the demo configuration")?;
    let env = move |k: &str| match k {
        "CLARI_API_KEY" => Some(api_key.clone()),
        "CLARI_API_PASSWORD" => Some(api_password.clone()),
        "GLEAN_INDEXING_TOKEN" => Some(token.clone()),
        _ => None,
    };
    let config = Config::from_file(file, std::path::Path::new("."), &env)?;
    let mut prepared = load(&config)?;
    let datasource = prepared.info.name.clone();
    let reports = crawls(&mut prepared, &clari, &glean, &datasource)?;
    search_as_people(&glean, &datasource);
    println!("demo finished in {:.1}s", started.elapsed().as_secs_f64());
    if let Some(addr) = options.console {
        drop(prepared);
        serve_console(addr, &state.0, &text, &reports)?;
    }
    drop((clari, glean));
    Ok(())
}

/// Serves the console with the demo's instance as a tenant (its state carries on; the
/// service crawls it on its schedule) until Ctrl-C.
fn serve_console(
    addr: SocketAddr,
    state: &std::path::Path,
    config_text: &str,
    reports: &[(CrawlReport, u64)],
) -> anyhow::Result<()> {
    let tenants = state.join("tenants");
    std::fs::create_dir_all(&tenants)?;
    std::fs::write(tenants.join("clari-demo.toml"), config_text)?;
    let stop = tenant_instance::schedule::stop_on_signals()?;
    let service = harness_service::serve::Service::new(
        tenant_instance::cached_runtime()?,
        harness_service::serve::ServeOptions {
            start_stagger: std::time::Duration::from_secs(60),
            ..harness_service::serve::ServeOptions::new(tenants)
        },
        stop,
    );
    service.rescan();
    for (report, throttled) in reports {
        service.record_external("clari-demo", report, *throttled);
    }
    let token = demo_token();
    let shown = token.clone();
    harness_service::serve::api::run_with_admin(&service, addr, token, |addr| {
        println!("\nweb console  http://{addr}/console   (sign in with the token {shown})");
        println!("admin API    http://{addr}/tenants  (Authorization: Bearer {shown})");
        println!("Ctrl-C to stop");
    })?;
    println!("stopped");
    Ok(())
}

/// Loads the connector, saying how.
pub(crate) fn load(config: &Config) -> anyhow::Result<setup::Prepared> {
    let runtime = tenant_instance::cached_runtime()?;
    let t = Instant::now();
    let prepared = setup::prepare(&runtime, config, GuestClock::System)?;
    println!(
        "loaded {} {} (contract {}, {} pooling allocator) in {:.2}s\n",
        prepared.info.display_name,
        prepared.info.version,
        prepared.connector.contract_version(),
        if runtime.is_pooling() {
            "with"
        } else {
            "without"
        },
        t.elapsed().as_secs_f64()
    );
    Ok(prepared)
}

/// A full crawl, changes at the source, an incremental crawl and a reconciling full crawl.
fn crawls(
    prepared: &mut setup::Prepared,
    clari: &MockClari,
    glean: &MockGlean,
    datasource: &str,
) -> anyhow::Result<Vec<(CrawlReport, u64)>> {
    let facts = clari.control().calls();
    println!(
        "source workspace: {} calls ({} private, {} processed and eligible)\n",
        facts.len(),
        facts.iter().filter(|c| c.private).count(),
        facts
            .iter()
            .filter(|c| c.status == "POST_PROCESSING_DONE")
            .count()
    );
    let full = crawl(prepared, CrawlMode::Full)?;
    print!("{}", full.0);
    change_the_source(clari, glean, datasource)?;
    let incremental = crawl(prepared, CrawlMode::Incremental)?;
    print!("{}", incremental.0);
    println!(
        "  (an incremental crawl sees what changed status; deletions need a complete listing, so a full crawl reconciles them)\n"
    );
    let reconcile = crawl(prepared, CrawlMode::Full)?;
    print!("{}", reconcile.0);
    Ok(vec![full, incremental, reconcile])
}

/// Life goes on at the source: a new call, calls that finish processing, deleted calls.
fn change_the_source(clari: &MockClari, glean: &MockGlean, datasource: &str) -> anyhow::Result<()> {
    let control = clari.control();
    let new_id = control.add_call(NewCall {
        status: "POST_PROCESSING_DONE".into(),
        private: false,
        title: Some("Globex – pricing follow-up (new)".into()),
        ..NewCall::default()
    });
    let finishing: Vec<String> = control
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(
                c.status.as_str(),
                "PROCESSING" | "PROCESSED" | "WAITING_IN_QUEUE"
            )
        })
        .take(2)
        .map(|c| c.id)
        .collect();
    for id in &finishing {
        control.set_status(id, "POST_PROCESSING_DONE")?;
    }
    let deleted: Vec<String> = glean
        .documents(datasource)
        .iter()
        .rev()
        .take(3)
        .filter_map(|d| d.id.clone())
        .collect();
    for id in &deleted {
        control.delete_call(id)?;
    }
    println!(
        "\nat the source: 1 new call ({new_id}), {} calls finished processing, {} calls deleted\n",
        finishing.len(),
        deleted.len()
    );
    Ok(())
}

/// Searches as someone on a private call, then as a colleague who was not on it.
pub(crate) fn search_as_people(glean: &MockGlean, datasource: &str) {
    let docs = glean.documents(datasource);
    println!(
        "\nindex now holds {} documents in datasource `{datasource}`\n",
        docs.len()
    );
    let private = docs
        .iter()
        .find(|d| render::access_label(d).starts_with("private") && d.title.is_some());
    let member = private
        .and_then(|d| d.permissions.as_ref())
        .and_then(|p| p.allowed_users.as_ref())
        .and_then(|u| u.first())
        .and_then(|u| u.email.clone());
    let (Some(private), Some(member)) = (private, member) else {
        println!("(no private call to search for)");
        return;
    };
    let outsider = glean
        .users(datasource)
        .into_iter()
        .map(|u| u.email)
        .find(|e| {
            !glean.check_access(
                datasource,
                "call",
                private.id.as_deref().unwrap_or_default(),
                e,
            )
        });
    // The call's account and the last word of its title: a query a colleague might type.
    let title = private.title.clone().unwrap_or_default();
    let last_word = title.split_whitespace().last().unwrap_or_default();
    let query = match &private.container {
        Some(account) => format!("{account} {last_word}"),
        None => title.clone(),
    };
    let request = glean_api::search::SearchRequest {
        query: query.clone(),
        page_size: Some(3),
        request_options: Some(glean_api::search::SearchRequestOptions {
            datasource_filter: Some(datasource.to_string()),
            facet_filters: Vec::new(),
        }),
    };
    let answer = glean.search(&request, &member);
    println!(
        "search \"{query}\" as {member}: {} result(s), as search shows them (at most three):\n",
        answer.total_count
    );
    for (i, hit) in answer.results.iter().enumerate() {
        if let Some(d) = docs
            .iter()
            .find(|d| d.id.as_deref() == Some(hit.document.id.as_str()))
        {
            println!("{}", render::result(i + 1, d));
        }
    }
    if let Some(outsider) = outsider {
        let theirs = glean.search(&request, &outsider);
        println!(
            "the same search as {outsider}: {} result(s): private calls they were not on stay hidden\n",
            theirs.total_count
        );
    }
}

/// One crawl, with the 429s it met.
pub(crate) fn crawl(
    prepared: &mut setup::Prepared,
    mode: CrawlMode,
) -> anyhow::Result<(CrawlReport, u64)> {
    let throttled = || {
        prepared
            .connector
            .egress()
            .counters()
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = throttled();
    let report = Crawler::new(
        &prepared.connector,
        &*prepared.index,
        &mut *prepared.store,
        prepared.options.clone(),
    )
    .with_hooks(tenant_instance::progress::hooks())
    .run(mode)?;
    Ok((report, throttled() - before))
}

/// A token for the demo's admin API, from the process's random hasher keys.
pub fn demo_token() -> String {
    let mut token = String::new();
    use std::hash::{BuildHasher, Hasher};
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        token.push_str(&format!("{:016x}", h.finish()));
    }
    token
}
