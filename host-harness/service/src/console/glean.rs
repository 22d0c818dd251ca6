//! What the console asks of a tenant's Glean: a search made as a user (the client API's
//! `/rest/api/v1/search` with `X-Glean-ActAs`), one document's status and permissions (the
//! indexing API's `debug/{datasource}/document`), and, where the server offers them (the mock
//! does; real Glean has no listing), the datasource's identities and stored documents.
//! Blocking HTTP: call from a blocking task.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use glean_api::DocumentDefinition;
use glean_api::search::{SearchRequest, SearchResponse};
use serde_json::Value;

/// One Glean target: where it is, its token, the datasource.
#[derive(Clone)]
pub struct GleanTarget {
    pub base_url: String,
    pub token: egress::secrets::Secret,
    pub datasource: String,
}

/// A person in the datasource's identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

impl GleanTarget {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn post(
        &self,
        path: &str,
        act_as: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<(u16, String)> {
        let mut req = agent()
            .post(&self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token.expose()));
        if let Some(u) = act_as {
            req = req.header("X-Glean-ActAs", u);
        }
        let mut resp = req
            .send_json(body)
            .with_context(|| format!("Glean at {} did not answer", self.base_url))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .context("reading Glean's answer")?;
        Ok((status, text))
    }

    fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut resp = agent()
            .get(&self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token.expose()))
            .call()
            .with_context(|| format!("Glean at {} did not answer", self.base_url))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .context("reading Glean's answer")?;
        Ok((status, text))
    }

    /// Searches as `email`.
    pub fn search(&self, email: &str, request: &SearchRequest) -> anyhow::Result<SearchResponse> {
        let (status, text) = self.post(
            "/rest/api/v1/search",
            Some(email),
            &serde_json::to_value(request)?,
        )?;
        if status != 200 {
            anyhow::bail!("Glean refused the search ({status}): {}", short(&text));
        }
        serde_json::from_str(&text).context("Glean's search answer is not what its API describes")
    }

    /// The identity store, or `None` when this Glean does not list it (only the mock does).
    pub fn people(&self) -> anyhow::Result<Option<Vec<Person>>> {
        let (status, text) = self.get(&format!("/_mock/datasources/{}/users", self.datasource))?;
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            anyhow::bail!(
                "Glean refused the identity listing ({status}): {}",
                short(&text)
            );
        }
        let users: Vec<Value> = serde_json::from_str(&text).context("the identity listing")?;
        let mut people: Vec<Person> = users
            .iter()
            .filter_map(|u| {
                let email = u.get("email")?.as_str()?.to_string();
                let name = u
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&email)
                    .to_string();
                Some(Person { email, name })
            })
            .collect();
        people.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(Some(people))
    }

    /// Every stored document by id, or `None` when this Glean does not list them.
    pub fn documents(&self) -> anyhow::Result<Option<BTreeMap<String, DocumentDefinition>>> {
        let (status, text) =
            self.get(&format!("/_mock/datasources/{}/documents", self.datasource))?;
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            anyhow::bail!(
                "Glean refused the document listing ({status}): {}",
                short(&text)
            );
        }
        let docs: Vec<DocumentDefinition> =
            serde_json::from_str(&text).context("the document listing")?;
        Ok(Some(
            docs.into_iter()
                .filter_map(|d| Some((d.id.clone()?, d)))
                .collect(),
        ))
    }

    /// One document's status and uploaded permissions, as the indexing API's debug endpoint
    /// reports them.
    pub fn debug_document(&self, object_type: &str, id: &str) -> anyhow::Result<Value> {
        let (status, text) = self.post(
            &format!("/api/index/v1/debug/{}/document", self.datasource),
            None,
            &serde_json::json!({"objectType": object_type, "docId": id}),
        )?;
        if status != 200 {
            anyhow::bail!(
                "Glean refused the document lookup ({status}): {}",
                short(&text)
            );
        }
        serde_json::from_str(&text).context("Glean's debug answer")
    }
}

fn short(text: &str) -> String {
    crawl_engine::text::truncate(text, 300)
}
