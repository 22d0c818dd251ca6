//! What `harness check` validates beyond the connector's own check: everything a crawl will,
//! so that `check` says ok only where a crawl can run. The connector's declaration (the
//! datasource name, object types and property names, the URL pattern), one authenticated
//! read against Glean, and one sampled item mapped as a crawl maps it (its URL against the
//! declared pattern, its properties against the declared ones). Each problem says what to
//! change.

use anyhow::Context;
use crawl_engine::types::{ChangeState, ConnectorInfo, CrawlMode, Item, ListingNext};

use crate::config::Config;
use crate::setup::Prepared;

/// Guest text quoted in a message: escaped, bounded, in backticks.
fn q(text: &str) -> String {
    format!("`{}`", egress::quote::quote(text))
}

/// Listing pages looked through for an item to sample.
const SAMPLE_PAGES: usize = 3;

/// Problems with the connector's declaration for `datasource`, each saying what to change.
pub fn declaration(datasource: &str, info: &ConnectorInfo) -> Vec<String> {
    let mut problems = Vec::new();
    if datasource.is_empty() || !datasource.chars().all(|c| c.is_ascii_alphanumeric()) {
        problems.push(format!(
            "the datasource name {} must be ASCII letters and digits only (Glean refuses it): set [glean] datasource",
            q(datasource)
        ));
    }
    for o in &info.object_types {
        if let Some(why) = machine_name(&o.name) {
            problems.push(format!(
                "the connector's object type {} {why}: the connector must rename it",
                q(&o.name)
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &o.properties {
            if let Some(why) = machine_name(&p.name) {
                problems.push(format!(
                    "property {} of object type {} {why} (the contract wants camelCase): the connector must rename it",
                    q(&p.name),
                    q(&o.name)
                ));
            }
            if !seen.insert(p.name.as_str()) {
                problems.push(format!(
                    "property {} is declared twice on object type {}",
                    q(&p.name),
                    q(&o.name)
                ));
            }
        }
    }
    if let Err(e) = url_matcher(&info.url_pattern) {
        problems.push(e);
    }
    problems
}

/// Why `name` is not a machine name (letters and digits, starting with a letter), if not.
fn machine_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains('_') {
        Some("has an underscore")
    } else if name.contains(char::is_whitespace) {
        Some("has a space")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some("has characters other than ASCII letters and digits")
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("does not start with a letter")
    } else {
        None
    }
}

/// The declared URL pattern as Glean applies it: to the whole URL.
fn url_matcher(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        format!(
            "the connector's URL pattern {} is not a regular expression Glean accepts: {e}",
            q(pattern)
        )
    })
}

/// One authenticated read against Glean: a refused token or an unreachable index fails here,
/// not in the first crawl. A datasource that does not exist yet is fine (the first crawl
/// registers it).
pub fn glean(config: &Config, datasource: &str) -> anyhow::Result<()> {
    let client = glean_api::GleanClient::new(
        &config.glean.base_url,
        config.glean.token.expose().to_string(),
    )
    .map_err(|e| anyhow::anyhow!("[glean] {e}"))?
    .with_timeout(config.http_timeout);
    match client.get_datasource_config(datasource) {
        Ok(_) | Err(glean_api::GleanError::BadRequest { .. }) => Ok(()),
        Err(e @ glean_api::GleanError::Unauthorized(_)) => Err(anyhow::anyhow!(
            "{e}: set the token in [glean] {}",
            match config.glean.token_from {
                crate::config::SecretFrom::Env(_) => "token_env",
                crate::config::SecretFrom::File(_) => "token_file",
            }
        )),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "reading the datasource from Glean at {}",
            config.glean.base_url
        ))),
    }
}

/// Lists up to [`SAMPLE_PAGES`] pages of a full crawl and fetches the first eligible item,
/// then checks it as the index will: its URL against the declared pattern and its properties
/// against the declared ones. `Ok(None)`: nothing eligible to sample.
pub fn sample(p: &Prepared, datasource: &str) -> anyhow::Result<Option<String>> {
    let mut cursor: Option<String> = None;
    for _ in 0..SAMPLE_PAGES {
        let page = p
            .connector
            .list_changes(CrawlMode::Full, cursor.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("listing a page to sample an item")?;
        let ready = page.changes.iter().find_map(|c| match c.state {
            ChangeState::Ready(v) => Some((c.id.clone(), v)),
            ChangeState::Skipped(_) => None,
        });
        if let Some((id, visibility)) = ready {
            let (item, perms) = p
                .connector
                .fetch_with_permissions(&id, visibility)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("fetching the sampled item {}", q(&id)))?;
            item_problems(&item, &p.info)?;
            index_sink::glean_mapping::to_document(datasource, &item, &perms)
                .with_context(|| format!("mapping the sampled item {}", q(&id)))?;
            return Ok(Some(id));
        }
        match page.next {
            ListingNext::More(next) => cursor = Some(next),
            ListingNext::Done(_) => break,
        }
    }
    Ok(None)
}

/// The sampled item as the index would refuse it.
fn item_problems(item: &Item, info: &ConnectorInfo) -> anyhow::Result<()> {
    let matcher = url_matcher(&info.url_pattern).map_err(|e| anyhow::anyhow!(e))?;
    if !matcher.is_match(&item.url) {
        anyhow::bail!(
            "the sampled item {} has the URL {}, which does not match the connector's URL pattern {}: Glean refuses such a document (the connector must make them agree)",
            q(&item.id),
            q(&item.url),
            q(&info.url_pattern)
        );
    }
    let Some(declared) = info
        .object_types
        .iter()
        .find(|o| o.name == item.object_type)
    else {
        anyhow::bail!(
            "the sampled item {} has the object type {}, which the connector does not declare",
            q(&item.id),
            q(&item.object_type)
        );
    };
    for prop in &item.properties {
        if !declared.properties.iter().any(|d| d.name == prop.name) {
            anyhow::bail!(
                "the sampled item {} has the property {}, which object type {} does not declare",
                q(&item.id),
                q(&prop.name),
                q(&declared.name)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crawl_engine::types::{
        AccessFacts, ObjectType, Property, PropertyDefinition, PropertyKind, PropertyValue,
        Visibility,
    };

    fn info(property: &str, pattern: &str) -> ConnectorInfo {
        ConnectorInfo {
            name: "notes".into(),
            display_name: "Notes".into(),
            version: "1.0.0".into(),
            url_pattern: pattern.into(),
            upstreams: vec![],
            object_types: vec![ObjectType {
                name: "note".into(),
                display_label: "Note".into(),
                properties: vec![PropertyDefinition {
                    name: property.into(),
                    display_label: "Topic".into(),
                    kind: PropertyKind::Text,
                    facet: false,
                }],
            }],
        }
    }

    fn item(url: &str, property: &str) -> Item {
        Item {
            id: "n1".into(),
            object_type: "note".into(),
            title: "A note".into(),
            url: url.into(),
            body: String::new(),
            summary: None,
            author: None,
            created_at: None,
            updated_at: None,
            container: None,
            tags: vec![],
            properties: vec![Property {
                name: property.into(),
                value: PropertyValue::Text("x".into()),
            }],
            access: AccessFacts {
                visibility: Visibility::Public,
                members: None,
            },
        }
    }

    #[test]
    fn a_declaration_a_crawl_would_trip_on_is_refused_with_what_to_change() {
        let good = info("topicName", "https://notes\\.example/n/.*");
        assert!(declaration("notes", &good).is_empty());
        let dashed = declaration("notes-dev", &good);
        assert!(
            dashed[0].contains("ASCII letters and digits")
                && dashed[0].contains("[glean] datasource"),
            "{dashed:?}"
        );
        let underscored = declaration("notes", &info("topic_name", "https://x/.*"));
        assert!(
            underscored[0].contains("has an underscore"),
            "{underscored:?}"
        );
        let bad_regex = declaration("notes", &info("topic", "https://x/(unclosed"));
        assert!(
            bad_regex[0].contains("not a regular expression"),
            "{bad_regex:?}"
        );
    }

    #[test]
    fn a_sampled_item_is_checked_as_the_index_checks_it() {
        let i = info("topic", "https://notes\\.example/n/.*");
        assert!(item_problems(&item("https://notes.example/n/1", "topic"), &i).is_ok());
        // The whole URL must match, as Glean matches it.
        let e = item_problems(
            &item("https://evil.example/?u=https://notes.example/n/1", "topic"),
            &i,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("does not match the connector's URL pattern"),
            "{e}"
        );
        let e = item_problems(&item("https://notes.example/n/1", "other"), &i)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not declare"), "{e}");
    }
}
