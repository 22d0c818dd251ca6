//! `harness inspect`, `package`, `push` and `pull`: connectors as versioned, pinned artifacts.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// A component file, or an OCI reference (registry/repository:tag).
    target: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn inspect(a: InspectArgs) -> anyhow::Result<()> {
    let path = PathBuf::from(&a.target);
    let bytes = if path.exists() {
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
    } else {
        crate::oci::pull(&a.target)
            .with_context(|| format!("`{}` is neither a file nor a pullable reference", a.target))?
            .0
    };
    let report =
        crate::inspect::inspect(&bytes).with_context(|| format!("inspecting {}", a.target))?;
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
}

pub fn package(a: PackageArgs) -> anyhow::Result<()> {
    let p = crate::oci::package(&a.component, &a.output)?;
    println!(
        "wrote an OCI image layout to {} (manifest {}); pin the component with digest = \"{}\"",
        a.output.display(),
        p.manifest,
        p.component_digest
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// The component file.
    component: PathBuf,
    /// Where to push it: registry/repository:tag.
    reference: String,
}

pub fn push(a: PushArgs) -> anyhow::Result<()> {
    let p = crate::oci::push(&a.component, &a.reference)?;
    println!(
        "pushed {} to {} ({}); pin it with oci = \"{}\" and digest = \"{}\"",
        a.component.display(),
        a.reference,
        p.manifest,
        a.reference,
        p.component_digest
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
    /// Refuse the artifact unless its component has this digest.
    #[arg(long)]
    digest: Option<String>,
}

pub fn pull(a: PullArgs) -> anyhow::Result<()> {
    let (bytes, digest) = crate::oci::pull(&a.reference)?;
    if let Some(pinned) = &a.digest {
        crate::component::check_pin(&format!("the component at {}", a.reference), &bytes, pinned)?;
    }
    wasm_runtime::contract::check_component(&bytes)
        .with_context(|| format!("{} is not a component this host serves", a.reference))?;
    std::fs::write(&a.output, &bytes).with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "pulled {} to {} ({digest})",
        a.reference,
        a.output.display()
    );
    Ok(())
}
