//! The egress allow-list: which upstreams a connector may reach, as structured origins
//! (scheme, host, port) validated when loaded, and the checks every outbound request passes.

use std::fmt;

use url::Url;

/// A scheme, host and port. Nothing else about a URL decides where a request goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// Why a base URL or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("`{url}` is not a valid base URL: {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error("{0}")]
    Denied(String),
}

/// A base URL an upstream is reached at: an origin and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub origin: Origin,
    /// Path prefix without a trailing slash ("" for none).
    pub prefix: String,
}

impl BaseUrl {
    /// Parses and validates a base URL: http or https, a host, no user info, no query or
    /// fragment.
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let bad = |reason: &str| PolicyError::BadBaseUrl {
            url: raw.to_string(),
            reason: reason.to_string(),
        };
        let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(bad("the scheme must be http or https")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "user info is not allowed in a base URL; configure credentials as secrets",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a base URL has no query or fragment"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("the URL has no host"))?
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("the URL has no port"))?;
        Ok(BaseUrl {
            origin: Origin { scheme, host, port },
            prefix: url.path().trim_end_matches('/').to_string(),
        })
    }

    /// The full URL for a guest's `path-and-query`, after checking that it cannot change the
    /// origin: it must start with a single "/", hold no spaces, control characters, backslashes
    /// or fragment, and the composed URL must parse back to exactly this origin.
    pub fn join(&self, upstream: &str, path_and_query: &str) -> Result<Url, PolicyError> {
        let deny = |why: &str| {
            PolicyError::Denied(format!(
                "request to upstream `{}` refused: the path `{}` {why}; \
                 give a path relative to the upstream, starting with a single \"/\"",
                crate::quote::quote(upstream),
                crate::quote::quote(path_and_query)
            ))
        };
        if !path_and_query.starts_with('/') || path_and_query.starts_with("//") {
            return Err(deny("does not start with a single \"/\""));
        }
        if path_and_query
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '#')
        {
            return Err(deny(
                "contains a space, a control character, a backslash or a fragment",
            ));
        }
        if let Some(why) = path_escape(path_and_query) {
            return Err(deny(why));
        }
        let composed = format!("{}{}{}", self.origin, self.prefix, path_and_query);
        let url = Url::parse(&composed).map_err(|e| deny(&format!("does not form a URL ({e})")))?;
        let same = url.host_str().map(|h| h.to_ascii_lowercase()) == Some(self.origin.host.clone())
            && url.port_or_known_default() == Some(self.origin.port)
            && url.username().is_empty()
            && url.password().is_none();
        if !same {
            return Err(deny("would leave the upstream's origin"));
        }
        // Belt and braces: whatever the parser normalised, the path stays under the base path.
        let under_prefix = self.prefix.is_empty()
            || url.path() == self.prefix
            || url
                .path()
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        if !under_prefix {
            return Err(deny("would leave the upstream's base path"));
        }
        Ok(url)
    }
}

/// Why the path part of `path_and_query` could reach above the upstream's base path, if it
/// could: a `.` or `..` segment, or an encoded `/` or `\`, in any percent-encoding (decoded
/// repeatedly, so `%252e%252e` counts as `..`: some servers decode twice).
fn path_escape(path_and_query: &str) -> Option<&'static str> {
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    for raw in path.split('/') {
        let mut segment = raw.to_string();
        for _ in 0..4 {
            if segment == "." || segment == ".." {
                return Some("holds a `.` or `..` segment (plain or percent-encoded)");
            }
            let decoded: Vec<u8> = percent_decode(segment.as_bytes());
            if decoded.contains(&b'/') || decoded.contains(&b'\\') {
                return Some("holds an encoded slash or backslash");
            }
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            if decoded == segment {
                break;
            }
            segment = decoded;
        }
        if segment == "." || segment == ".." {
            return Some("holds a `.` or `..` segment (plain or percent-encoded)");
        }
    }
    None
}

/// One round of percent-decoding (`%XX` with hex digits; anything else is kept).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Whether `host` (as a base URL carries it) is on a private network: `localhost`, or an IP
/// literal that is loopback, private (RFC 1918, unique-local), link-local (which holds cloud
/// metadata services such as 169.254.169.254), carrier-grade NAT, unspecified, or an
/// IPv4-mapped IPv6 address of one of those. Such upstreams need explicit permission.
pub fn is_private_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(super::resolve::is_private_ip)
}

/// Header names a connector may never set, whatever its upstream: they carry credentials or
/// decide routing.
pub const ALWAYS_FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "content-length",
    "transfer-encoding",
    "connection",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseUrl {
        BaseUrl::parse("https://rest-api.copilot.clari.com").unwrap()
    }

    #[test]
    fn parses_base_urls_strictly() {
        let b = BaseUrl::parse("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(b.origin.to_string(), "http://127.0.0.1:8080");
        assert_eq!(b.prefix, "/prefix");
        assert_eq!(base().origin.port, 443);
        for bad in [
            "ftp://x.com",
            "https://user:pw@x.com",
            "https://x.com/?a=b",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_hosts_are_recognised() {
        for host in [
            "localhost",
            "api.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "[::1]",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private_host(host), "{host}");
        }
        for host in [
            "rest-api.copilot.clari.com",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private_host(host), "{host}");
        }
        // A base URL's host as the URL parser gives it.
        let b = BaseUrl::parse("http://[::ffff:7f00:1]:8080").unwrap();
        assert!(is_private_host(&b.origin.host), "{}", b.origin.host);
    }

    #[test]
    fn paths_stay_under_the_base_path() {
        let b = BaseUrl::parse("https://api.example.com/v2").unwrap();
        assert_eq!(
            b.join("x", "/calls?q=../..&a=%2e%2e").unwrap().as_str(),
            "https://api.example.com/v2/calls?q=../..&a=%2e%2e"
        );
        assert!(b.join("x", "/calls/a.b/..c/...").is_ok());
        for evil in ["/../v1/admin", "/%2e%2e/v1", "/a%2fb", "/x/%2E%2E%2F%2E%2E"] {
            let e = b.join("x", evil).unwrap_err();
            assert!(matches!(e, PolicyError::Denied(_)), "{evil}");
        }
    }

    #[test]
    fn joins_only_paths_that_stay_on_the_origin() {
        let b = base();
        assert_eq!(
            b.join("clari", "/calls?filterUser=a%40b.com&x=a@b")
                .unwrap()
                .as_str(),
            "https://rest-api.copilot.clari.com/calls?filterUser=a%40b.com&x=a@b"
        );
        for evil in [
            "@evil.com/calls",
            "//evil.com/calls",
            "evil.com",
            "/calls#frag",
            "/calls\\..\\x",
            "/ca lls",
            "/calls\r\nHost: evil.com",
            ":8080/calls",
            "",
            "/../admin",
            "/calls/../../admin",
            "/calls/./x",
            "/calls/.",
            "/%2e%2e/admin",
            "/%2E%2e/admin",
            "/.%2e/admin",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
            "/calls%2f..%2fadmin",
            "/calls%2F..",
            "/calls%5c..%5cadmin",
            "/calls%255c..",
            "/..?x=1",
        ] {
            let e = b.join("clari", evil).unwrap_err();
            assert!(
                matches!(e, PolicyError::Denied(m) if m.contains("upstream `clari`")),
                "{evil}"
            );
        }
    }
}
