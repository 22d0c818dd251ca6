//! `harness new NAME`: scaffolds a connector crate outside this repository — a small working
//! connector on the SDK (list, fetch, permissions, users), its unit tests on the SDK's test kit,
//! a recording to replay, and a harness configuration — that builds with `harness build` and
//! crawls under `harness crawl --replay` as it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct Args {
    /// The connector's machine name: lowercase ASCII letters and digits, starting with a letter
    /// (it names the index datasource).
    name: String,
    /// The directory to create (default: ./NAME); it must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The connector-sdk crate to build against (default: `guest/sdk` of the checkout this
    /// command runs in).
    #[arg(long)]
    sdk: Option<PathBuf>,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/connector/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/connector/lib.rs.tmpl"),
    ),
    (
        "harness.toml",
        include_str!("../../templates/connector/harness.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/connector/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/connector/gitignore.tmpl"),
    ),
    (
        "tapes/demo.tape",
        include_str!("../../templates/connector/demo.tape"),
    ),
];

pub fn run(a: Args) -> anyhow::Result<()> {
    check_name(&a.name)?;
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    let sdk = sdk_path(a.sdk.as_deref())?;
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty: choose another --dir",
            dir.display()
        );
    }
    let vars = variables(&a.name, &sdk);
    for (path, template) in TEMPLATES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&target, render(template, &vars))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    println!("created {} ({}-connector)", dir.display(), a.name);
    println!(
        "next: cd {} && cargo test && harness build . && harness crawl --config harness.toml --mode full --replay tapes/demo.tape --output-dir out",
        dir.display()
    );
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        bail!(
            "`{}` is not a connector name: use 1 to 32 lowercase ASCII letters and digits, starting with a letter (it names the index datasource), e.g. `notes`",
            name.escape_debug()
        );
    }
    Ok(())
}

/// The SDK crate: `--sdk`, else `guest/sdk` of a checkout above the current directory.
fn sdk_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let found = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir()?
            .ancestors()
            .map(|d| d.join("guest").join("sdk"))
            .find(|d| d.join("Cargo.toml").is_file())
            .context("no connector-sdk found above this directory: pass --sdk PATH (the guest/sdk folder of a checkout of this project)")?,
    };
    let manifest = std::fs::read_to_string(found.join("Cargo.toml")).with_context(|| {
        format!(
            "{} holds no Cargo.toml: pass --sdk the guest/sdk folder",
            found.display()
        )
    })?;
    if !manifest.contains("name = \"connector-sdk\"") {
        bail!("{} is not the connector-sdk crate", found.display());
    }
    let path = found.canonicalize()?;
    let text = path.to_str().context("the SDK's path is not UTF-8")?;
    if text.contains(['"', '\\']) {
        bail!("the SDK's path {text} holds a quote or backslash; move it");
    }
    Ok(path)
}

fn variables(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let mut display = name.to_string();
    if let Some(first) = display.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    vec![
        ("{{crate}}", format!("{name}-connector")),
        ("{{lib}}", format!("{name}_connector")),
        ("{{type}}", display.clone()),
        ("{{display}}", display),
        ("{{env}}", name.to_ascii_uppercase()),
        ("{{name}}", name.to_string()),
        ("{{sdk}}", sdk.display().to_string()),
    ]
}

fn render(template: &str, vars: &[(&str, String)]) -> String {
    vars.iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(key, value)
        })
}
