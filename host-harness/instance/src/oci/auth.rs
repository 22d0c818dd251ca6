//! Registry credentials, found where other OCI tools find them: `HARNESS_OCI_USERNAME` and
//! `HARNESS_OCI_PASSWORD` first, then the `auths` of the Docker config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) that `docker login`,
//! `oras login` and `helm registry login` write; anonymous otherwise. The config file is
//! untrusted input: a regular file, at most [`MAX_CONFIG_BYTES`]. No credential value ever
//! appears in an error.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use oci_client::secrets::RegistryAuth;

/// A Docker config file larger than this is refused (real ones are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Where the credentials for a registry came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    Environment,
    DockerConfig(PathBuf),
    Anonymous,
}

impl std::fmt::Display for AuthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthSource::Environment => f.write_str("HARNESS_OCI_USERNAME/HARNESS_OCI_PASSWORD"),
            AuthSource::DockerConfig(p) => write!(f, "the auths of {}", p.display()),
            AuthSource::Anonymous => f.write_str("no credentials (anonymous)"),
        }
    }
}

/// The credentials for `registry` (`host[:port]`), and where they came from.
pub fn credentials(
    registry: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<(RegistryAuth, AuthSource)> {
    if let (Some(u), Some(p)) = (env("HARNESS_OCI_USERNAME"), env("HARNESS_OCI_PASSWORD")) {
        return Ok((RegistryAuth::Basic(u, p), AuthSource::Environment));
    }
    let Some(path) = docker_config_path(env) else {
        return Ok((RegistryAuth::Anonymous, AuthSource::Anonymous));
    };
    let Some(text) = read_config(&path)? else {
        return Ok((RegistryAuth::Anonymous, AuthSource::Anonymous));
    };
    match from_docker_config(&text, registry)
        .with_context(|| format!("reading registry credentials from {}", path.display()))?
    {
        Some(auth) => Ok((auth, AuthSource::DockerConfig(path))),
        None => Ok((RegistryAuth::Anonymous, AuthSource::Anonymous)),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
fn docker_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    set("DOCKER_CONFIG")
        .map(|d| Path::new(&d).join("config.json"))
        .or_else(|| set("HOME").map(|h| Path::new(&h).join(".docker").join("config.json")))
}

/// The file's text; `None` when there is no file. Refuses what is not a regular file, or is
/// too large, saying so.
fn read_config(path: &Path) -> anyhow::Result<Option<String>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("the Docker config {} cannot be opened", path.display()));
        }
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        anyhow::bail!(
            "the Docker config {} is not a regular file; point DOCKER_CONFIG at a directory holding config.json",
            path.display()
        );
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("the Docker config {} is not UTF-8 text", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        anyhow::bail!(
            "the Docker config {} is over {} KiB; it is not a credentials file",
            path.display(),
            MAX_CONFIG_BYTES / 1024
        );
    }
    Ok(Some(text))
}

/// The `auths` entry for `registry` in a Docker config's text. Keys are matched as Docker
/// does: with or without a scheme and a trailing path (`https://r.example/v1/`), and Docker
/// Hub's legacy key for `docker.io`.
pub fn from_docker_config(text: &str, registry: &str) -> anyhow::Result<Option<RegistryAuth>> {
    let config: serde_json::Value =
        serde_json::from_str(text).context("it is not JSON; fix it or run `docker login` again")?;
    let wanted = normalise(registry);
    let entry = config
        .get("auths")
        .and_then(|a| a.as_object())
        .and_then(|auths| auths.iter().find(|(k, _)| normalise(k) == wanted))
        .map(|(_, v)| v);
    let Some(entry) = entry else {
        if helper_for(&config, registry) {
            anyhow::bail!(
                "it names a credential helper for {registry}, which this harness does not run; \
                 set HARNESS_OCI_USERNAME and HARNESS_OCI_PASSWORD instead"
            );
        }
        return Ok(None);
    };
    entry_auth(entry, registry).map(Some)
}

/// One `auths` entry: `auth` (base64 `user:password`), `username`/`password`, or an
/// `identitytoken`.
fn entry_auth(entry: &serde_json::Value, registry: &str) -> anyhow::Result<RegistryAuth> {
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = field("identitytoken").or_else(|| field("registrytoken")) {
        return Ok(RegistryAuth::Bearer(token.to_string()));
    }
    if let Some(encoded) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the `auth` of {registry} is not base64 of `user:password`; run `docker login {registry}` again"
                )
            })?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            anyhow::anyhow!("the `auth` of {registry} holds no `user:password` pair; run `docker login {registry}` again")
        })?;
        return Ok(RegistryAuth::Basic(user.to_string(), password.to_string()));
    }
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Ok(RegistryAuth::Basic(u.to_string(), p.to_string())),
        _ => anyhow::bail!(
            "the entry for {registry} has neither `auth` nor `username` and `password`; run `docker login {registry}` again"
        ),
    }
}

fn helper_for(config: &serde_json::Value, registry: &str) -> bool {
    let wanted = normalise(registry);
    config.get("credsStore").is_some_and(|s| s.is_string())
        || config
            .get("credHelpers")
            .and_then(|h| h.as_object())
            .is_some_and(|h| h.keys().any(|k| normalise(k) == wanted))
}

/// `https://Registry.Example:5000/v1/` → `registry.example:5000`; Docker Hub's names → `docker.io`.
fn normalise(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(a: Option<RegistryAuth>) -> Option<(String, String)> {
        match a {
            Some(RegistryAuth::Basic(u, p)) => Some((u, p)),
            _ => None,
        }
    }

    #[test]
    fn reads_auths_as_docker_writes_them() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        let text = format!(
            r#"{{"auths":{{"https://Reg.example:5000/v1/":{{"auth":"{auth}"}},"other.example":{{"username":"u","password":"p"}}}}}}"#
        );
        assert_eq!(
            basic(from_docker_config(&text, "reg.example:5000").unwrap()),
            Some(("ci".into(), "s3cret".into()))
        );
        assert_eq!(
            basic(from_docker_config(&text, "other.example").unwrap()),
            Some(("u".into(), "p".into()))
        );
        assert!(
            from_docker_config(&text, "third.example")
                .unwrap()
                .is_none()
        );
        let hub = r#"{"auths":{"https://index.docker.io/v1/":{"identitytoken":"t"}}}"#;
        assert!(matches!(
            from_docker_config(hub, "docker.io").unwrap(),
            Some(RegistryAuth::Bearer(_))
        ));
    }

    #[test]
    fn a_bad_entry_says_what_to_do_without_the_value() {
        let text = r#"{"auths":{"r.example":{"auth":"bm90LWEtcGFpcg=="}}}"#;
        let e = from_docker_config(text, "r.example")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("docker login r.example") && !e.contains("not-a-pair"),
            "{e}"
        );
        let helper = r#"{"credHelpers":{"r.example":"ecr-login"}}"#;
        let e = from_docker_config(helper, "r.example")
            .unwrap_err()
            .to_string();
        assert!(e.contains("HARNESS_OCI_USERNAME"), "{e}");
        assert!(from_docker_config("{", "r.example").is_err());
    }

    #[test]
    fn the_environment_comes_first_and_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.json");
        std::fs::write(
            &cfg,
            r#"{"auths":{"r.example":{"username":"file","password":"p"}}}"#,
        )
        .unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let from_file = |k: &str| (k == "DOCKER_CONFIG").then(|| d.clone());
        let (auth, source) = credentials("r.example", &from_file).unwrap();
        assert_eq!(basic(Some(auth)).unwrap().0, "file");
        assert_eq!(source, AuthSource::DockerConfig(cfg.clone()));
        let both = |k: &str| match k {
            "DOCKER_CONFIG" => Some(d.clone()),
            "HARNESS_OCI_USERNAME" => Some("env".into()),
            "HARNESS_OCI_PASSWORD" => Some("p".into()),
            _ => None,
        };
        assert_eq!(
            credentials("r.example", &both).unwrap().1,
            AuthSource::Environment
        );
        // A directory where the file should be is refused, a missing one is anonymous.
        std::fs::remove_file(&cfg).unwrap();
        std::fs::create_dir(&cfg).unwrap();
        assert!(credentials("r.example", &from_file).is_err());
        let none = |_: &str| None;
        assert_eq!(
            credentials("r.example", &none).unwrap().1,
            AuthSource::Anonymous
        );
    }
}
