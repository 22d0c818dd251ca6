//! What the console reads and fetches of one tenant, on one machine or with replicas: its
//! state (the SQLite file beside its configuration, or its rows in PostgreSQL read without a
//! lease, whoever holds it) and the run options of a fetch from its source (the tenant's
//! instance, and with replicas its state under this replica's lease: only the holder fetches,
//! so the source sees one replica's rate and every request is counted in the database).

use crawl_engine::StateStore;
use tenant_instance::config::Config;
use tenant_instance::setup::RunOptions;

use super::Service;

impl Service {
    /// Tenant `name`'s state, to read.
    pub fn read_state(&self, name: &str, config: &Config) -> anyhow::Result<Box<dyn StateStore>> {
        if let Some(c) = &self.options.cluster {
            return c.read_state(name);
        }
        let path = config
            .state_dir
            .join(format!("{}.state.sqlite", config.name));
        if !path.exists() {
            anyhow::bail!("no state yet: the tenant has not crawled");
        }
        Ok(Box::new(state_store::SqliteStore::open(
            &config.state_dir,
            &config.name,
        )?))
    }

    /// How to prepare a fetch from tenant `name`'s source in this process, or why not here.
    pub fn fetch_options(&self, name: &str) -> Result<RunOptions, String> {
        let instance = self
            .instance(name)
            .ok_or_else(|| format!("there is no tenant `{}`", super::tenant_file::excerpt(name)))?;
        let state = match &self.options.cluster {
            None => None,
            Some(c) => {
                let Some(held) = c.holds(name) else {
                    return Err(match c.holder(name) {
                        Some(r) => format!(
                            "replica `{}` holds this tenant: fetch from its console (only the holder reaches the source)",
                            super::tenant_file::excerpt(&r)
                        ),
                        None => {
                            "no replica holds this tenant right now: try again in a few seconds"
                                .into()
                        }
                    });
                };
                Some(c.open_state(&held).map_err(|e| format!("{e:#}"))?)
            }
        };
        Ok(RunOptions::new().with_instance(instance).with_state(state))
    }
}
