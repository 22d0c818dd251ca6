//! The mock's index: datasources, documents (ids case-insensitive) and users, validation as
//! Glean does it, permission evaluation, and an optional state file written atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use glean_api::{CustomDatasourceConfig, DatasourceUserDefinition, DocumentDefinition};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Datasource {
    config: CustomDatasourceConfig,
    /// Lower-cased "objectType/id" to document.
    documents: BTreeMap<String, DocumentDefinition>,
    /// Lower-cased email to user.
    users: BTreeMap<String, DatasourceUserDefinition>,
}

/// Everything indexed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    datasources: BTreeMap<String, Datasource>,
    #[serde(skip)]
    state_file: Option<PathBuf>,
}

fn key(object_type: &str, id: &str) -> String {
    format!("{}/{}", object_type.to_lowercase(), id.to_lowercase())
}

impl Index {
    pub fn load(state_file: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut index = match &state_file {
            Some(p) if p.exists() => serde_json::from_slice(&std::fs::read(p)?)
                .map_err(|e| anyhow::anyhow!("the state file {} is not a mock index: {e}", p.display()))?,
            _ => Index::default(),
        };
        index.state_file = state_file;
        Ok(index)
    }

    fn persist(&self) {
        let Some(path) = &self.state_file else { return };
        let tmp = path.with_extension("tmp");
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            tracing::warn!("could not save the mock index to {}: {e}", path.display());
        }
    }

    pub fn add_datasource(&mut self, config: CustomDatasourceConfig) -> Result<(), String> {
        if config.name.is_empty() || !config.name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "datasource name `{}` must be ASCII letters and digits only",
                config.name
            ));
        }
        let ds = self.datasources.entry(config.name.clone()).or_default();
        ds.config = config;
        self.persist();
        Ok(())
    }

    pub fn datasource(&self, name: &str) -> Option<CustomDatasourceConfig> {
        self.datasources.get(name).map(|d| d.config.clone())
    }

    fn ds(&self, name: &str) -> Result<&Datasource, String> {
        self.datasources
            .get(name)
            .ok_or_else(|| format!("Datasource `{name}` doesn't exist; create it with /adddatasource first"))
    }

    /// Validates one document against its datasource.
    fn validate(ds: &Datasource, doc: &DocumentDefinition) -> Result<String, String> {
        let id = doc.id.as_deref().filter(|s| !s.is_empty()).ok_or("a document needs an `id`")?;
        if id.chars().count() > 200 {
            return Err(format!("document id `{id}` is longer than 200 characters"));
        }
        let object_type = doc.object_type.as_deref().unwrap_or_default();
        let declared = ds
            .config
            .object_definitions
            .iter()
            .flatten()
            .find(|o| o.name.as_deref() == Some(object_type));
        let Some(declared) = declared else {
            return Err(format!(
                "objectType `{object_type}` of document `{id}` is not declared in the datasource's objectDefinitions"
            ));
        };
        for (field, content) in [("body", &doc.body), ("summary", &doc.summary)] {
            if let Some(c) = content
                && c.mime_type.is_empty()
            {
                return Err(format!("document `{id}`: `{field}` needs a mimeType"));
            }
        }
        if let (Some(prefix), Some(url)) = (
            ds.config.url_regex.as_deref().map(regex_literal_prefix),
            doc.view_url.as_deref(),
        ) && !url.starts_with(&prefix)
        {
            return Err(format!(
                "document `{id}`: viewURL `{url}` does not match the datasource's urlRegex"
            ));
        }
        for p in doc.custom_properties.iter().flatten() {
            let name = p.name.as_deref().unwrap_or_default();
            let known = declared
                .property_definitions
                .iter()
                .flatten()
                .any(|d| d.name.as_deref() == Some(name));
            if !known {
                return Err(format!(
                    "document `{id}`: custom property `{name}` is not declared for objectType `{object_type}`"
                ));
            }
            if matches!(p.value, Some(serde_json::Value::Bool(_))) {
                return Err(format!("document `{id}`: custom property `{name}` may not be a boolean"));
            }
        }
        Ok(key(object_type, id))
    }

    pub fn index_documents(&mut self, datasource: &str, docs: Vec<DocumentDefinition>) -> Result<(), String> {
        let ds = self.ds(datasource)?;
        let mut keyed = Vec::with_capacity(docs.len());
        for mut d in docs {
            if d.datasource.is_empty() {
                d.datasource = datasource.to_string();
            }
            keyed.push((Self::validate(ds, &d)?, d));
        }
        let ds = self.datasources.get_mut(datasource).ok_or("datasource vanished")?;
        for (k, d) in keyed {
            ds.documents.insert(k, d);
        }
        self.persist();
        Ok(())
    }

    pub fn delete_document(&mut self, datasource: &str, object_type: &str, id: &str) -> Result<(), String> {
        self.ds(datasource)?;
        if let Some(ds) = self.datasources.get_mut(datasource) {
            ds.documents.remove(&key(object_type, id));
        }
        self.persist();
        Ok(())
    }

    pub fn replace_users(&mut self, datasource: &str, users: Vec<DatasourceUserDefinition>, replace: bool) -> Result<(), String> {
        self.ds(datasource)?;
        let ds = self.datasources.get_mut(datasource).ok_or("datasource vanished")?;
        if replace {
            ds.users.clear();
        }
        for u in users {
            if u.email.is_empty() {
                return Err("a user needs an email".into());
            }
            ds.users.insert(u.email.to_lowercase(), u);
        }
        self.persist();
        Ok(())
    }

    pub fn documents(&self, datasource: &str) -> Vec<DocumentDefinition> {
        let mut docs: Vec<_> = self
            .datasources
            .get(datasource)
            .map(|d| d.documents.values().cloned().collect())
            .unwrap_or_default();
        docs.sort_by(|a: &DocumentDefinition, b| a.id.cmp(&b.id));
        docs
    }

    pub fn users(&self, datasource: &str) -> Vec<DatasourceUserDefinition> {
        self.datasources
            .get(datasource)
            .map(|d| d.users.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Glean's rules: anonymous access; all datasource users (the user must be indexed into
    /// the datasource); or the user listed by email and indexed. No grant: nobody.
    pub fn check_access(&self, datasource: &str, object_type: &str, doc_id: &str, email: &str) -> bool {
        let Some(ds) = self.datasources.get(datasource) else {
            return false;
        };
        let Some(doc) = ds.documents.get(&key(object_type, doc_id)) else {
            return false;
        };
        let Some(p) = &doc.permissions else {
            return false;
        };
        if p.allow_anonymous_access == Some(true) {
            return true;
        }
        let email = email.to_lowercase();
        let indexed = ds.users.contains_key(&email);
        if p.allow_all_datasource_users_access == Some(true) && indexed {
            return true;
        }
        indexed
            && p.allowed_users.iter().flatten().any(|u| {
                u.email.as_deref().map(str::to_lowercase).as_deref() == Some(email.as_str())
            })
    }
}

/// The literal part of a URL regex up to its first metacharacter, unescaped
/// (`https://copilot\.clari\.com/call/.*` gives `https://copilot.clari.com/call/`).
fn regex_literal_prefix(re: &str) -> String {
    let mut out = String::new();
    let mut chars = re.trim_start_matches('^').chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if !n.is_ascii_alphanumeric() => out.push(n),
                _ => break,
            },
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '$' | '^' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes() {
        assert_eq!(regex_literal_prefix("https://copilot\\.clari\\.com/call/.*"), "https://copilot.clari.com/call/");
        assert_eq!(regex_literal_prefix("^https://x\\.com/a(b)"), "https://x.com/a");
    }
}
