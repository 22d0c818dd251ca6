//! The connectors built into the harness binary: each guest component of this repository that
//! the build script embeds, by its machine name. A configuration names one with
//! `[connector] builtin = "NAME"` (no `builtin`, `component` or `oci`: `claricopilot`, the
//! first connector, as before). The host treats them as it treats any other component: the
//! catalogue is data (name, bytes), and nothing else in the host knows which source one talks to.

/// A component embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Builtin {
    /// The connector's machine name, as its `describe` says it.
    pub name: &'static str,
    pub display_name: &'static str,
    /// Its mark in the console: an inline SVG, drawn here.
    pub icon: &'static str,
    bytes: &'static [u8],
}

const CLARI_COPILOT: Builtin = Builtin {
    name: "claricopilot",
    display_name: "Clari Copilot",
    icon: r##"<svg width="28" height="28" viewBox="0 0 28 28" role="img" aria-label="Clari Copilot"><rect width="28" height="28" rx="6" fill="#5a2ee5"/><path d="M19.5 9.2a7 7 0 1 0 0 9.6" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round"/><circle cx="20" cy="14" r="2" fill="#7cf0c5"/></svg>"##,
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/clari_copilot_connector.wasm")),
};

const GONG: Builtin = Builtin {
    name: "gong",
    display_name: "Gong",
    icon: r##"<svg width="28" height="28" viewBox="0 0 28 28" role="img" aria-label="Gong"><rect width="28" height="28" rx="6" fill="#8039df"/><circle cx="14" cy="14" r="7" stroke="#fff" stroke-width="3" fill="none"/><circle cx="14" cy="14" r="2.5" fill="#ffd23f"/></svg>"##,
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/gong_connector.wasm")),
};

/// Every built-in connector.
pub const ALL: &[Builtin] = &[CLARI_COPILOT, GONG];

impl Builtin {
    /// The built-in connector of a configuration that names none.
    pub fn default_connector() -> Builtin {
        CLARI_COPILOT
    }

    /// The built-in connector called `name`, or an error listing the ones there are.
    pub fn named(name: &str) -> anyhow::Result<Builtin> {
        ALL.iter().copied().find(|b| b.name == name).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|b| b.name).collect();
            anyhow::anyhow!(
                "[connector] builtin = \"{name}\" names no built-in connector; the harness has {} (or name a component file with `component`)",
                names.join(", ")
            )
        })
    }

    /// The component's bytes, or why the build left them out.
    pub fn bytes(&self) -> anyhow::Result<&'static [u8]> {
        crate::embedded(self.display_name, self.bytes)
    }

    /// The bytes and their digest, hashed once per process.
    pub fn with_digest(&self) -> anyhow::Result<(&'static [u8], &'static str)> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static DIGESTS: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
        let bytes = self.bytes()?;
        let mut map = DIGESTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let digest = *map.entry(self.name).or_insert_with(|| {
            // Leaked once per built-in connector (two strings per process).
            Box::leak(wasm_runtime::component_digest(bytes).into_boxed_str())
        });
        Ok((bytes, digest))
    }

    /// The component as a file (for tests and tools that take a path).
    pub fn as_file(&self) -> anyhow::Result<std::path::PathBuf> {
        crate::as_temp_file(self.name, self.bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_found_by_name_and_unknown_names_list_the_choices() {
        for b in ALL {
            assert_eq!(Builtin::named(b.name).unwrap(), *b);
        }
        let e = Builtin::named("salesforce").unwrap_err().to_string();
        assert!(e.contains("claricopilot, gong"), "{e}");
    }

    #[test]
    fn each_builtin_describes_itself_by_its_catalogue_name() {
        let runtime = wasm_runtime::Runtime::new().unwrap();
        for b in ALL {
            let compiled = runtime.load(b.bytes().unwrap()).unwrap();
            let instance = wasm_runtime::WasmSource::offline(
                compiled,
                Default::default(),
                wasm_runtime::GuestClock::System,
                "describe",
            );
            let info = crawl_engine::Source::describe(&instance).unwrap();
            assert_eq!(info.name, b.name);
        }
    }
}
