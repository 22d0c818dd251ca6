//! Fetch and map of one call inside the component against the same connector code compiled
//! natively, on the same recorded answers (see `common::parity`): the component through a
//! fresh pooled instance per call, as crawls run it; the native side through the SDK's
//! `Transport` trait. Before timing, every call's item and permissions are checked to be the
//! same on both sides.
//!
//! Run: `cargo bench -p e2e-tests --bench native_vs_wasm` (release build). Prints the median
//! time per call on each side and their ratio, with the spread over the rounds, and what the
//! two share (the egress replay) and the sandbox's fixed cost. `NATIVE_VS_WASM_COMPONENT=
//! path.wasm` measures another build of the connector (e.g. another guest profile).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::parity::{EgressTransport, Pair};
use connector_sdk::http::{Request, Transport};

/// Calls in the sample (one listing page; each a different recorded answer).
const SAMPLE: usize = 25;
/// Rounds; each times every call of the sample once on each side.
const ROUNDS: usize = 25;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn micros<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<f64, E> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64() * 1e6)
}

/// What both sides share, median per call: the recorded answer through the egress (policy,
/// replay, scrub).
fn shared_cost(pair: &Pair) -> anyhow::Result<f64> {
    let transport = EgressTransport(pair.wasm.egress());
    let mut shared = Vec::new();
    for id in &pair.ids {
        let req = Request::get(clari_copilot_connector::client::UPSTREAM, "/call-details")
            .query("id", id);
        for _ in 0..5 {
            shared.push(micros(|| transport.send(&req)).map_err(|e| anyhow::anyhow!("{e:?}"))?);
        }
    }
    Ok(median(&mut shared))
}

/// The sandbox's fixed cost for the component, median: a fresh instance answering `describe`
/// (on a source of its own: the pair's knows its description and would answer without one).
fn fixed_cost() -> anyhow::Result<f64> {
    let bytes = match std::env::var_os("NATIVE_VS_WASM_COMPONENT") {
        Some(path) => std::fs::read(path)?,
        None => tenant_instance::clari_copilot_wasm()?.to_vec(),
    };
    let bare = tenant_instance::runtime::WasmSource::offline(
        tenant_instance::cached_runtime()?.load(&bytes)?,
        Default::default(),
        tenant_instance::runtime::GuestClock::Fixed(0),
        "fixed-cost",
    );
    let mut fixed = Vec::new();
    for _ in 0..500 {
        fixed.push(micros(|| bare.describe())?);
    }
    Ok(median(&mut fixed))
}

fn main() -> anyhow::Result<()> {
    let component = std::env::var_os("NATIVE_VS_WASM_COMPONENT").map(Into::into);
    let pair = Pair::record(7, SAMPLE * 2, SAMPLE, component)?;
    let mut body_bytes = 0;
    for id in &pair.ids {
        body_bytes += pair.compare(id)?;
    }
    println!(
        "native vs wasm: {} calls (mean body {} bytes), {ROUNDS} rounds, fresh pooled instance per wasm call",
        pair.ids.len(),
        body_bytes / pair.ids.len()
    );

    let shared = shared_cost(&pair)?;
    let fixed = fixed_cost()?;

    let (mut natives, mut wasms, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut n_times = Vec::with_capacity(pair.ids.len());
        let mut w_times = Vec::with_capacity(pair.ids.len());
        for id in &pair.ids {
            let native = || micros(|| pair.native_call(id)).map_err(|e| anyhow::anyhow!("{e:?}"));
            let wasm = || micros(|| pair.wasm_call(id));
            // Alternate which side goes first so neither always runs on a warm cache.
            if round % 2 == 0 {
                n_times.push(native()?);
                w_times.push(wasm()?);
            } else {
                w_times.push(wasm()?);
                n_times.push(native()?);
            }
        }
        let (n, w) = (median(&mut n_times), median(&mut w_times));
        natives.push(n);
        wasms.push(w);
        ratios.push(w / n);
    }
    let spread = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let (n_lo, n_mid, n_hi) = spread(&mut natives);
    let (w_lo, w_mid, w_hi) = spread(&mut wasms);
    let (r_lo, r_mid, r_hi) = spread(&mut ratios);
    println!("  native: median per call {n_mid:.0} µs (rounds' medians {n_lo:.0}..{n_hi:.0})");
    println!("  wasm:   median per call {w_mid:.0} µs (rounds' medians {w_lo:.0}..{w_hi:.0})");
    println!("  of which the shared egress replay: {shared:.0} µs per call");
    println!(
        "  the connector's own work, without it: native {:.0} µs, wasm {:.0} µs, ratio {:.2}",
        n_mid - shared,
        w_mid - shared,
        (w_mid - shared) / (n_mid - shared)
    );
    println!("  a fresh instance of this component answering `describe`: {fixed:.0} µs");
    println!(
        "  the sandbox's excess per call: {:.0} µs (wasm minus native, medians)",
        w_mid - n_mid
    );
    println!(
        "  ratio wasm ÷ native: median {r_mid:.2} (rounds {r_lo:.2}..{r_hi:.2}); goal at most 1.3"
    );
    Ok(())
}
