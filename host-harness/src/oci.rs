//! Connectors as OCI artifacts in the wasm layout the ecosystem uses (the CNCF TAG Runtime wasm
//! artifact format, as the `oci-wasm` crate writes it and `wkg` and wasmCloud read it): one
//! `application/wasm` layer, an `application/vnd.wasm.config.v0+json` config, standard
//! `org.opencontainers.image.*` annotations from the component's metadata. Push, pull, an OCI
//! image layout on disk, and a pull cache keyed by digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_wasm::{ToConfig, WasmClient, WasmConfig};

use crate::component::digest;

/// Registries on loopback are spoken to over plain HTTP (a local registry); others over HTTPS.
fn client(reference: &Reference) -> WasmClient {
    let registry = reference.resolve_registry().to_string();
    let host = registry
        .rsplit_once(':')
        .map_or(registry.as_str(), |(h, _)| h);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let protocol = if loopback {
        ClientProtocol::HttpsExcept(vec![registry.clone()])
    } else {
        ClientProtocol::Https
    };
    WasmClient::new(Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    }))
}

/// Credentials from `HARNESS_OCI_USERNAME` / `HARNESS_OCI_PASSWORD`, else anonymous.
fn auth() -> RegistryAuth {
    match (
        std::env::var("HARNESS_OCI_USERNAME"),
        std::env::var("HARNESS_OCI_PASSWORD"),
    ) {
        (Ok(u), Ok(p)) => RegistryAuth::Basic(u, p),
        _ => RegistryAuth::Anonymous,
    }
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
    put("source", m.source.as_ref().map(|v| v.to_string()));
    put("url", m.homepage.as_ref().map(|v| v.to_string()));
    put("revision", m.revision.as_ref().map(|v| v.to_string()));
    put("licenses", m.licenses.as_ref().map(|v| v.to_string()));
    a
}

/// What a push or a package produced.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The component's digest (the layer): what a configuration pins.
    pub component_digest: String,
    /// The manifest's digest or URL.
    pub manifest: String,
}

/// Pushes the component at `path` to `reference`.
pub fn push(path: &Path, reference: &str) -> anyhow::Result<Packaged> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    wasm_runtime::contract::check_component(&bytes)?;
    let reference = parse(reference)?;
    let component_digest = digest(&bytes);
    let notes = annotations(&bytes);
    let (config, layer) = WasmConfig::from_raw_component(bytes, None)
        .context("describing the component for the registry")?;
    let response = runtime()?
        .block_on(client(&reference).push(&reference, &auth(), layer, config, Some(notes)))
        .with_context(|| format!("pushing to {reference}"))?;
    Ok(Packaged {
        component_digest,
        manifest: response.manifest_url,
    })
}

/// Pulls the component at `reference`, answering its bytes and digest.
pub fn pull(reference: &str) -> anyhow::Result<(Vec<u8>, String)> {
    let reference = parse(reference)?;
    let image = runtime()?
        .block_on(client(&reference).pull(&reference, &auth()))
        .with_context(|| format!("pulling {reference}"))?;
    let layer = image
        .layers
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{reference} has no wasm layer"))?;
    let d = digest(&layer.data);
    Ok((layer.data.to_vec(), d))
}

/// Where pulled components are kept, by digest.
fn cache_path(pinned: &str) -> Option<PathBuf> {
    let hex = pinned.strip_prefix("sha256:")?;
    Some(
        crate::cache_dir()?
            .join("oci")
            .join(format!("sha256-{hex}.wasm")),
    )
}

/// The component pinned by `pinned`: from the cache when it holds it (checked), else pulled
/// and cached. A pull whose digest differs is refused before anything is compiled.
pub fn pull_cached(reference: &str, pinned: &str) -> anyhow::Result<Vec<u8>> {
    let cached = cache_path(pinned);
    if let Some(path) = &cached
        && let Ok(bytes) = std::fs::read(path)
        && digest(&bytes) == pinned
    {
        return Ok(bytes);
    }
    let (bytes, actual) = pull(reference)?;
    crate::component::check_pin(
        &format!("the component pulled from {reference}"),
        &bytes,
        pinned,
    )?;
    if let Some(path) = cached {
        let stored = path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|()| std::fs::write(&path, &bytes));
        if let Err(e) = stored {
            tracing::warn!("could not cache {actual} at {}: {e}", path.display());
        }
    }
    Ok(bytes)
}

/// Writes the component as an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/…`): the artifact a registry would hold, for copying with standard tools.
pub fn package(path: &Path, out: &Path) -> anyhow::Result<Packaged> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    wasm_runtime::contract::check_component(&bytes)?;
    let component_digest = digest(&bytes);
    let notes = annotations(&bytes);
    let (config, layer) = WasmConfig::from_raw_component(bytes, None)
        .context("describing the component for the registry")?;
    let config = config.to_config()?;
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(notes));
    manifest.media_type = Some(oci_wasm::WASM_MANIFEST_MEDIA_TYPE.to_string());
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let blobs = out.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let write_blob = |data: &[u8]| -> anyhow::Result<String> {
        let d = digest(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data)?;
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
        }],
    });
    std::fs::write(out.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(Packaged {
        component_digest,
        manifest: manifest_digest,
    })
}
