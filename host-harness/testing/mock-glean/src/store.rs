//! The mock's index: datasources, documents (ids case-insensitive) and users, validation as
//! Glean does it, permission evaluation, and an optional state file written atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use glean_api::{CustomDatasourceConfig, DatasourceUserDefinition, DocumentDefinition};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Datasource {
    config: CustomDatasourceConfig,
    /// Lower-cased "objectType/id" to document.
    documents: BTreeMap<String, DocumentDefinition>,
    /// When each document was last uploaded (epoch seconds), by the same key.
    #[serde(default)]
    uploaded_at: BTreeMap<String, i64>,
    /// Lower-cased email to user.
    users: BTreeMap<String, DatasourceUserDefinition>,
    #[serde(default)]
    groups: BTreeSet<String>,
    /// Group name to its members.
    #[serde(default)]
    memberships: BTreeMap<String, BTreeSet<Member>>,
    /// The document bulk upload in progress, if any.
    #[serde(default)]
    upload: Option<Upload>,
    /// The user bulk upload in progress, if any.
    #[serde(default)]
    user_upload: Option<Upload>,
    #[serde(default)]
    history: Vec<UploadEvent>,
}

/// A member of a group: a user (by email) or another group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Member {
    User(String),
    Group(String),
}

/// An open bulk upload: its id and the keys its pages carried.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Upload {
    id: String,
    seen: BTreeSet<String>,
    started: i64,
}

/// One bulk upload, for `/debug/{datasource}/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadEvent {
    pub upload_id: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// `ACTIVE` or `SUCCESSFUL`.
    pub status: String,
    /// `UPLOAD IN PROGRESS`, `UPLOAD COMPLETED` or `DELETION PAUSED`.
    pub processing_state: String,
}

/// A bulk page's flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub first: bool,
    pub last: bool,
    pub force_restart: bool,
    pub disable_stale_check: bool,
}

/// Share of the indexed documents an upload may delete before deletion pauses.
pub const STALE_DELETION_GUARD: f64 = 0.2;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Everything indexed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    datasources: BTreeMap<String, Datasource>,
    #[serde(skip)]
    state_file: Option<PathBuf>,
    /// Authorized calls to the indexing API, by endpoint (for tests that count requests).
    #[serde(skip)]
    calls: BTreeMap<String, u64>,
}

fn key(object_type: &str, id: &str) -> String {
    format!("{}/{}", object_type.to_lowercase(), id.to_lowercase())
}

impl Index {
    /// Counts one authorized call to `endpoint` (bounded: the mock knows its endpoints, and an
    /// unknown one is counted under one key).
    pub fn count_call(&mut self, endpoint: &str) {
        let key = if endpoint.len() <= 64 && endpoint.bytes().all(|b| b.is_ascii_alphanumeric()) {
            endpoint
        } else {
            "(other)"
        };
        *self.calls.entry(key.to_string()).or_default() += 1;
    }

    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.clone()
    }

    pub fn load(state_file: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut index = match &state_file {
            Some(p) if p.exists() => serde_json::from_slice(&std::fs::read(p)?).map_err(|e| {
                anyhow::anyhow!("the state file {} is not a mock index: {e}", p.display())
            })?,
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
        if let Some(pattern) = config.url_regex.as_deref() {
            regex_lite::Regex::new(pattern).map_err(|e| {
                format!("urlRegex `{pattern}` is not a valid regular expression: {e}")
            })?;
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
        self.datasources.get(name).ok_or_else(|| {
            format!("Datasource `{name}` doesn't exist; create it with /adddatasource first")
        })
    }

    /// Validates one document against its datasource.
    fn validate(ds: &Datasource, doc: &DocumentDefinition) -> Result<String, String> {
        let id = doc
            .id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or("a document needs an `id`")?;
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
        if let (Some(pattern), Some(url)) =
            (ds.config.url_regex.as_deref(), doc.view_url.as_deref())
        {
            // Glean matches the whole URL against the datasource's urlRegex.
            let anchored = format!("^(?:{pattern})$");
            let re = regex_lite::Regex::new(&anchored).map_err(|e| {
                format!("the datasource's urlRegex `{pattern}` is not a valid regex: {e}")
            })?;
            if !re.is_match(url) {
                return Err(format!(
                    "document `{id}`: viewURL `{url}` does not match the datasource's urlRegex `{pattern}`"
                ));
            }
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
                return Err(format!(
                    "document `{id}`: custom property `{name}` may not be a boolean"
                ));
            }
        }
        Ok(key(object_type, id))
    }

    pub fn index_documents(
        &mut self,
        datasource: &str,
        docs: Vec<DocumentDefinition>,
    ) -> Result<(), String> {
        let ds = self.ds(datasource)?;
        let mut keyed = Vec::with_capacity(docs.len());
        for mut d in docs {
            if d.datasource.is_empty() {
                d.datasource = datasource.to_string();
            }
            keyed.push((Self::validate(ds, &d)?, d));
        }
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        let t = now();
        for (k, d) in keyed {
            ds.uploaded_at.insert(k.clone(), t);
            if let Some(u) = ds.upload.as_mut() {
                u.seen.insert(k.clone());
            }
            ds.documents.insert(k, d);
        }
        self.persist();
        Ok(())
    }

    /// One page of `/bulkindexdocuments`. The first page opens the upload (refused while
    /// another is open, unless `forceRestartUpload`); middle pages may arrive in any order;
    /// the last page closes it and deletes the documents no page carried — unless that is more
    /// than 20% of the index and `disableStaleDocumentDeletionCheck` is not set, in which case
    /// deletion pauses ("DELETION PAUSED" in the debug status).
    pub fn bulk_documents(
        &mut self,
        datasource: &str,
        upload_id: &str,
        page: Page,
        docs: Vec<DocumentDefinition>,
    ) -> Result<(), String> {
        if page.force_restart && !page.first {
            return Err("forceRestartUpload must be sent with isFirstPage=true".into());
        }
        if page.disable_stale_check && !page.last {
            return Err(
                "disableStaleDocumentDeletionCheck is only honoured with isLastPage=true".into(),
            );
        }
        let ds = self.datasources.get_mut(datasource).ok_or_else(|| {
            format!("Datasource `{datasource}` doesn't exist; create it with /adddatasource first")
        })?;
        open_page(ds, upload_id, &page)?;
        self.index_documents(datasource, docs)?;
        if page.last {
            let ds = self
                .datasources
                .get_mut(datasource)
                .ok_or("datasource vanished")?;
            close_upload(ds, page.disable_stale_check);
            self.persist();
        }
        Ok(())
    }

    pub fn delete_document(
        &mut self,
        datasource: &str,
        object_type: &str,
        id: &str,
    ) -> Result<(), String> {
        self.ds(datasource)?;
        if let Some(ds) = self.datasources.get_mut(datasource) {
            ds.documents.remove(&key(object_type, id));
            ds.uploaded_at.remove(&key(object_type, id));
        }
        self.persist();
        Ok(())
    }

    /// One page of `/bulkindexusers`: pages accumulate; the last page replaces the user list
    /// with what the upload carried (removed users lose their memberships).
    pub fn bulk_users(
        &mut self,
        datasource: &str,
        upload_id: &str,
        page: Page,
        users: Vec<DatasourceUserDefinition>,
    ) -> Result<(), String> {
        self.ds(datasource)?;
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        if page.first {
            if let Some(open) = &ds.user_upload
                && open.id != upload_id
                && !page.force_restart
            {
                return Err(format!(
                    "user upload `{}` is still in progress; finish it or restart with forceRestartUpload=true",
                    open.id
                ));
            }
            ds.user_upload = Some(Upload {
                id: upload_id.to_string(),
                seen: BTreeSet::new(),
                started: now(),
            });
        }
        let Some(upload) = ds.user_upload.as_mut().filter(|u| u.id == upload_id) else {
            return Err(format!(
                "user upload `{upload_id}` was never started; send its first page with isFirstPage=true"
            ));
        };
        for u in &users {
            if u.email.is_empty() || u.name.is_empty() {
                return Err("every user needs an email and a name".into());
            }
            upload.seen.insert(u.email.to_lowercase());
        }
        for u in users {
            ds.users.insert(u.email.to_lowercase(), u);
        }
        if page.last {
            let seen = ds.user_upload.take().map(|u| u.seen).unwrap_or_default();
            ds.users.retain(|email, _| seen.contains(email));
            for members in ds.memberships.values_mut() {
                members.retain(|m| !matches!(m, Member::User(e) if !seen.contains(e)));
            }
        }
        self.persist();
        Ok(())
    }

    pub fn index_user(
        &mut self,
        datasource: &str,
        user: DatasourceUserDefinition,
    ) -> Result<(), String> {
        self.ds(datasource)?;
        if user.email.is_empty() || user.name.is_empty() {
            return Err("a user needs an email and a name".into());
        }
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        ds.users.insert(user.email.to_lowercase(), user);
        self.persist();
        Ok(())
    }

    /// Deletes a user and its memberships (succeeds when absent).
    pub fn delete_user(&mut self, datasource: &str, email: &str) -> Result<(), String> {
        self.ds(datasource)?;
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        let email = email.to_lowercase();
        ds.users.remove(&email);
        for members in ds.memberships.values_mut() {
            members.remove(&Member::User(email.clone()));
        }
        self.persist();
        Ok(())
    }

    /// Adds groups; with `replace`, the datasource's groups become exactly these.
    pub fn index_groups(
        &mut self,
        datasource: &str,
        groups: Vec<String>,
        replace: bool,
    ) -> Result<(), String> {
        self.ds(datasource)?;
        for g in &groups {
            if g.is_empty() || g.chars().any(char::is_whitespace) || g.starts_with("scio") {
                return Err(format!(
                    "group name `{g}` must be non-empty, without whitespace, and not start with `scio`"
                ));
            }
        }
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        if replace {
            let keep: BTreeSet<String> = groups.iter().cloned().collect();
            ds.groups.retain(|g| keep.contains(g));
            ds.memberships.retain(|g, _| keep.contains(g));
        }
        ds.groups.extend(groups);
        self.persist();
        Ok(())
    }

    /// Deletes a group, its memberships and its membership in other groups.
    pub fn delete_group(&mut self, datasource: &str, group: &str) -> Result<(), String> {
        self.ds(datasource)?;
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        ds.groups.remove(group);
        ds.memberships.remove(group);
        for members in ds.memberships.values_mut() {
            members.remove(&Member::Group(group.to_string()));
        }
        self.persist();
        Ok(())
    }

    /// Adds members to `group` (which must exist); with `replace` they become its only members.
    pub fn index_memberships(
        &mut self,
        datasource: &str,
        group: &str,
        members: Vec<Member>,
        replace: bool,
    ) -> Result<(), String> {
        let ds = self.ds(datasource)?;
        if !ds.groups.contains(group) {
            return Err(format!(
                "group `{group}` does not exist; index it with /indexgroup first"
            ));
        }
        let ds = self
            .datasources
            .get_mut(datasource)
            .ok_or("datasource vanished")?;
        let set = ds.memberships.entry(group.to_string()).or_default();
        if replace {
            set.clear();
        }
        set.extend(members.into_iter().map(|m| match m {
            Member::User(e) => Member::User(e.to_lowercase()),
            g => g,
        }));
        self.persist();
        Ok(())
    }

    /// Whether `email` is in `group`, directly or through nested groups.
    fn in_group(ds: &Datasource, group: &str, email: &str, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        ds.memberships.get(group).is_some_and(|members| {
            members.iter().any(|m| match m {
                Member::User(e) => e == email,
                Member::Group(g) => Self::in_group(ds, g, email, depth + 1),
            })
        })
    }

    /// Debug information for one document: (status, uploaded permissions), if indexed.
    pub fn debug_document(
        &self,
        datasource: &str,
        object_type: &str,
        doc_id: &str,
    ) -> Option<(i64, serde_json::Value)> {
        let ds = self.datasources.get(datasource)?;
        let k = key(object_type, doc_id);
        let doc = ds.documents.get(&k)?;
        Some((
            ds.uploaded_at.get(&k).copied().unwrap_or(0),
            serde_json::to_value(doc.permissions.clone().unwrap_or_default()).unwrap_or_default(),
        ))
    }

    /// Upload history and counts for `/debug/{datasource}/status`.
    pub fn status(
        &self,
        datasource: &str,
    ) -> Option<(Vec<UploadEvent>, BTreeMap<String, usize>, usize)> {
        let ds = self.datasources.get(datasource)?;
        let mut counts = BTreeMap::new();
        for d in ds.documents.values() {
            *counts
                .entry(d.object_type.clone().unwrap_or_default())
                .or_insert(0) += 1;
        }
        Some((ds.history.clone(), counts, ds.users.len()))
    }

    /// The user's status and the groups it belongs to, for `/debug/{datasource}/user`.
    pub fn debug_user(&self, datasource: &str, email: &str) -> Option<(bool, Vec<String>)> {
        let ds = self.datasources.get(datasource)?;
        let email = email.to_lowercase();
        let user = ds.users.get(&email);
        let groups = ds
            .groups
            .iter()
            .filter(|g| Self::in_group(ds, g, &email, 0))
            .cloned()
            .collect();
        Some((user.is_some_and(|u| u.is_active != Some(false)), groups))
    }

    /// Every indexed document of every datasource the user can see, with its datasource
    /// config: the search corpus.
    pub fn visible_documents(
        &self,
        email: &str,
        datasource: Option<&str>,
    ) -> Vec<(&CustomDatasourceConfig, &DocumentDefinition)> {
        self.datasources
            .iter()
            .filter(|(name, _)| datasource.is_none_or(|d| d.eq_ignore_ascii_case(name)))
            .flat_map(|(name, ds)| {
                ds.documents.values().filter_map(move |d| {
                    let k = key(
                        d.object_type.as_deref().unwrap_or_default(),
                        d.id.as_deref().unwrap_or_default(),
                    );
                    self.check_key(name, &k, email).then_some((&ds.config, d))
                })
            })
            .collect()
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

    /// How many documents `datasource` holds, if it exists.
    pub fn documents_if_exists(&self, datasource: &str) -> Option<usize> {
        self.datasources.get(datasource).map(|d| d.documents.len())
    }

    pub fn users(&self, datasource: &str) -> Vec<DatasourceUserDefinition> {
        self.datasources
            .get(datasource)
            .map(|d| d.users.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Glean's rules: anonymous access; all datasource users (the user must be indexed into
    /// the datasource); or the user listed by email and indexed. No grant: nobody.
    pub fn check_access(
        &self,
        datasource: &str,
        object_type: &str,
        doc_id: &str,
        email: &str,
    ) -> bool {
        self.check_key(datasource, &key(object_type, doc_id), email)
    }

    fn check_key(&self, datasource: &str, doc_key: &str, email: &str) -> bool {
        let Some(ds) = self.datasources.get(datasource) else {
            return false;
        };
        let Some(doc) = ds.documents.get(doc_key) else {
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
        if !indexed {
            return false;
        }
        let listed =
            p.allowed_users.iter().flatten().any(|u| {
                u.email.as_deref().map(str::to_lowercase).as_deref() == Some(email.as_str())
            });
        let in_group = p
            .allowed_groups
            .iter()
            .flatten()
            .any(|g| Self::in_group(ds, g, &email, 0));
        let in_intersection = p.allowed_group_intersections.iter().flatten().any(|i| {
            !i.required_groups.is_empty()
                && i.required_groups
                    .iter()
                    .all(|g| Self::in_group(ds, g, &email, 0))
        });
        listed || in_group || in_intersection
    }
}

/// Checks a page of a bulk document upload against the upload in progress: a first page
/// opens one (refused while another is open, unless forced), any other page must belong to
/// the open one.
fn open_page(ds: &mut Datasource, upload_id: &str, page: &Page) -> Result<(), String> {
    match (&ds.upload, page.first) {
        (Some(open), true) if open.id != upload_id && !page.force_restart => Err(format!(
            "upload `{}` is still in progress; finish it or send isFirstPage with forceRestartUpload=true",
            open.id
        )),
        (_, true) => {
            ds.upload = Some(Upload {
                id: upload_id.to_string(),
                seen: BTreeSet::new(),
                started: now(),
            });
            ds.history.push(UploadEvent {
                upload_id: upload_id.to_string(),
                start_time: now(),
                end_time: None,
                status: "ACTIVE".into(),
                processing_state: "UPLOAD IN PROGRESS".into(),
            });
            Ok(())
        }
        (Some(open), false) if open.id == upload_id => Ok(()),
        _ => Err(format!(
            "upload `{upload_id}` was never started; send its first page with isFirstPage=true"
        )),
    }
}

/// Closes the open bulk upload: deletes the documents no page carried, unless they are more
/// than [`STALE_DELETION_GUARD`] of the index and the check was not disabled ("DELETION
/// PAUSED" in the upload's history).
fn close_upload(ds: &mut Datasource, disable_stale_check: bool) {
    let upload = ds.upload.take().unwrap_or_default();
    let stale: Vec<String> = ds
        .documents
        .keys()
        .filter(|k| !upload.seen.contains(*k))
        .cloned()
        .collect();
    let share = stale.len() as f64 / ds.documents.len().max(1) as f64;
    let paused = share > STALE_DELETION_GUARD && !disable_stale_check;
    if !paused {
        for k in &stale {
            ds.documents.remove(k);
            ds.uploaded_at.remove(k);
        }
    }
    if let Some(ev) = ds
        .history
        .iter_mut()
        .rev()
        .find(|e| e.upload_id == upload.id)
    {
        ev.end_time = Some(now());
        ev.status = "SUCCESSFUL".into();
        ev.processing_state = if paused {
            "DELETION PAUSED"
        } else {
            "UPLOAD COMPLETED"
        }
        .into();
    }
    let _ = upload.started;
}
