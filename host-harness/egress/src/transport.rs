//! The last step of egress: one HTTP exchange on the network, with the time and size caps,
//! redirects returned (never followed), no proxy, and the connect-time private-network guard
//! ([`super::resolve`]) on every address a host name resolves to.

use std::io::Read;

use super::resolve::{GuardedResolver, private_network_denial};
use super::{EgressError, EgressLimits, InboundResponse, Method, Redactor};

/// Sends requests that already passed policy.
pub struct Transport {
    agent: ureq::Agent,
    limits: EgressLimits,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// `private_hosts`: hosts whose upstream allows private-network addresses.
    pub fn new(limits: EgressLimits, private_hosts: impl IntoIterator<Item = String>) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(limits.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .proxy(None)
            .user_agent("connector-host-harness/0.1")
            .build();
        Transport {
            agent: super::resolve::agent(config, GuardedResolver::new(private_hosts)),
            limits,
        }
    }

    /// One exchange. `credentials` are added here, after every check, and are not kept.
    pub fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(String, String)],
        credentials: &[(String, &str)],
        body: Option<&[u8]>,
        redactor: &Redactor,
    ) -> Result<InboundResponse, EgressError> {
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url.as_str());
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        for (name, secret) in credentials {
            builder = builder.header(name.as_str(), *secret);
        }
        let request = builder
            .body(body.unwrap_or_default().to_vec())
            .map_err(|e| {
                EgressError::Denied(redactor.redact(&format!("malformed request: {e}")))
            })?;
        let response = self
            .agent
            .run(request)
            .map_err(|e| map_error(e, redactor))?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str() != "set-cookie")
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let cap = self.limits.max_response_bytes;
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| map_io(e, redactor))?;
        if body.len() as u64 > cap {
            return Err(EgressError::TooLarge(cap));
        }
        Ok(InboundResponse {
            status,
            headers,
            body,
        })
    }
}

fn map_error(e: ureq::Error, redactor: &Redactor) -> EgressError {
    if let Some(denied) = private_network_denial(&e) {
        return EgressError::Denied(redactor.redact(&denied.to_string()));
    }
    let msg = redactor.redact(&e.to_string());
    match e {
        ureq::Error::Timeout(_) => EgressError::Timeout(msg),
        ureq::Error::BodyExceedsLimit(n) => EgressError::TooLarge(n),
        ureq::Error::Io(io) => map_io(io, redactor),
        _ => EgressError::Transport(msg),
    }
}

fn map_io(e: std::io::Error, redactor: &Redactor) -> EgressError {
    let msg = redactor.redact(&e.to_string());
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => EgressError::Timeout(msg),
        _ => EgressError::Transport(msg),
    }
}
