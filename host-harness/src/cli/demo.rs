//! `harness demo`: a demo crawl on embedded mocks, or, with `--tenants N`, the platform
//! service hosting N tenants on embedded mocks.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use mock_clari::{MockClari, MockClariConfig};
use mock_glean::{MockGlean, MockGleanConfig};

use harness_service::serve::{ServeOptions, Service};

#[derive(clap::Args)]
pub struct Args {
    /// Calls in the generated workspace.
    #[arg(long, default_value_t = 300)]
    calls: usize,
    /// Seed of the generated workspace.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Run the platform service instead, hosting this many tenants (each with its own mock
    /// Clari workspace), with the admin API on --admin, until Ctrl-C.
    #[arg(long, default_value_t = 0)]
    tenants: usize,
    /// Where the demo service's admin API (and web console) listens.
    #[arg(long, default_value = "127.0.0.1:8090")]
    admin: SocketAddr,
    /// After the demo crawl, keep the mocks running and serve the web console on --admin,
    /// with the demo's instance as a tenant, until Ctrl-C.
    #[arg(long)]
    console: bool,
    /// Which source the demo crawls: `clari` (Clari Copilot) or `gong`.
    #[arg(long, default_value = "clari", value_parser = ["clari", "gong"])]
    source: String,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if a.source == "gong" {
        if a.tenants > 0 || a.console {
            anyhow::bail!(
                "--source gong runs the demo crawl only; --tenants and --console serve Clari Copilot tenants (run `harness serve` with Gong tenant files for the service)"
            );
        }
        return harness_sims::demo_gong::run(&harness_sims::demo::DemoOptions {
            calls: a.calls,
            seed: a.seed,
            ..harness_sims::demo::DemoOptions::default()
        });
    }
    if a.tenants > 0 {
        return serve_demo(&a);
    }
    harness_sims::demo::run(&harness_sims::demo::DemoOptions {
        calls: a.calls,
        seed: a.seed,
        console: a.console.then_some(a.admin),
        ..harness_sims::demo::DemoOptions::default()
    })
}

fn serve_demo(a: &Args) -> anyhow::Result<()> {
    let defaults = MockClariConfig::default();
    let token = harness_sims::demo::demo_token();
    // SAFETY: set before any thread of this process is started (the mocks and the service
    // start below); the tenants' files name these variables for their secrets.
    // Each tenant's secrets in variables of its own (a tenant may not use another's).
    unsafe {
        std::env::set_var("DEMO_GLEAN_TOKEN", MockGleanConfig::default().token);
        for i in 0..a.tenants {
            std::env::set_var(format!("DEMO_CLARI_KEY_{i}"), &defaults.api_key);
            std::env::set_var(format!("DEMO_CLARI_PASSWORD_{i}"), &defaults.api_password);
        }
    }
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let glean = MockGlean::spawn(loopback, MockGleanConfig::default())
        .context("starting the mock Glean server")?;
    let dir = std::env::temp_dir().join(format!("harness-demo-tenants-{}", std::process::id()));
    let tenants = dir.join("tenants");
    std::fs::create_dir_all(&tenants)?;
    let mut mocks = Vec::new();
    for i in 0..a.tenants {
        let clari = MockClari::spawn(
            loopback,
            MockClariConfig {
                seed: a.seed + i as u64,
                calls: a.calls.min(100),
                anchor: chrono::Utc::now(),
                ..MockClariConfig::default()
            },
        )?;
        let name = format!("tenant{i}");
        std::fs::write(
            tenants.join(format!("{name}.toml")),
            format!(
                "[connector]\nname = \"{name}\"\nstate_dir = \"{state}\"\n\
                 [connector.settings]\nhistory_months = 12\n\
                 [upstreams.clari]\nbase_url = \"{clari}\"\nrate_per_second = 10\nallow_private_network = true\n\
                 [upstreams.clari.credentials]\nX-Api-Key = {{ env = \"DEMO_CLARI_KEY_{i}\" }}\nX-Api-Password = {{ env = \"DEMO_CLARI_PASSWORD_{i}\" }}\n\
                 [glean]\nbase_url = \"{glean}\"\ntoken_env = \"DEMO_GLEAN_TOKEN\"\ndatasource = \"{name}\"\n\
                 [schedule]\nincremental_minutes = 1\n",
                state = dir.join("state").display(),
                clari = clari.base_url(),
                glean = glean.base_url(),
            ),
        )?;
        mocks.push(clari);
    }
    let stop = tenant_instance::schedule::stop_on_signals()?;
    let service = Service::new(
        tenant_instance::cached_runtime()?,
        ServeOptions {
            backoff_base: Duration::from_secs(10),
            start_stagger: Duration::from_secs(5),
            ..ServeOptions::new(tenants.clone())
        },
        stop.clone(),
    );
    let glean_url = glean.base_url();
    let shown = token.clone();
    harness_service::serve::api::run_with_admin(&service, a.admin, token, |addr| {
        println!(
            "harness serve, demo: {} tenants in {}",
            a.tenants,
            tenants.display()
        );
        println!("mock Glean indexing API {glean_url}");
        println!("admin API http://{addr}  (token: {shown})");
        println!("web console http://{addr}/console  (sign in with the token)");
        println!("  curl -H 'Authorization: Bearer {shown}' http://{addr}/tenants");
        println!("  curl -H 'Authorization: Bearer {shown}' http://{addr}/metrics");
        println!("Ctrl-C to stop");
    })?;
    drop(mocks);
    std::fs::remove_dir_all(&dir).ok();
    println!("stopped");
    Ok(())
}
