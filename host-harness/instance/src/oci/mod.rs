//! Connectors as OCI artifacts in the wasm layout the ecosystem uses (the CNCF TAG Runtime wasm
//! artifact format, as the `oci-wasm` crate writes it and `wkg` and wasmCloud read it): one
//! `application/wasm` layer, an `application/vnd.wasm.config.v0+json` config, standard
//! `org.opencontainers.image.*` annotations from the component's metadata. Push, pull, an OCI
//! image layout on disk, and a pull cache keyed by digest. Artifacts are reproducible (the
//! same bytes give the same manifest digest), pins take either digest, credentials come from
//! the environment or the Docker config ([`auth`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use oci_client::client::ImageLayer;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_wasm::{ToConfig, WasmClient, WasmConfig};

use crate::component::digest;

pub mod auth;
pub mod pin;

pub use pin::{Digests, PinMatch, PinOrigin, match_pin};

/// How to reach a registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Speak plain HTTP to a registry that is not on `localhost`, `127.0.0.1` or `[::1]`
    /// (those always are): an in-cluster registry without TLS. `--plain-http`, or
    /// `oci_plain_http = true` in `[connector]`.
    pub plain_http: bool,
}

/// Whether `registry` (`host[:port]`) is one of the loopback names spoken to over plain HTTP
/// without asking.
fn is_local(registry: &str) -> bool {
    let host = if registry.starts_with('[') {
        registry
            .split_once(']')
            .map_or(registry, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn client(reference: &Reference, options: RegistryOptions) -> WasmClient {
    let registry = reference.resolve_registry().to_string();
    let protocol = if options.plain_http {
        ClientProtocol::Http
    } else if is_local(&registry) {
        ClientProtocol::HttpsExcept(vec![registry.clone()])
    } else {
        ClientProtocol::Https
    };
    WasmClient::new(Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    }))
}

/// The credentials for `reference`'s registry (see [`auth`]).
fn credentials(reference: &Reference) -> anyhow::Result<RegistryAuth> {
    let env = |k: &str| std::env::var(k).ok();
    let (auth, source) = auth::credentials(reference.resolve_registry(), &env)?;
    tracing::debug!(
        "registry credentials for {}: {source}",
        reference.resolve_registry()
    );
    Ok(auth)
}

/// Adds a hint to a registry error that looks like TLS spoken to a plain-HTTP registry.
fn registry_error(e: anyhow::Error, what: String, options: RegistryOptions) -> anyhow::Error {
    let chain = format!("{e:#}");
    let tls = [
        "InvalidContentType",
        "tls",
        "TLS",
        "record overflow",
        "corrupt message",
    ];
    if !options.plain_http && tls.iter().any(|t| chain.contains(t)) {
        return e.context(format!(
            "{what}: the registry did not speak HTTPS; if it serves plain HTTP (an in-cluster \
             registry), pass --plain-http or set oci_plain_http = true in [connector]"
        ));
    }
    e.context(what)
}

fn parse(reference: &str) -> anyhow::Result<Reference> {
    reference.parse().with_context(|| {
        format!("`{reference}` is not an OCI reference; write it as registry/repository:tag")
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime for the registry client")
}

/// The OCI annotations for a component, from its standard metadata.
pub fn annotations(component: &[u8]) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let Ok(payload) = wasm_metadata::Payload::from_binary(component) else {
        return a;
    };
    let m = payload.metadata();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            a.insert(format!("org.opencontainers.image.{k}"), v);
        }
    };
    put("title", m.name.clone());
    put("version", m.version.as_ref().map(|v| v.to_string()));
    put("description", m.description.as_ref().map(|v| v.to_string()));
    put("authors", m.authors.as_ref().map(|v| v.to_string()));
    // A source or homepage that is not a public URL (a `file://` path of a build machine)
    // says nothing to whoever pulls the artifact: left out.
    let public = |v: String| (v.starts_with("https://") || v.starts_with("http://")).then_some(v);
    put(
        "source",
        m.source.as_ref().and_then(|v| public(v.to_string())),
    );
    put(
        "url",
        m.homepage.as_ref().and_then(|v| public(v.to_string())),
    );
    put("revision", m.revision.as_ref().map(|v| v.to_string()));
    put("licenses", m.licenses.as_ref().map(|v| v.to_string()));
    a
}

/// What a push or a package produced.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The component's digest (the layer).
    pub component_digest: String,
    /// The manifest's digest: what registries and `oras` show; either digest can be pinned.
    pub manifest_digest: String,
}

/// The config and layer for `bytes`, the same for the same bytes: the config's `created` is
/// `SOURCE_DATE_EPOCH` when set (the reproducible-builds convention), else the Unix epoch,
/// never the wall clock, so pushing the same component twice gives the same manifest digest.
fn describe(bytes: Vec<u8>) -> anyhow::Result<(WasmConfig, ImageLayer)> {
    let (mut config, layer) = WasmConfig::from_raw_component(bytes, None)
        .context("describing the component for the registry")?;
    config.created = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    Ok((config, layer))
}

/// The manifest for a component's config and layer, with its annotations.
fn manifest_for(
    config: &WasmConfig,
    layer: &ImageLayer,
    notes: BTreeMap<String, String>,
) -> anyhow::Result<(OciImageManifest, oci_client::client::Config)> {
    let config = config.to_config()?;
    let mut manifest = OciImageManifest::build(std::slice::from_ref(layer), &config, Some(notes));
    manifest.media_type = Some(oci_wasm::WASM_MANIFEST_MEDIA_TYPE.to_string());
    Ok((manifest, config))
}

/// The manifest as registries receive it: canonical JSON (the image spec's advice, and what
/// the registry client sends), so the layout, the push and the registry agree on its digest.
fn canonical(manifest: &OciImageManifest) -> anyhow::Result<Vec<u8>> {
    use serde::Serialize;
    let mut body = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut body, olpc_cjson::CanonicalFormatter::new());
    manifest
        .serialize(&mut ser)
        .context("serialising the manifest")?;
    Ok(body)
}

fn read_component(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    wasm_runtime::contract::check_component(&bytes)?;
    Ok(bytes)
}

/// Pushes the component at `path` to `reference`.
pub fn push(path: &Path, reference: &str, options: RegistryOptions) -> anyhow::Result<Packaged> {
    let bytes = read_component(path)?;
    let reference = parse(reference)?;
    let component_digest = digest(&bytes);
    let notes = annotations(&bytes);
    let (config, layer) = describe(bytes)?;
    let (manifest, _) = manifest_for(&config, &layer, notes.clone())?;
    let manifest_digest = digest(&canonical(&manifest)?);
    let auth = credentials(&reference)?;
    runtime()?
        .block_on(client(&reference, options).push(&reference, &auth, layer, config, Some(notes)))
        .map_err(|e| registry_error(e, format!("pushing to {reference}"), options))?;
    Ok(Packaged {
        component_digest,
        manifest_digest,
    })
}

/// A pulled component.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub bytes: Vec<u8>,
    pub digests: Digests,
}

/// Pulls the component at `reference`.
pub fn pull(reference: &str, options: RegistryOptions) -> anyhow::Result<Pulled> {
    pull_parsed(&parse(reference)?, options)
}

fn pull_parsed(reference: &Reference, options: RegistryOptions) -> anyhow::Result<Pulled> {
    let auth = credentials(reference)?;
    let image = runtime()?
        .block_on(client(reference, options).pull(reference, &auth))
        .map_err(|e| registry_error(e, format!("pulling {reference}"), options))?;
    let manifest = image.digest.clone();
    let layer = image
        .layers
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{reference} has no wasm layer"))?;
    let component = digest(&layer.data);
    Ok(Pulled {
        bytes: layer.data.to_vec(),
        digests: Digests {
            manifest,
            component,
        },
    })
}

/// Pulls `reference` and checks it against `pinned`, which may be either digest. When the
/// tag no longer points at a pinned manifest, the manifest is pulled by its digest (the
/// registry still holds it): a pin means exactly that artifact, wherever the tag went.
pub fn pull_pinned(
    reference: &str,
    pinned: &str,
    origin: &PinOrigin,
    options: RegistryOptions,
) -> anyhow::Result<(Pulled, PinMatch)> {
    let parsed = parse(reference)?;
    let pulled = pull_parsed(&parsed, options)?;
    let first = match_pin(reference, &pulled.digests, pinned, origin);
    if let Ok(matched) = first {
        return Ok((pulled, matched));
    }
    let by_digest = Reference::with_digest(
        parsed.registry().to_string(),
        parsed.repository().to_string(),
        pinned.to_string(),
    );
    match pull_parsed(&by_digest, options) {
        Ok(p) if p.digests.manifest.as_deref() == Some(pinned) => Ok((p, PinMatch::Manifest)),
        _ => first.map(|m| (pulled, m)),
    }
}

/// Where pulled components are kept, by component digest.
fn cache_path(component: &str) -> Option<PathBuf> {
    let hex = component.strip_prefix("sha256:")?;
    Some(
        crate::cache_dir()?
            .join("oci")
            .join(format!("sha256-{hex}.wasm")),
    )
}

/// Where the component digest of a pulled manifest is noted, by manifest digest.
fn manifest_note_path(manifest: &str) -> Option<PathBuf> {
    let hex = manifest.strip_prefix("sha256:")?;
    Some(
        crate::cache_dir()?
            .join("oci")
            .join("manifests")
            .join(format!("sha256-{hex}")),
    )
}

/// The cached component for `pinned` (a component digest, or a manifest digest noted at an
/// earlier pull), checked against its digest.
fn cached(pinned: &str) -> Option<(Vec<u8>, PinMatch)> {
    let read = |component: &str| {
        let bytes = std::fs::read(cache_path(component)?).ok()?;
        (digest(&bytes) == component).then_some(bytes)
    };
    if let Some(bytes) = read(pinned) {
        return Some((bytes, PinMatch::Component));
    }
    let noted = std::fs::read_to_string(manifest_note_path(pinned)?).ok()?;
    let component = noted.trim();
    crate::config::check_digest(component).ok()?;
    Some((read(component)?, PinMatch::Manifest))
}

/// Keeps a pulled, checked component (and its manifest's note) for the next start.
fn store(pulled: &Pulled) {
    let put = |path: Option<PathBuf>, data: &[u8]| -> std::io::Result<()> {
        let Some(path) = path else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_atomically(&path, data)
    };
    let mut stored = put(cache_path(&pulled.digests.component), &pulled.bytes);
    if let (Ok(()), Some(m)) = (&stored, &pulled.digests.manifest) {
        stored = put(manifest_note_path(m), pulled.digests.component.as_bytes());
    }
    if let Err(e) = stored {
        tracing::warn!("could not cache {}: {e}", pulled.digests.component);
    }
}

/// Writes `data` to a unique temporary file beside `path`, then renames it into place, so
/// a reader never sees half a file and two writers never share a temporary name.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        std::fs::remove_file(&tmp).ok();
    })
}

/// The component pinned by `pinned` (either digest): from the cache when it holds it
/// (checked), else pulled, checked and cached. A pull matching neither digest is refused
/// before anything is compiled.
pub fn pull_cached(
    reference: &str,
    pinned: &str,
    origin: &PinOrigin,
    options: RegistryOptions,
) -> anyhow::Result<(Vec<u8>, PinMatch)> {
    if let Some(hit) = cached(pinned) {
        return Ok(hit);
    }
    let (pulled, matched) = pull_pinned(reference, pinned, origin, options)?;
    store(&pulled);
    Ok((pulled.bytes, matched))
}

/// Writes the component as an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/…`): the artifact a registry would hold, for copying with standard tools.
/// `tag` becomes the manifest's `org.opencontainers.image.ref.name` in `index.json`, so
/// `oras cp --from-oci-layout dir:tag` and `skopeo copy oci:dir:tag` address it.
pub fn package(path: &Path, out: &Path, tag: &str) -> anyhow::Result<Packaged> {
    check_tag(tag)?;
    let bytes = read_component(path)?;
    let component_digest = digest(&bytes);
    let notes = annotations(&bytes);
    let (config, layer) = describe(bytes)?;
    let (manifest, config) = manifest_for(&config, &layer, notes)?;
    let manifest_bytes = canonical(&manifest)?;
    let blobs = out.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let write_blob = |data: &[u8]| -> anyhow::Result<String> {
        let d = digest(data);
        let path = blobs.join(d.trim_start_matches("sha256:"));
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        Ok(d)
    };
    write_blob(&layer.data)?;
    write_blob(&config.data)?;
    let manifest_digest = write_blob(&manifest_bytes)?;
    std::fs::write(out.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": oci_wasm::WASM_MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    std::fs::write(out.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(Packaged {
        component_digest,
        manifest_digest,
    })
}

/// A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn check_tag(tag: &str) -> anyhow::Result<()> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || tag.len() > 128 {
        anyhow::bail!(
            "the tag `{}` is not an OCI tag: letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
            tag.escape_debug()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_plain_others_need_asking() {
        assert!(is_local("localhost:5000") && is_local("127.0.0.1:5000") && is_local("[::1]:5000"));
        assert!(!is_local("registry.internal:5000") && !is_local("127.0.0.2:5000"));
    }

    #[test]
    fn tags_follow_the_distribution_spec() {
        assert!(check_tag("0.2.0").is_ok() && check_tag("latest").is_ok());
        assert!(check_tag(".x").is_err() && check_tag("a/b").is_err() && check_tag("").is_err());
    }
}
