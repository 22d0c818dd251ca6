//! Standard component-model metadata (name, version, description, authors, source, homepage,
//! revision, licences) stamped into a component with the `wasm-metadata` crate, from the
//! crate's manifest (as `cargo metadata` reports it) and the checkout's git revision, so
//! `wasm-tools metadata show`, `harness inspect` and registries can read it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wasm_metadata::{
    AddMetadata, AddMetadataField, Authors, Description, Homepage, Licenses, Revision, Source,
    Version,
};

/// Where the component came from: its checkout's revision and public origin.
pub struct Provenance {
    pub revision: Option<String>,
    /// Only a public URL: a checkout's path says nothing to whoever pulls the component, and
    /// would carry the build machine's layout into the artifact.
    pub origin: Option<String>,
}

impl Provenance {
    pub fn of_checkout(dir: &Path) -> Self {
        Provenance {
            revision: git(dir, &["rev-parse", "HEAD"]),
            origin: git(dir, &["remote", "get-url", "origin"])
                .filter(|u| u.starts_with("http://") || u.starts_with("https://")),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `component` stamped with the metadata of `package` (an entry of `cargo metadata`).
pub fn stamp(
    component: &[u8],
    package: &Value,
    provenance: &Provenance,
) -> Result<Vec<u8>, String> {
    let name = package["name"].as_str().unwrap_or("connector");
    let text = |k: &str| package[k].as_str().map(str::to_string);
    let source = text("repository").or_else(|| provenance.origin.clone());
    let homepage = text("homepage").or_else(|| source.clone());
    let authors = package["authors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "connector platform authors".into());
    let mut add = AddMetadata::default();
    add.name = AddMetadataField::Set(name.to_string());
    add.version = AddMetadataField::Set(Version::new(text("version").unwrap_or_default()));
    add.description =
        AddMetadataField::Set(Description::new(text("description").unwrap_or_default()));
    add.authors = AddMetadataField::Set(Authors::new(authors));
    add.licenses = AddMetadataField::Set(
        Licenses::new(&text("license").unwrap_or_else(|| "Apache-2.0".into()))
            .map_err(|e| format!("{name}: licence: {e}"))?,
    );
    add.source = match &source {
        Some(s) => {
            AddMetadataField::Set(Source::new(s).map_err(|e| format!("{name}: source: {e}"))?)
        }
        None => AddMetadataField::Clear,
    };
    add.homepage = match &homepage {
        Some(h) => {
            AddMetadataField::Set(Homepage::new(h).map_err(|e| format!("{name}: homepage: {e}"))?)
        }
        None => AddMetadataField::Clear,
    };
    if let Some(r) = &provenance.revision {
        add.revision = AddMetadataField::Set(Revision::new(r.clone()));
    }
    add.to_wasm(component)
        .map_err(|e| format!("stamping metadata into {name}: {e}"))
}
