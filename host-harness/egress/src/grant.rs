//! Which upstreams a connector gets: what it declared in `describe`, matched against what the
//! operator configured. One pure function, [`grant`], decides; it needs no runtime and no
//! network (Zed's capability granter is the model). The private-network rule on a configured
//! base URL lives here too ([`check_private_network`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{ArrivalLimiter, BaseUrl, Secret, UpstreamRoute};

/// An upstream as the connector declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub default_base_url: String,
    pub auth_headers: Vec<String>,
}

/// An upstream as the operator configured it.
#[derive(Debug, Clone)]
pub struct Configured {
    pub base: BaseUrl,
    pub rate_per_second: f64,
    pub allow_private_network: bool,
    pub credentials: Vec<(String, Secret)>,
    /// Secrets scrubbed but never sent as they are (see [`UpstreamRoute::scrub_only`]).
    pub scrub_only: Vec<Secret>,
}

/// The routes granted, and configured upstreams the connector does not use.
#[derive(Debug)]
pub struct Grant {
    pub routes: Vec<UpstreamRoute>,
    pub unused: Vec<String>,
}

/// Refuses a base URL on a private network unless the operator allowed it.
pub fn check_private_network(
    name: &str,
    base: &BaseUrl,
    raw: &str,
    allowed: bool,
) -> Result<(), String> {
    if crate::policy::is_private_host(&base.origin.host) && !allowed {
        return Err(format!(
            "[upstreams.{name}] base_url `{raw}` is on a private network (localhost, loopback, private, link-local or metadata address); \
             if that is intended, for example a local mock, set allow_private_network = true under [upstreams.{name}]"
        ));
    }
    Ok(())
}

/// Matches `declared` against `configured`: every declared upstream must be configured, with
/// exactly the credential headers it declares. `limiter` makes each route's rate limiter.
pub fn grant(
    declared: &[Declared],
    configured: &BTreeMap<String, Configured>,
    limiter: impl Fn(&str, f64) -> Arc<ArrivalLimiter>,
) -> Result<Grant, String> {
    let mut routes = Vec::new();
    for d in declared {
        let Some(c) = configured.get(&d.name) else {
            return Err(format!(
                "the connector needs upstream `{name}` (normally {url}) but the configuration does not allow it; \
                 add [upstreams.{name}] with base_url = \"{url}\"",
                name = crate::quote::quote(&d.name),
                url = crate::quote::quote(&d.default_base_url)
            ));
        };
        for header in &d.auth_headers {
            if !c
                .credentials
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case(header))
            {
                let name = crate::quote::quote(&d.name);
                let basic = if header.eq_ignore_ascii_case("authorization") {
                    format!(
                        " (or, for HTTP Basic, `username` and `password` under [upstreams.{name}.basic])"
                    )
                } else {
                    String::new()
                };
                return Err(format!(
                    "upstream `{name}` needs the credential header `{header}`; add `{header} = {{ env = \"VARIABLE\" }}` \
                     under [upstreams.{name}.credentials]{basic}",
                    header = crate::quote::quote(header)
                ));
            }
        }
        for (header, _) in &c.credentials {
            if !d
                .auth_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(header))
            {
                return Err(format!(
                    "[upstreams.{name}] sets the credential header `{header}` (under `credentials` or `basic`), which the \
                     connector does not declare as a credential header (it declares: {list}); remove it",
                    name = crate::quote::quote(&d.name),
                    list = crate::quote::quote(&d.auth_headers.join(", "))
                ));
            }
        }
        routes.push(UpstreamRoute {
            name: d.name.clone(),
            base: c.base.clone(),
            credentials: c.credentials.clone(),
            scrub_only: c.scrub_only.clone(),
            auth_headers: d.auth_headers.clone(),
            limiter: limiter(&d.name, c.rate_per_second),
            allow_private_network: c.allow_private_network,
        });
    }
    let unused = configured
        .keys()
        .filter(|k| !declared.iter().any(|d| &d.name == *k))
        .cloned()
        .collect();
    Ok(Grant { routes, unused })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<Declared> {
        vec![Declared {
            name: "clari".into(),
            default_base_url: "https://rest-api.copilot.clari.com".into(),
            auth_headers: vec!["X-Api-Key".into(), "X-Api-Password".into()],
        }]
    }

    fn configured(headers: &[&str]) -> BTreeMap<String, Configured> {
        let mut m = BTreeMap::new();
        m.insert(
            "clari".to_string(),
            Configured {
                base: BaseUrl::parse("https://rest-api.copilot.clari.com").unwrap(),
                rate_per_second: 10.0,
                allow_private_network: false,
                credentials: headers
                    .iter()
                    .map(|h| (h.to_string(), Secret::new("value-1234")))
                    .collect(),
                scrub_only: Vec::new(),
            },
        );
        m
    }

    #[test]
    fn grants_exactly_what_is_declared_and_configured() {
        let mut c = configured(&["x-api-key", "X-Api-Password"]);
        c.insert("extra".into(), c["clari"].clone());
        let g = grant(&declared(), &c, |_, r| crate::upstream_limiter(r)).unwrap();
        assert_eq!(g.routes.len(), 1);
        assert_eq!(g.routes[0].limiter.max(), 10);
        assert_eq!(g.unused, ["extra"]);
    }

    #[test]
    fn refuses_missing_upstreams_and_wrong_credentials() {
        let e = grant(&declared(), &BTreeMap::new(), |_, r| {
            crate::upstream_limiter(r)
        })
        .unwrap_err();
        assert!(e.contains("add [upstreams.clari]"), "{e}");
        let e = grant(&declared(), &configured(&["X-Api-Key"]), |_, r| {
            crate::upstream_limiter(r)
        })
        .unwrap_err();
        assert!(e.contains("`X-Api-Password`"), "{e}");
        let e = grant(
            &declared(),
            &configured(&["X-Api-Key", "X-Api-Password", "Authorization"]),
            |_, r| crate::upstream_limiter(r),
        )
        .unwrap_err();
        assert!(
            e.contains("`Authorization`") && e.contains("remove it"),
            "{e}"
        );
    }

    #[test]
    fn the_secrets_a_credential_is_composed_from_reach_the_route() {
        let mut c = configured(&["X-Api-Key", "X-Api-Password"]);
        let parts = vec![Secret::new("user-part"), Secret::new("pass-part")];
        c.get_mut("clari").unwrap().scrub_only = parts.clone();
        let g = grant(&declared(), &c, |_, r| crate::upstream_limiter(r)).unwrap();
        assert_eq!(g.routes[0].scrub_only, parts);
    }

    #[test]
    fn a_missing_authorization_header_suggests_basic() {
        let d = vec![Declared {
            name: "gong".into(),
            default_base_url: "https://api.gong.io".into(),
            auth_headers: vec!["Authorization".into()],
        }];
        let e = grant(&d, &configured(&[]), |_, r| crate::upstream_limiter(r)).unwrap_err();
        assert!(e.contains("add [upstreams.gong]"), "{e}");
        let mut c = configured(&[]);
        let clari = c.remove("clari").unwrap();
        c.insert("gong".into(), clari);
        let e = grant(&d, &c, |_, r| crate::upstream_limiter(r)).unwrap_err();
        assert!(e.contains("[upstreams.gong.basic]"), "{e}");
    }

    #[test]
    fn private_networks_need_permission() {
        let b = BaseUrl::parse("http://169.254.169.254").unwrap();
        assert!(check_private_network("x", &b, "http://169.254.169.254", false).is_err());
        assert!(check_private_network("x", &b, "http://169.254.169.254", true).is_ok());
        let b = BaseUrl::parse("https://api.example.com").unwrap();
        assert!(check_private_network("x", &b, "https://api.example.com", false).is_ok());
    }
}
