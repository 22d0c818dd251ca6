//! Connect-time private-network guard for `ureq` 3.5.x.
//!
//! The URL's literal host is checked elsewhere. This crate handles the other half:
//! the **addresses a host name resolves to**. [`GuardedResolver`] wraps a ureq
//! [`Resolver`] (by default [`DefaultResolver`]). Unless the host is in the
//! operator's allow-list (`allow_private_network = true`), it removes every private
//! address (see [`is_private_ip`]) from the answer. If none are left, it returns an
//! error instead, so a public-looking name that resolves to `10.0.0.5` or
//! `127.0.0.1` never gets a TCP connection. This follows Spin's
//! blocked-networks check: resolve first, then refuse blocked IPs.
//!
//! Notes:
//! * ureq 3.5.2 calls the resolver for every connection, redirects included, and
//!   it does so *before* looking in the connection pool. It calls it for IP-literal
//!   URLs too: `DefaultResolver` hands `"127.0.0.1:80"` / `"[::1]:80"` to
//!   `ToSocketAddrs`, which parses them without DNS. So literals are guarded as well.
//! * When a proxy is configured (ureq's default `Config` picks one up from
//!   `HTTP(S)_PROXY`), ureq does **not** resolve the target. The proxy does, so this
//!   guard never sees the target (it only checks the proxy's own address). Set
//!   `.proxy(None)` unless the proxy enforces the same policy.
//! * The connector dials exactly the addresses returned here (no second lookup), so
//!   DNS rebinding between check and connect is not possible.
//! * A refusal surfaces from `agent.run(..)` as `ureq::Error::Other(Box<PrivateNetworkDenied>)`
//!   (its `Display` is `other: host …`). Use [`private_network_denial`] to detect it.
//! * The `Resolver` trait is in `ureq::unversioned`, so it is not covered by semver.
//!   Pin ureq to an exact version.
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// True if `ip` is in a private/internal range. The ranges are: loopback; RFC 1918;
/// link-local (this includes the 169.254.169.254 metadata address); CGNAT
/// 100.64/10; "this network" 0/8; broadcast; IPv6 `::1`, `::`, ULA fc00::/7,
/// link-local fe80::/10 and deprecated site-local fec0::/10. IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses are judged
/// by the IPv4 address they embed.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()                      // 127/8
        || ip.is_private()                // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()             // 169.254/16 (cloud metadata)
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10 CGNAT
        || a == 0                         // 0/8 incl. unspecified 0.0.0.0
        || ip.is_broadcast() // 255.255.255.255
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let embedded_v4 = || Ipv4Addr::from(((seg[6] as u32) << 16) | seg[7] as u32);
    // IPv4-compatible ::a.b.c.d (deprecated) and NAT64 well-known prefix 64:ff9b::/96.
    if seg[..6] == [0; 6] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_private_v4(embedded_v4());
    }
    (seg[0] & 0xfe00) == 0xfc00        // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
}

/// Error returned when a host that is not allow-listed resolves only to private
/// addresses. It is carried inside `ureq::Error::Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateNetworkDenied {
    /// Normalized host from the URL (lowercase, no brackets, no trailing dot).
    pub host: String,
    /// The private addresses the host resolved to.
    pub addrs: Vec<IpAddr>,
}

impl fmt::Display for PrivateNetworkDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        write!(
            f,
            "host `{}` resolved only to private-network addresses ({}); \
             to allow it set `allow_private_network = true` for that upstream",
            self.host,
            list.join(", ")
        )
    }
}

impl std::error::Error for PrivateNetworkDenied {}

/// Returns the denial if `err` was produced by a [`GuardedResolver`].
pub fn private_network_denial(err: &ureq::Error) -> Option<&PrivateNetworkDenied> {
    match err {
        ureq::Error::Other(e) => e.downcast_ref::<PrivateNetworkDenied>(),
        _ => None,
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// A [`Resolver`] that removes private addresses for hosts that are not allow-listed.
#[derive(Debug)]
pub struct GuardedResolver {
    inner: Box<dyn Resolver>,
    allowed_private_hosts: HashSet<String>,
}

impl GuardedResolver {
    /// Wraps ureq's [`DefaultResolver`]. `allowed_private_hosts` lists the host names
    /// or IP literals for which the operator set `allow_private_network`. The names
    /// are normalized (lowercased; `[::1]` becomes `::1`).
    pub fn new(allowed_private_hosts: impl IntoIterator<Item = String>) -> Self {
        Self::with_inner(DefaultResolver::default(), allowed_private_hosts)
    }

    /// Wraps any inner resolver. Useful for tests and for custom DNS.
    pub fn with_inner(
        inner: impl Resolver,
        allowed_private_hosts: impl IntoIterator<Item = String>,
    ) -> Self {
        let allowed = allowed_private_hosts
            .into_iter()
            .map(|h| normalize_host(&h));
        Self {
            inner: Box::new(inner),
            allowed_private_hosts: allowed.collect(),
        }
    }
}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.inner.resolve(uri, config, timeout)?;
        let host = normalize_host(uri.host().unwrap_or_default());
        if self.allowed_private_hosts.contains(&host) {
            return Ok(resolved);
        }
        let mut kept = self.inner.empty();
        let mut blocked = Vec::new();
        for addr in resolved.iter() {
            match is_private_ip(addr.ip()) {
                true => blocked.push(addr.ip()),
                false => kept.push(*addr),
            }
        }
        match kept.is_empty() {
            true => Err(ureq::Error::Other(Box::new(PrivateNetworkDenied {
                host,
                addrs: blocked,
            }))),
            false => Ok(kept),
        }
    }
}

/// Builds an [`ureq::Agent`] from `config`, ureq's [`DefaultConnector`] and `resolver`.
/// Note: proxies bypass the guard (see the crate docs).
pub fn agent(config: Config, resolver: GuardedResolver) -> ureq::Agent {
    ureq::Agent::with_parts(config, DefaultConnector::default(), resolver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpListener};

    /// Fake DNS for one host; other hosts fail with `HostNotFound`.
    #[derive(Debug)]
    struct FakeDns(String, Vec<SocketAddr>);

    impl Resolver for FakeDns {
        fn resolve(
            &self,
            uri: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            if uri.host() != Some(self.0.as_str()) {
                return Err(ureq::Error::HostNotFound);
            }
            let mut out = self.empty();
            self.1.iter().for_each(|a| out.push(*a));
            Ok(out)
        }
    }

    fn sockets(addrs: &str) -> Vec<SocketAddr> {
        addrs
            .split_whitespace()
            .map(|a| a.parse().unwrap())
            .collect()
    }

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn fake(host: &str, addrs: &str, allow: &[&str]) -> GuardedResolver {
        GuardedResolver::with_inner(FakeDns(host.into(), sockets(addrs)), hosts(allow))
    }

    /// No env proxy: with a proxy ureq would not resolve the target at all.
    fn cfg() -> Config {
        Config::builder().proxy(None).build()
    }

    fn resolve(r: &GuardedResolver, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let addrs = r.resolve(&url.parse().unwrap(), &cfg(), NextTimeout::default());
        addrs.map(|a| a.to_vec())
    }

    fn get(resolver: GuardedResolver, url: &str) -> Result<String, ureq::Error> {
        agent(cfg(), resolver)
            .get(url)
            .call()?
            .body_mut()
            .read_to_string()
    }

    #[test]
    fn private_ip_table() {
        let private = "127.0.0.1 127.255.0.9 10.0.0.5 172.16.0.1 172.31.255.255 192.168.1.1 \
            169.254.169.254 100.64.0.1 100.127.255.255 0.0.0.0 0.1.2.3 255.255.255.255 \
            ::1 :: fc00::1 fd12:3456::1 fe80::1 febf::1 fec0::1 ::ffff:127.0.0.1 ::ffff:10.0.0.5 \
            ::ffff:169.254.169.254 ::ffff:100.64.0.1 ::ffff:172.16.0.1 ::ffff:192.168.0.1 \
            ::ffff:0.0.0.0 ::ffff:255.255.255.255 ::127.0.0.1 64:ff9b::10.0.0.1";
        let public = "8.8.8.8 1.1.1.1 93.184.216.34 172.15.255.255 172.32.0.1 192.169.0.1 \
            100.63.255.255 100.128.0.1 169.253.0.1 11.0.0.1 2606:4700::1111 2001:4860:4860::8888 \
            ::ffff:8.8.8.8 64:ff9b::808:808 fbff::1 fe7f::1";
        for s in private.split_whitespace() {
            assert!(is_private_ip(s.parse().unwrap()), "{s} should be private");
        }
        for s in public.split_whitespace() {
            assert!(!is_private_ip(s.parse().unwrap()), "{s} should be public");
        }
    }

    /// One-shot HTTP server on loopback.
    fn serve_once(listener: TcpListener) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let (mut buf, mut chunk) = (Vec::new(), [0u8; 1024]);
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
            }
            let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            s.write_all(resp).unwrap();
        })
    }

    fn assert_no_connection(listener: &TcpListener) {
        listener.set_nonblocking(true).unwrap();
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        listener.set_nonblocking(false).unwrap();
    }

    #[test]
    fn public_name_resolving_to_loopback_is_refused_unless_allowed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (addr, url) = (
            format!("127.0.0.1:{port}"),
            format!("http://public.example:{port}/"),
        );

        let err = get(fake("public.example", &addr, &[]), &url).unwrap_err();
        let want = "host `public.example` resolved only to private-network addresses (127.0.0.1); \
                    to allow it set `allow_private_network = true` for that upstream";
        assert_eq!(private_network_denial(&err).unwrap().to_string(), want);
        assert_eq!(err.to_string(), format!("other: {want}"));
        assert_no_connection(&listener);

        let server = serve_once(listener);
        let body = get(fake("public.example", &addr, &["Public.Example"]), &url);
        assert_eq!(body.unwrap(), "ok");
        server.join().unwrap();
    }

    #[test]
    fn ip_literal_urls_go_through_the_resolver() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let err = get(GuardedResolver::new(vec![]), &url).unwrap_err();
        assert!(private_network_denial(&err).is_some(), "{err}");
        assert_no_connection(&listener);
        // IPv6 literal, resolver only (no connection); `[::1]` in the allow-list is normalized.
        let err = resolve(&GuardedResolver::new(vec![]), "http://[::1]:80/").unwrap_err();
        assert!(err.to_string().contains("`::1`"), "{err}");
        let ok = resolve(&GuardedResolver::new(hosts(&["[::1]"])), "http://[::1]:80/");
        assert_eq!(ok.unwrap(), sockets("[::1]:80"));

        let server = serve_once(listener);
        let body = get(GuardedResolver::new(hosts(&["127.0.0.1"])), &url);
        assert_eq!(body.unwrap(), "ok");
        server.join().unwrap();
    }

    #[test]
    fn mixed_answers_drop_private_addresses() {
        let url = "http://h.example/";
        let all_private = "10.0.0.5:80 127.0.0.1:80 [::ffff:169.254.169.254]:80";
        let err = resolve(&fake("h.example", all_private, &[]), url).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("(10.0.0.5, 127.0.0.1, ::ffff:169.254.169.254)"),
            "{msg}"
        );

        let mixed = "10.0.0.5:80 93.184.216.34:80 [fd00::1]:80 [2606:4700::1]:80";
        let kept = resolve(&fake("h.example", mixed, &[]), url).unwrap();
        assert_eq!(kept, sockets("93.184.216.34:80 [2606:4700::1]:80"));
        let all = resolve(&fake("h.example", mixed, &["h.example"]), url).unwrap();
        assert_eq!(all, sockets(mixed));

        // Inner resolver errors pass through untouched.
        let err = resolve(&fake("h.example", mixed, &[]), "http://nope.example/");
        assert!(matches!(err, Err(ureq::Error::HostNotFound)));
    }
}
