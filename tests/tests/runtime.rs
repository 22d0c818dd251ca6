//! The host runtime with real components: fresh instances, egress refusals, credential
//! injection, deadlines, memory limits, traps, nothing ambient, and the contract-version check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::RecordingServer;
use tenant_instance::egress::{BaseUrl, Egress, EgressLimits, Redactor, Secret, UpstreamRoute};
use tenant_instance::runtime::{
    CallError, GuestClock, LoadError, Runtime, SandboxLimits, WasmSource,
};

const SECRET: &str = "sentinel-secret-7f3a9c";

fn probe(
    runtime: &Runtime,
    base_url: &str,
    settings: &[(&str, &str)],
    limits: SandboxLimits,
) -> WasmSource {
    let compiled = runtime
        .load_file(&tenant_instance::probe_component().expect("probe component"))
        .expect("probe loads");
    let egress = Egress::new(
        vec![UpstreamRoute {
            name: "target".into(),
            base: BaseUrl::parse(base_url).unwrap(),
            credentials: vec![("X-Api-Key".into(), Secret::new(SECRET))],
            scrub_only: Vec::new(),
            auth_headers: vec!["X-Api-Key".into()],
            limiter: tenant_instance::egress::upstream_limiter(1000.0),
            allow_private_network: true,
        }],
        EgressLimits::default(),
        Redactor::new(),
    );
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    WasmSource::new(
        compiled,
        Arc::new(egress),
        settings,
        limits,
        GuestClock::Fixed(1_700_000_000),
        "probe",
    )
}

fn message(e: &CallError) -> String {
    e.to_string()
}

#[test]
fn every_call_gets_a_fresh_instance() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        "http://127.0.0.1:9",
        &[("action", "count")],
        SandboxLimits::default(),
    );
    for _ in 0..3 {
        let e = p.check().unwrap_err();
        assert!(message(&e).contains("count=1"), "{e}");
    }
}

#[test]
fn credentials_are_injected_by_the_host() {
    let server = RecordingServer::start(200, &[], "{}").unwrap();
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        &server.base_url(),
        &[("action", "request"), ("path", "/calls?limit=1")],
        SandboxLimits::default(),
    );
    p.check().expect("the request goes through");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].request_line, "GET /calls?limit=1 HTTP/1.1");
    assert_eq!(reqs[0].header("x-api-key"), Some(SECRET));
}

#[test]
fn an_undeclared_upstream_is_refused_with_the_fix() {
    let server = RecordingServer::start(200, &[], "{}").unwrap();
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        &server.base_url(),
        &[("action", "request"), ("upstream", "elsewhere")],
        SandboxLimits::default(),
    );
    let e = message(&p.check().unwrap_err());
    assert!(e.contains("upstream `elsewhere` is not allowed"), "{e}");
    assert!(e.contains("[upstreams.elsewhere]"), "{e}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_guest_may_not_set_auth_or_routing_headers() {
    let server = RecordingServer::start(200, &[], "{}").unwrap();
    let rt = tenant_instance::cached_runtime().unwrap();
    for header in ["X-Api-Key", "x-api-key", "Authorization", "Host", "Cookie"] {
        let p = probe(
            &rt,
            &server.base_url(),
            &[
                ("action", "request"),
                ("header_name", header),
                ("header_value", "forged"),
            ],
            SandboxLimits::default(),
        );
        let e = message(&p.check().unwrap_err());
        assert!(e.contains("may not set"), "{header}: {e}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn paths_that_would_leave_the_origin_are_refused() {
    let server = RecordingServer::start(200, &[], "{}").unwrap();
    let rt = tenant_instance::cached_runtime().unwrap();
    for path in ["@127.0.0.2/x", "//127.0.0.2/x", "http://127.0.0.2/x"] {
        let p = probe(
            &rt,
            &server.base_url(),
            &[("action", "request"), ("path", path)],
            SandboxLimits::default(),
        );
        let e = message(&p.check().unwrap_err());
        assert!(e.contains("refused"), "{path}: {e}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn redirects_are_returned_not_followed() {
    let elsewhere = RecordingServer::start(200, &[], "{}").unwrap();
    let location = format!("{}/stolen", elsewhere.base_url());
    let server = RecordingServer::start(302, &[("location", &location)], "").unwrap();
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        &server.base_url(),
        &[("action", "request")],
        SandboxLimits::default(),
    );
    let e = message(&p.check().unwrap_err());
    assert!(e.contains("status 302"), "{e}");
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let limits = SandboxLimits {
        call_deadline: Duration::from_millis(500),
        ..SandboxLimits::default()
    };
    let p = probe(&rt, "http://127.0.0.1:9", &[("action", "loop")], limits);
    let t = Instant::now();
    let e = p.check().unwrap_err();
    assert!(matches!(e, CallError::Deadline { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // The host carries on: the next call works.
    let ok = probe(
        &rt,
        "http://127.0.0.1:9",
        &[("action", "count")],
        SandboxLimits::default(),
    );
    assert!(message(&ok.check().unwrap_err()).contains("count=1"));
}

#[test]
fn a_memory_bomb_is_stopped_at_the_limit() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let limits = SandboxLimits {
        memory_bytes: 32 * 1024 * 1024,
        ..SandboxLimits::default()
    };
    let p = probe(&rt, "http://127.0.0.1:9", &[("action", "alloc")], limits);
    let e = p.check().unwrap_err();
    assert!(matches!(e, CallError::Memory { .. }), "{e:?}");
}

#[test]
fn a_panic_is_a_clear_error() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        "http://127.0.0.1:9",
        &[("action", "panic")],
        SandboxLimits::default(),
    );
    let e = p.check().unwrap_err();
    assert!(matches!(e, CallError::Trap { .. }), "{e:?}");
    assert!(message(&e).contains("probe panic"), "{e}");
}

#[test]
fn nothing_ambient_and_the_clock_is_the_hosts() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let p = probe(
        &rt,
        "http://127.0.0.1:9",
        &[("action", "ambient")],
        SandboxLimits::default(),
    );
    let e = message(&p.check().unwrap_err());
    assert!(e.contains("env=0 file=false now=1700000000"), "{e}");
}

#[test]
fn an_incompatible_contract_version_is_refused_with_the_range() {
    let bytes = std::fs::read(tenant_instance::clari_copilot_component().unwrap()).unwrap();
    let marker = b"connector-contract-version0.2.0";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the SDK stamps the contract version");
    let mut patched = bytes.clone();
    patched[at + marker.len() - 5..at + marker.len()].copy_from_slice(b"0.9.0");
    let rt = tenant_instance::cached_runtime().unwrap();
    let e = rt.load(&patched).unwrap_err();
    assert!(matches!(e, LoadError::Contract(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("0.9.0") && msg.contains("0.1.0 up to (not including) 0.3.0"),
        "{msg}"
    );
    assert!(rt.load(&bytes).is_ok());
}

#[test]
fn randomness_is_the_hosts_and_repeatable_under_a_fixed_clock() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let value = |clock: GuestClock| {
        let compiled = rt
            .load_file(&tenant_instance::probe_component().unwrap())
            .unwrap();
        let p = WasmSource::new(
            compiled,
            Arc::new(Egress::new(
                Vec::new(),
                EgressLimits::default(),
                Redactor::new(),
            )),
            [("action".to_string(), "random".to_string())]
                .into_iter()
                .collect(),
            SandboxLimits::default(),
            clock,
            "probe",
        );
        message(&p.check().unwrap_err())
    };
    let fixed = GuestClock::Fixed(1_700_000_000);
    assert_eq!(
        value(fixed),
        value(fixed),
        "a fixed clock seeds the same randomness"
    );
    assert_ne!(
        value(GuestClock::System),
        value(GuestClock::System),
        "otherwise it is fresh"
    );
}

#[test]
fn threads_loading_one_component_at_once_compile_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::with_disk_cache(Some(dir.path().join("compiled"))).unwrap();
    let bytes = std::fs::read(tenant_instance::probe_component().unwrap()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| rt.load(&bytes).unwrap());
        }
    });
    assert_eq!(rt.compilations(), 1, "compiled more than once");
    // A second runtime (another process, say) finds it on disk.
    let again = Runtime::with_disk_cache(Some(dir.path().join("compiled"))).unwrap();
    again.load(&bytes).unwrap();
    assert_eq!(again.compilations(), 0, "not read from the disk cache");
}
