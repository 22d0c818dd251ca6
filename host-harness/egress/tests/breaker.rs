//! A source that accepts connections and never answers: after `BREAKER_AFTER` timeouts in a
//! row the upstream is taken as down and later requests fail at once, so one crawl against
//! it is bounded by a few timeouts, not one per request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egress::secrets::Redactor;
use egress::{
    BREAKER_AFTER, BaseUrl, Egress, EgressError, EgressLimits, OutboundRequest, UpstreamRoute,
};

#[test]
fn a_silent_source_trips_the_breaker_after_a_few_timeouts() {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hole.incoming().flatten() {
            held.push(s);
        }
    });
    let route = UpstreamRoute {
        name: "src".into(),
        base: BaseUrl::parse(&format!("http://{addr}")).unwrap(),
        credentials: Vec::new(),
        scrub_only: Vec::new(),
        auth_headers: Vec::new(),
        limiter: Arc::new(egress::ArrivalLimiter::new(
            1000,
            Duration::from_secs(1),
            Arc::new(egress::SystemClock),
        )),
        allow_private_network: true,
    };
    let egress = Egress::new(
        vec![route],
        EgressLimits {
            timeout: Duration::from_millis(300),
            ..EgressLimits::default()
        },
        Redactor::new(),
    );
    let req = OutboundRequest {
        upstream: "src".into(),
        method: egress::Method::Get,
        path_and_query: "/x".into(),
        headers: Vec::new(),
        body: None,
    };
    for _ in 0..BREAKER_AFTER {
        let e = egress.send(&req).unwrap_err();
        assert!(
            matches!(e, EgressError::Timeout(_) | EgressError::Transport(_)),
            "{e}"
        );
    }
    let started = Instant::now();
    for _ in 0..10 {
        let e = egress.send(&req).unwrap_err();
        assert!(e.to_string().contains("stopped answering"), "{e}");
    }
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(egress.request_count(), u64::from(BREAKER_AFTER));
    assert_eq!(
        egress
            .counters()
            .broken
            .load(std::sync::atomic::Ordering::Relaxed),
        10
    );
}
