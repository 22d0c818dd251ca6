//! The Distribution registry from the `docker-registry` package, started on a loopback
//! address for one test, storing in a temporary directory; optionally behind htpasswd basic
//! authentication (a fixed test account, bcrypt-hashed as the registry requires).

#![allow(dead_code)] // each test file uses part of it
use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The test account's user name and password (the registry holds only the bcrypt hash).
pub const USER: &str = "harness-ci";
pub const PASSWORD: &str = "registry-pass-7";
const HTPASSWD: &str = "harness-ci:$2y$05$xv/3W3IaBNq8EaFCedMFx.euj9b/93V.X0ceZw6sbwFez1f4MefF2\n";

pub struct Registry {
    child: Child,
    /// `host:port`
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry on 127.0.0.1.
    pub fn start() -> Registry {
        Registry::start_on("127.0.0.1", false)
    }

    /// A registry on `host` (a loopback address), with basic authentication if `auth`.
    pub fn start_on(host: &str, auth: bool) -> Registry {
        assert!(
            Command::new("docker-registry")
                .arg("--version")
                .output()
                .is_ok(),
            "docker-registry is not installed (./test.sh installs the Debian package)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind(format!("{host}:0"))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("{host}:{port}");
        let mut yml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if auth {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, HTPASSWD).unwrap();
            yml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: harness-test\n    path: {}\n",
                file.display()
            ));
        }
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yml).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The manifest digest the registry reports for `repository:tag` (its
    /// `Docker-Content-Digest` header), over plain HTTP, with the test account if given.
    pub fn manifest_digest(&self, repository: &str, tag: &str, auth: bool) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let mut req = format!(
            "HEAD /v2/{repository}/manifests/{tag} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n",
            self.addr
        );
        if auth {
            use base64::Engine;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            req.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("docker-content-digest")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no digest for {repository}:{tag}: {answer}"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
