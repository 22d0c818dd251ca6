//! `harness mock-tape`: a recording (`--record` file) served over HTTP as a stand-in for the
//! source it was recorded from, so a connector with no mock of its own can run in `harness
//! serve` or `harness crawl` against loopback. Requests are matched as a replay matches them
//! (method, path and query, a hash of the body); a repeated request gets the recorded answers in
//! order, then the last one again. A request the recording has no answer for gets 501 and says
//! so: the tape needs recording again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use egress::tape::Player;
use egress::{Method, OutboundRequest};

/// The largest request body the stand-in reads (a connector's POST reads are small).
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(clap::Args)]
pub struct TapeArgs {
    /// The recording: a file that `harness crawl --record` wrote.
    tape: PathBuf,
    /// The upstream to answer for; needed only when the recording holds several.
    #[arg(long)]
    upstream: Option<String>,
    #[arg(long, default_value = "127.0.0.1:8084")]
    addr: SocketAddr,
}

pub fn run_tape(a: TapeArgs) -> anyhow::Result<()> {
    let player = Player::open(&a.tape)?;
    let upstream = pick_upstream(&player.upstreams(), a.upstream.as_deref())?;
    let banner = format!(
        "(upstream `{upstream}` of {}); point the upstream's base_url here, with allow_private_network = true",
        a.tape.display()
    );
    let state = Arc::new((player, upstream));
    super::mocks::serve(
        a.addr,
        |bound| format!("recording served on http://{bound} {banner}"),
        move |listener| async move {
            let app = axum::Router::new().fallback(move |req: Request<Body>| {
                let state = Arc::clone(&state);
                async move { answer(&state.0, &state.1, req).await }
            });
            axum::serve(listener, app)
                .await
                .context("the recording's server stopped")
        },
    )
}

/// The upstream to serve: the one asked for, which the recording must hold, or the only one.
fn pick_upstream(held: &[String], asked: Option<&str>) -> anyhow::Result<String> {
    match asked {
        Some(name) if held.iter().any(|h| h == name) => Ok(name.to_string()),
        Some(name) => anyhow::bail!(
            "the recording holds no answers for upstream `{name}`; it holds: {}",
            held.join(", ")
        ),
        None => match held {
            [one] => Ok(one.clone()),
            [] => anyhow::bail!("the recording holds no exchanges: record a crawl first"),
            many => anyhow::bail!(
                "the recording holds several upstreams ({}): choose one with --upstream",
                many.join(", ")
            ),
        },
    }
}

fn method(m: &axum::http::Method) -> Option<Method> {
    Some(match m.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        _ => return None,
    })
}

async fn answer(player: &Player, upstream: &str, req: Request<Body>) -> Response {
    let Some(m) = method(req.method()) else {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "a recording holds no such method\n",
        )
            .into_response();
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let body: Bytes = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over 4 MiB\n",
            )
                .into_response();
        }
    };
    let outbound = OutboundRequest {
        upstream: upstream.to_string(),
        method: m,
        path_and_query,
        headers: Vec::new(),
        body: (!body.is_empty()).then(|| body.to_vec()),
    };
    match player.answer(&outbound) {
        Ok(resp) => {
            let mut out = Response::new(Body::from(resp.body));
            *out.status_mut() =
                StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (k, v) in resp.headers {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v))
                    && k != axum::http::header::CONTENT_LENGTH
                    && k != axum::http::header::TRANSFER_ENCODING
                {
                    out.headers_mut().append(k, v);
                }
            }
            out
        }
        Err(e) => (StatusCode::NOT_IMPLEMENTED, format!("{e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::pick_upstream;

    #[test]
    fn the_upstream_is_the_only_one_or_the_one_named() {
        let one = vec!["api".to_string()];
        assert_eq!(pick_upstream(&one, None).unwrap(), "api");
        assert_eq!(pick_upstream(&one, Some("api")).unwrap(), "api");
        assert!(
            pick_upstream(&one, Some("other"))
                .unwrap_err()
                .to_string()
                .contains("holds: api")
        );
        let two = vec!["a".to_string(), "b".to_string()];
        assert!(
            pick_upstream(&two, None)
                .unwrap_err()
                .to_string()
                .contains("--upstream")
        );
        assert!(pick_upstream(&[], None).is_err());
    }
}
