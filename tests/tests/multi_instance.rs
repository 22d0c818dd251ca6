//! Many connector instances in one host: the same component under different credentials,
//! upstreams and limits, run concurrently; each reaches only its own upstream with its own
//! secret, and one instance's runaway loop or memory bomb leaves the others' results intact.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use e2e_tests::RecordingServer;
use tenant_instance::egress::{BaseUrl, Egress, EgressLimits, Redactor, Secret, UpstreamRoute};
use tenant_instance::runtime::{CallError, GuestClock, Runtime, SandboxLimits, WasmSource};

fn instance(
    rt: &Runtime,
    base: &str,
    secret: &str,
    action: &str,
    limits: SandboxLimits,
) -> WasmSource {
    let compiled = rt
        .load_file(&tenant_instance::probe_component().unwrap())
        .unwrap();
    let egress = Egress::new(
        vec![UpstreamRoute {
            name: "target".into(),
            base: BaseUrl::parse(base).unwrap(),
            credentials: vec![("X-Api-Key".into(), Secret::new(secret))],
            scrub_only: Vec::new(),
            auth_headers: vec!["X-Api-Key".into()],
            limiter: tenant_instance::egress::upstream_limiter(1000.0),
            allow_private_network: true,
        }],
        EgressLimits::default(),
        Redactor::new(),
    );
    let settings: BTreeMap<String, String> = [("action", action), ("path", "/whoami")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    WasmSource::new(
        compiled,
        Arc::new(egress),
        settings,
        limits,
        GuestClock::System,
        "probe",
    )
}

#[test]
fn instances_are_isolated_from_each_other() {
    let rt = tenant_instance::cached_runtime().unwrap();
    let servers: Vec<RecordingServer> = (0..4)
        .map(|_| RecordingServer::start(200, &[], "{}").unwrap())
        .collect();
    let tight = SandboxLimits {
        memory_bytes: 32 * 1024 * 1024,
        call_deadline: Duration::from_millis(700),
    };
    std::thread::scope(|s| {
        let mut good = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let p = instance(
                &rt,
                &server.base_url(),
                &format!("secret-of-instance-{i}"),
                "request",
                SandboxLimits::default(),
            );
            good.push(s.spawn(move || (0..5).map(|_| p.check()).collect::<Vec<_>>()));
        }
        let looping = instance(
            &rt,
            "http://127.0.0.1:9",
            "loop-secret",
            "loop",
            tight.clone(),
        );
        let bomb = instance(&rt, "http://127.0.0.1:9", "bomb-secret", "alloc", tight);
        let bad1 = s.spawn(move || looping.check());
        let bad2 = s.spawn(move || bomb.check());
        assert!(matches!(
            bad1.join().unwrap(),
            Err(CallError::Deadline { .. })
        ));
        assert!(matches!(
            bad2.join().unwrap(),
            Err(CallError::Memory { .. })
        ));
        for g in good {
            for r in g.join().unwrap() {
                assert!(r.is_ok(), "{r:?}");
            }
        }
    });
    for (i, server) in servers.iter().enumerate() {
        let reqs = server.requests();
        assert_eq!(reqs.len(), 5, "instance {i} reached only its own upstream");
        for r in reqs {
            assert_eq!(
                r.header("x-api-key"),
                Some(format!("secret-of-instance-{i}").as_str())
            );
        }
    }
}
