//! `harness inspect`, `package`, `push` and `pull`: connectors as versioned, pinned artifacts.

use std::path::PathBuf;

use anyhow::Context;

/// How to reach the registry, shared by the commands that talk to one.
#[derive(clap::Args, Clone, Copy)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry (an in-cluster registry without TLS). Registries on
    /// localhost, 127.0.0.1 and [::1] always are.
    #[arg(long)]
    plain_http: bool,
}

impl RegistryArgs {
    fn options(self) -> tenant_instance::oci::RegistryOptions {
        tenant_instance::oci::RegistryOptions {
            plain_http: self.plain_http,
        }
    }
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// A component file, or an OCI reference (registry/repository:tag).
    target: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn inspect(a: InspectArgs) -> anyhow::Result<()> {
    let path = PathBuf::from(&a.target);
    let bytes = if path.exists() {
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
    } else {
        tenant_instance::oci::pull(&a.target, a.registry.options())
            .with_context(|| format!("`{}` is neither a file nor a pullable reference", a.target))?
            .bytes
    };
    let report = tenant_instance::inspect::inspect(&bytes)
        .with_context(|| format!("inspecting {}", a.target))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct PackageArgs {
    /// The component file.
    component: PathBuf,
    /// The OCI image layout directory to write.
    #[arg(long)]
    output: PathBuf,
    /// The tag `index.json` gives the manifest (`org.opencontainers.image.ref.name`), by which
    /// `oras cp --from-oci-layout DIR:TAG` and `skopeo copy oci:DIR:TAG` find it; default: the
    /// component's version, else `latest`.
    #[arg(long)]
    tag: Option<String>,
}

pub fn package(a: PackageArgs) -> anyhow::Result<()> {
    let tag = match a.tag {
        Some(t) => t,
        None => default_tag(&a.component),
    };
    let p = tenant_instance::oci::package(&a.component, &a.output, &tag)?;
    println!(
        "wrote an OCI image layout to {} (tag {tag}, manifest {}, component {}); pin either digest",
        a.output.display(),
        p.manifest_digest,
        p.component_digest
    );
    Ok(())
}

/// The component's version as a tag (`0.2.0`), else `latest`.
fn default_tag(component: &std::path::Path) -> String {
    std::fs::read(component)
        .ok()
        .and_then(|b| {
            tenant_instance::oci::annotations(&b).remove("org.opencontainers.image.version")
        })
        .filter(|v| tenant_instance::oci::check_tag(v).is_ok())
        .unwrap_or_else(|| "latest".into())
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// The component file.
    component: PathBuf,
    /// Where to push it: registry/repository:tag.
    reference: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn push(a: PushArgs) -> anyhow::Result<()> {
    let p = tenant_instance::oci::push(&a.component, &a.reference, a.registry.options())?;
    println!(
        "pushed {} to {} (manifest {}, component {}); pin it with oci = \"{}\" and digest = either",
        a.component.display(),
        a.reference,
        p.manifest_digest,
        p.component_digest,
        a.reference,
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct PullArgs {
    /// registry/repository:tag
    reference: String,
    /// Where to write the component.
    #[arg(long)]
    output: PathBuf,
    /// Refuse the artifact unless its manifest digest (as the registry and `oras` show it) or
    /// its component digest is this.
    #[arg(long)]
    digest: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn pull(a: PullArgs) -> anyhow::Result<()> {
    let options = a.registry.options();
    let (pulled, matched) = match &a.digest {
        Some(pinned) => {
            tenant_instance::config::check_digest(pinned).map_err(|_| {
                anyhow::anyhow!(
                    "--digest `{pinned}` must be `sha256:` followed by 64 lowercase hex digits"
                )
            })?;
            let origin = tenant_instance::oci::PinOrigin::command_line();
            let (p, m) = tenant_instance::oci::pull_pinned(&a.reference, pinned, &origin, options)?;
            (p, Some(m))
        }
        None => (tenant_instance::oci::pull(&a.reference, options)?, None),
    };
    wasm_runtime::contract::check_component(&pulled.bytes)
        .with_context(|| format!("{} is not a component this host serves", a.reference))?;
    std::fs::write(&a.output, &pulled.bytes)
        .with_context(|| format!("writing {}", a.output.display()))?;
    let manifest = pulled
        .digests
        .manifest
        .as_deref()
        .unwrap_or("(not reported)");
    println!(
        "pulled {} to {} (manifest {manifest}, component {})",
        a.reference,
        a.output.display(),
        pulled.digests.component
    );
    if let Some(m) = matched {
        println!("the pin matched {m}");
    }
    Ok(())
}
