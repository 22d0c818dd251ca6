//! Hostile components: a trap in each export and an oversized output each end that call with a
//! clear error (or a bounded answer), and the host goes on serving.

use std::collections::BTreeMap;
use std::sync::Arc;

use tenant_instance::egress::{Egress, EgressLimits, Redactor};
use tenant_instance::runtime::types::{AccessFacts, CrawlMode, Visibility};
use tenant_instance::runtime::{CallError, GuestClock, SandboxLimits, WasmSource};

fn probe(settings: &[(&str, &str)], limits: SandboxLimits) -> WasmSource {
    let rt = tenant_instance::cached_runtime().unwrap();
    let compiled = rt
        .load_file(&tenant_instance::probe_component().unwrap())
        .unwrap();
    let settings: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    WasmSource::new(
        compiled,
        Arc::new(Egress::new(
            Vec::new(),
            EgressLimits::default(),
            Redactor::new(),
        )),
        settings,
        limits,
        GuestClock::System,
        "probe",
    )
}

fn trapped<T: std::fmt::Debug>(r: Result<T, CallError>, export: &str) {
    match r {
        Err(CallError::Trap { export: e, message }) => {
            assert_eq!(e, export);
            assert!(
                message.contains(&format!("probe trap in {export}")),
                "{message}"
            );
        }
        other => panic!("{export}: expected a trap, got {other:?}"),
    }
}

#[test]
fn a_trap_in_any_export_is_a_clear_error_and_the_host_goes_on() {
    let facts = AccessFacts {
        visibility: Visibility::Public,
        members: None,
    };
    let d = SandboxLimits::default;
    trapped(
        probe(&[("trap_in", "describe")], d()).describe(),
        "describe",
    );
    trapped(
        probe(&[("trap_in", "list-changes")], d()).list_changes(CrawlMode::Full, None),
        "list-changes",
    );
    trapped(
        probe(&[("trap_in", "fetch-item")], d()).fetch_item("x", Visibility::Public),
        "fetch-item",
    );
    trapped(
        probe(&[("trap_in", "map-permissions")], d()).map_permissions(&facts),
        "map-permissions",
    );
    trapped(
        probe(&[("trap_in", "list-users")], d()).list_users(None),
        "list-users",
    );
    // The same component, untrapped, still works.
    let fine = probe(&[], d());
    assert_eq!(
        fine.list_changes(CrawlMode::Full, None)
            .unwrap()
            .changes
            .len(),
        1
    );
    assert!(fine.list_users(None).unwrap().users.is_empty());
}

#[test]
fn an_oversized_output_is_bounded_by_the_memory_limit() {
    let limits = SandboxLimits {
        memory_bytes: 64 * 1024 * 1024,
        ..SandboxLimits::default()
    };
    // A million changes with 64-byte ids needs far more than 64 MiB of guest memory.
    let e = probe(&[("huge_output", "1000000")], limits.clone())
        .list_changes(CrawlMode::Full, None)
        .unwrap_err();
    assert!(matches!(e, CallError::Memory { .. }), "{e:?}");
    // Within the limit, a large page comes through whole.
    let page = probe(&[("huge_output", "20000")], limits)
        .list_changes(CrawlMode::Full, None)
        .unwrap();
    assert_eq!(page.changes.len(), 20_000);
}
