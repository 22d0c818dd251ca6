//! A call whose `/call-details` answer is as large as the host lets through (just under the
//! default 16 MiB response cap; Clari's own gateway stops near 6 MB) is fetched by the
//! component within the default per-call memory limit, and gives the same item as the native
//! build. The Clari Copilot component uses the SDK's per-call allocator, which never reuses
//! freed memory: this is the bound on what that costs. Measured by hand with lower limits:
//! such a call needs between 192 and 240 MiB with that allocator, between 128 and 192 MiB
//! with the standard one (the default limit is 256 MiB; Clari's gateway answers 502 above
//! about 6 MB).

use crate::common;

use common::parity::Pair;
use serde_json::Value;

/// Just under the harness's default response cap (16 MiB).
const TARGET_BYTES: usize = 16 * 1024 * 1024 - 64 * 1024;

/// A recording whose one call's `/call-details` answer is inflated to just under the
/// response cap; returns its directory, path and the call's id.
fn recording_at_the_cap() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let pair = Pair::record(7, 4, 1, None).unwrap();
    let id = pair.ids[0].clone();
    let tape_path = pair.tape.clone();
    let dir = pair.into_dir();

    // Inflate the recorded answer's transcript to the cap.
    let text = std::fs::read_to_string(&tape_path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"/call-details?id="))
        .expect("the recording holds the call's details");
    let mut exchange: Value = serde_json::from_str(&lines[at]).unwrap();
    let mut body: Value = serde_json::from_str(exchange["body"].as_str().unwrap()).unwrap();
    let turns = body["call"]["transcript"].as_array().unwrap().clone();
    assert!(!turns.is_empty());
    let one_round = serde_json::to_string(&turns).unwrap().len();
    let rounds = TARGET_BYTES / one_round;
    let mut big = Vec::with_capacity(turns.len() * rounds);
    for r in 0..rounds {
        for t in &turns {
            let mut t = t.clone();
            // Later rounds later in the call, so the offsets stay in order.
            for key in ["start", "end"] {
                if let Some(x) = t[key].as_f64() {
                    t[key] = serde_json::json!(x + (r as f64) * 3600.0);
                }
            }
            big.push(t);
        }
    }
    // Trim to just under the target (the other fields and longer offsets add to the size).
    let body = loop {
        body["call"]["transcript"] = Value::Array(big.clone());
        let text = serde_json::to_string(&body).unwrap();
        if text.len() <= TARGET_BYTES {
            break text;
        }
        let keep = big.len() * TARGET_BYTES / text.len() - 1;
        big.truncate(keep);
    };
    assert!(
        body.len() > 15 * 1024 * 1024 && body.len() < 16 * 1024 * 1024,
        "{} bytes",
        body.len()
    );
    exchange["body"] = Value::String(body);
    lines[at] = serde_json::to_string(&exchange).unwrap();
    std::fs::write(&tape_path, lines.join("\n") + "\n").unwrap();

    (dir, tape_path, id)
}

#[test]
fn a_call_at_the_response_cap_fits_the_default_memory_limit() {
    let (dir, tape_path, id) = recording_at_the_cap();
    let pair = Pair::replay(dir, tape_path, vec![id.clone()], None).unwrap();
    let (item, _) = pair
        .wasm_call(&id)
        .expect("the component fetches a call at the response cap within the memory limit");
    assert!(
        item.body.len() > 1024 * 1024,
        "{} bytes of body",
        item.body.len()
    );
    pair.compare(&id).unwrap();
}

/// Over a lower limit the same call fails as out of memory: reported for that call, naming
/// the limit, not a crash of the host or a hang.
#[test]
fn over_a_lower_memory_limit_the_call_fails_as_out_of_memory() {
    let (dir, tape_path, id) = recording_at_the_cap();
    let pair = Pair::replay_limited(dir, tape_path, vec![id.clone()], None, Some(64)).unwrap();
    let e = pair.wasm_call(&id).unwrap_err();
    match e.downcast_ref::<tenant_instance::runtime::CallError>() {
        Some(tenant_instance::runtime::CallError::Memory { limit, .. }) => {
            assert_eq!(*limit, 64 * 1024 * 1024)
        }
        other => panic!("expected an out-of-memory error, got {other:?}: {e:#}"),
    }
}
