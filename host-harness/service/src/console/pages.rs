//! The console's HTML, rendered on the server with maud (every value is escaped by the
//! template). Read-only pages need no JavaScript; every action is a POST form carrying the
//! session's CSRF token.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::advice;
use super::format::{LOCAL_TIME_SCRIPT, highlight, relative, seconds, when, when_iso};
use crate::serve::{LastCrawl, TenantView};

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
header{background:#1f2a44;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfe0ff;text-decoration:none;font-weight:600}
header .brand{font-weight:700;color:#fff;margin-right:12px}
main{padding:20px 24px;max-width:1200px}
h1{font-size:20px;margin:0 0 12px} h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dfe3ec}
th,td{padding:6px 8px;border-bottom:1px solid #eceff5;text-align:left;vertical-align:top}
th{background:#f0f2f8;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.ok{background:#dff5e3;color:#1b6b2f}.warn{background:#fff1d6;color:#8a5a00}.bad{background:#fde2e1;color:#9b1c1c}.muted{color:#6b7385}
.card{background:#fff;border:1px solid #dfe3ec;border-radius:6px;padding:12px 16px;margin:10px 0}
.result{display:flex;gap:12px}.result .icon{flex:none}
.result a.title{font-size:16px;font-weight:600;color:#1a4fd6;text-decoration:none}
.meta{color:#5b6478;font-size:13px}.tag{display:inline-block;background:#eef2ff;color:#3346a6;border-radius:4px;padding:0 6px;margin:2px 4px 0 0;font-size:12px}
.why{font-size:12px;margin-top:4px}.hidden-from{background:#fde2e1;color:#9b1c1c;border-radius:4px;padding:0 6px}
.layout{display:flex;gap:20px}.facets{width:240px;flex:none}.facets ul{list-style:none;padding:0;margin:0 0 12px}.facets li{margin:2px 0}
.facets a{text-decoration:none;color:#1a4fd6}.facets .on{font-weight:700}
mark{background:#fff3a3;padding:0 1px}
form.inline{display:inline}button{cursor:pointer}
.error{background:#fde2e1;border:1px solid #f5b5b2;padding:8px 12px;border-radius:6px}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fb;border:1px solid #e3e6ee;padding:8px;max-height:420px;overflow:auto;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(2,1fr);gap:12px}
meter{width:120px}
"#;

/// The mark shown with a result of the connector called `name` (never fetched from anywhere):
/// a built-in connector's own (from the catalogue), else the display name's first letter.
pub fn source_icon(name: &str, display: &str) -> String {
    match tenant_instance::builtin::ALL
        .iter()
        .find(|b| b.name == name)
    {
        Some(b) => b.icon.to_string(),
        None => {
            let letter: String = display
                .chars()
                .find(|c| c.is_alphanumeric())
                .map_or("?".into(), |c| c.to_uppercase().collect());
            let label: String = display
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ')
                .take(40)
                .collect();
            format!(
                r##"<svg width="28" height="28" viewBox="0 0 28 28" role="img" aria-label="{label}"><rect width="28" height="28" rx="6" fill="#44546a"/><text x="14" y="19" font-size="14" text-anchor="middle" fill="#fff" font-family="sans-serif">{}</text></svg>"##,
                maud::html! { (letter) }.into_string()
            )
        }
    }
}

/// "Try a new version": a canary of a candidate in a registry, on a live sample of the
/// tenant's source.
fn canary_form(csrf: &str, tenant: &str) -> Markup {
    html! {
        details id="try-version" {
            summary { "Try a new connector version (canary)" }
            form method="post" action=(format!("/console/tenants/{tenant}/canary")) {
                input type="hidden" name="csrf" value=(csrf);
                p { label { "Candidate in a registry " input type="text" name="oci" size="50" placeholder="registry.example.com/connectors/notes:0.2.0" required; } }
                p { label { "Its digest " input type="text" name="digest" size="50" placeholder="sha256:…" required; } }
                p { label { "Listing pages to sample " input type="number" name="pages" value="1" min="1" max="20"; } }
                p { label { input type="checkbox" name="promote"; " Promote it if the verdict passes" } }
                p.meta { "Both versions crawl a live sample of the source (charged to the budget, at most 2% of it), nothing is uploaded, and the report appears above. It is refused while a crawl of the tenant runs." }
                button type="submit" data-action="canary" { "Run the canary" }
            }
        }
    }
}

/// The tenant's last canary: verdict and reasons, permission changes first (widenings marked),
/// documents added and removed, fields changed, declarations, and each side's cost.
fn canary_section(c: &Result<crate::canary::saved::SavedCanary, String>, now: i64) -> Markup {
    let c = match c {
        Ok(c) => c,
        Err(e) => {
            return html! { h2 { "Last canary" } div.error id="canary" { "The saved canary cannot be read: " (e) } };
        }
    };
    let r = &c.report;
    let d = &r.diff;
    html! {
        h2 { "Last canary" }
        div.card id="canary" {
            p {
                @if r.verdict.pass { span.badge.ok { "PASS" } } @else { span.badge.bad { "REJECT" } }
                " " (relative(c.finished_at, now)) ", on " (c.source) " · candidate " code title=(c.candidate_digest) { (c.candidate) }
                " · " @if c.promoted { strong { "promoted" } } @else { "pin unchanged" }
            }
            @if !r.verdict.reasons.is_empty() { ul { @for reason in &r.verdict.reasons { li { (reason) } } } }
            p { "Permissions: " strong { (d.acl_changed) } " changed, " strong { (d.acl_widened) } " widened" }
            @if !d.acl.is_empty() {
                table id="canary-acl" {
                    tr { th { "Document" } th { "Pinned version: who may see it" } th { "Candidate" } th {} }
                    @for a in d.acl.iter().take(50) {
                        tr { td { code { (a.id) } } td { (a.before) } td { (a.after) }
                             td { @if a.widened { span.badge.bad { "WIDENED" } } @else { span.badge { "changed" } } } }
                    }
                }
            }
            p { "Documents: " (d.compared) " compared, " (d.added_count) " added, " (d.removed_count) " removed, " (d.changed_documents) " with changed fields" }
            @if !d.fields.is_empty() {
                table id="canary-fields" {
                    tr { th { "Field" } th { "Added" } th { "Changed" } th { "Removed" } th { "Example" } }
                    @for (name, f) in &d.fields {
                        tr { td { code { (name) } } td { (f.added) } td { (f.changed) } td { (f.removed) } td.meta { (f.example.as_deref().unwrap_or("")) } }
                    }
                }
            }
            @for line in &d.declaration { p.meta { "Declaration: " (line) } }
            @for (side, s) in [("Pinned", &r.pinned), ("Candidate", &r.candidate)] {
                p.meta { (side) ": " (s.component) " (contract " (s.contract) "): listed " (s.listed) ", fetched " (s.fetched) ", indexed " (s.indexed) ", failed " (s.failed) ", " (s.cpu_us_per_item) " µs CPU per item, " (s.mean_memory_bytes / 1024) " KiB memory per call (at most " (s.peak_memory_bytes / 1024) " KiB)" }
            }
        }
    }
}

/// A link target from the source: only http(s) URLs; anything else (`javascript:`,
/// `data:`...) becomes an inert `#`.
pub fn safe_href(url: &str) -> &str {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url
    } else {
        "#"
    }
}

/// The page frame.
pub fn layout(title: &str, signed_in: bool, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · connector console" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "Connector console" }
                    @if signed_in {
                        a href="/console" { "Tenants" }
                        a href="/console/search" { "Search preview" }
                        @if let Some(csrf) = csrf {
                            form.inline method="post" action="/console/logout" style="margin-left:auto" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
                script id="local-time" { (PreEscaped(LOCAL_TIME_SCRIPT)) }
            }
        }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        false,
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error { (e) } }
            p.muted { "Give the admin token (the environment variable named by `--token-env`)." }
            form method="post" action="/console/login" {
                input type="password" name="token" id="token" autocomplete="current-password" size="40";
                " "
                button type="submit" id="sign-in" { "Sign in" }
            }
        },
    )
}

fn state_badge(state: &str) -> Markup {
    let class = match state {
        "scheduled" | "running" => "ok",
        "paused" | "backing-off" => "warn",
        _ => "bad",
    };
    html! { span class=(format!("badge {class}")) data-state=(state) { (state) } }
}

fn action(
    csrf: &str,
    tenant: &str,
    what: &str,
    label: &str,
    extra: Option<(&str, &str)>,
) -> Markup {
    html! {
        form.inline method="post" action=(format!("/console/tenants/{tenant}/{what}")) {
            input type="hidden" name="csrf" value=(csrf);
            @if let Some((k, v)) = extra { input type="hidden" name=(k) value=(v); }
            button type="submit" data-action=(what) { (label) }
        }
    }
}

fn budget_gauge(v: &TenantView) -> Markup {
    let limit = v.budget_limit.max(1);
    let share = v.budget_used as f64 / limit as f64;
    html! {
        meter min="0" max=(limit) low=(limit * 7 / 10) high=(limit * 9 / 10) optimum="0" value=(v.budget_used) {}
        br;
        // Requests against the budget; a share only once it says something (not "0.0%").
        span.meta.budget { (v.budget_used) " requests of " (v.budget_limit) " this week"
            @if share >= 0.01 { " (" (format!("{:.0}", share * 100.0)) "%)" } }
    }
}

fn last_crawl_cell(l: &Option<LastCrawl>, now: i64) -> Markup {
    html! {
        @match l {
            None => span.muted { "not yet" },
            Some(l) => {
                (l.mode) " · "
                @if l.completed { span.badge.ok { "completed" } }
                @else if l.error.is_some() { span.badge.bad { "failed" } }
                @else { span.badge.warn { "stopped" } }
                br;
                span.meta { (relative(l.finished_at, now)) " · " (l.indexed) " indexed · " (l.requests) " requests" }
            }
        }
    }
}

/// What to do about a tenant right now, if anything.
fn problems(v: &TenantView) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(e) = &v.config_error {
        out.push((
            format!("tenant file refused: {e}"),
            "Fix the tenant file; the tenant keeps its last accepted version meanwhile.",
        ));
    }
    if v.state == "quarantined" {
        out.push((
            format!(
                "quarantined after {} failed crawls in a row",
                v.consecutive_failures
            ),
            "Fix the cause below, then press Resume.",
        ));
    }
    if let Some(l) = &v.last_crawl {
        if let Some(e) = &l.error {
            out.push((e.clone(), advice::for_error(e)));
        }
        if l.deletions_held > 0 {
            out.push((
                format!("{} deletions held by the brake", l.deletions_held),
                advice::for_error("deletion"),
            ));
        }
        for f in l.failure_samples.iter().take(3) {
            out.push((f.clone(), advice::for_error(f)));
        }
    }
    out
}

pub fn tenants(views: &[TenantView], csrf: &str, now: i64) -> Markup {
    let healthy = views
        .iter()
        .filter(|v| matches!(v.state, "scheduled" | "running"))
        .count();
    layout(
        "Tenants",
        true,
        Some(csrf),
        html! {
            h1 { "Tenants" }
            p.meta { (healthy) " of " (views.len()) " healthy" }
            table id="tenants" {
                thead { tr { th { "Tenant" } th { "Health" } th { "Documents" } th { "Last crawl" } th { "Next crawl" } th { "Weekly budget" } th { "Failures and what to do" } th { "Actions" } } }
                tbody {
                    @for v in views {
                        tr data-tenant=(v.name) {
                            td { a href=(format!("/console/tenants/{}", v.name)) { (v.name) } }
                            td { (state_badge(v.state)) }
                            td.documents { @match v.last_crawl.as_ref().and_then(|l| l.documents) { Some(n) => (n), None => span.muted { "—" } } }
                            td { (last_crawl_cell(&v.last_crawl, now)) }
                            td { @match v.next_crawl_in_seconds { Some(s) => { "in " (seconds(s)) }, None => span.muted { "—" } } }
                            td { (budget_gauge(v)) }
                            td {
                                @let problems = problems(v);
                                @if problems.is_empty() { span.muted { "none" } }
                                @for (what, step) in problems.iter().take(3) {
                                    div { span.badge.bad { "!" } " " (crawl_engine::text::truncate(what, 200)) br; span.meta { "→ " (step) } }
                                }
                            }
                            td {
                                @if v.last_crawl.as_ref().is_some_and(|l| l.deletions_held > 0) {
                                    (action(csrf, &v.name, "approve-deletions", "Approve held deletions", None))
                                }
                                (action(csrf, &v.name, "crawl", "Crawl new changes", Some(("mode", "incremental"))))
                                (action(csrf, &v.name, "crawl", "Full crawl", Some(("mode", "full"))))
                                @if v.state == "paused" || v.state == "quarantined" {
                                    (action(csrf, &v.name, "resume", "Resume", None))
                                } @else {
                                    (action(csrf, &v.name, "pause", "Pause", None))
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What the tenant's page shows beyond the list's row.
pub struct TenantDetail<'a> {
    pub view: &'a TenantView,
    pub history: &'a [LastCrawl],
    pub plots: Vec<Markup>,
    pub documents: Option<u64>,
    pub held: Vec<String>,
    pub item_failures: Vec<(String, String, i64)>,
    pub datasource: String,
    /// The tenant's last canary, or why it cannot be read.
    pub canary: Option<Result<crate::canary::saved::SavedCanary, String>>,
}

pub fn tenant(d: &TenantDetail<'_>, csrf: &str, now: i64) -> Markup {
    let v = d.view;
    let last = v.last_crawl.as_ref();
    layout(
        &v.name,
        true,
        Some(csrf),
        html! {
            h1 { "Tenant " (v.name) " " (state_badge(v.state)) }
            div.card {
                p { "Datasource " code { (d.datasource) } " · documents in the index: "
                    @match d.documents { Some(n) => strong id="documents" { (n) }, None => span.muted { "unknown" } } }
                p { "Last crawl: " (last_crawl_cell(&v.last_crawl, now)) }
                p { "Next crawl: " @match v.next_crawl_in_seconds { Some(s) => { "in " (seconds(s)) }, None => span.muted { "not scheduled (" (v.state) ")" } } }
                p { "Weekly budget: " (budget_gauge(v)) }
                p {
                    (action(csrf, &v.name, "crawl", "Incremental crawl now", Some(("mode", "incremental")))) " "
                    (action(csrf, &v.name, "crawl", "Full crawl now", Some(("mode", "full")))) " "
                    @if v.state == "paused" || v.state == "quarantined" { (action(csrf, &v.name, "resume", "Resume", None)) }
                    @else { (action(csrf, &v.name, "pause", "Pause", None)) }
                    " " a href=(format!("/console/search?tenant={}", v.name)) { "Search preview →" }
                }
            }
            h2 { "Troubleshooting" }
            table id="troubleshooting" {
                tr { th { "Symptom" } th { "What this tenant shows" } }
                tr { td { "No calls appearing" }
                     td { @match last {
                        None => "No crawl has finished yet: wait for the first one, or press Full crawl now.",
                        Some(l) => {
                            (l.indexed) " indexed in the last crawl; "
                            @if l.skipped.is_empty() { "none skipped." }
                            @for (why, n) in &l.skipped { (n) " skipped: " (why) "; " }
                            @if let Some(e) = &l.error { br; span.badge.bad { "failed" } " " (e) " → " (advice::for_error(e)) }
                        }
                     } } }
                tr { td { "Missing transcripts or summaries" }
                     td { "Items are indexed once the source has finished processing them (the skipped reasons above count those still processing). Open a call below to compare the indexed document with the source's fields right now." } }
                tr { td { "Permission errors" }
                     td { "Use the " a href=(format!("/console/search?tenant={}&user=*admin*", v.name)) { "admin view" } " to see calls nobody can see (failed closed) and the search preview to compare two users." } }
                tr { td { "Stale data" }
                     td { @match last { Some(l) => { "Last crawl " (relative(l.finished_at, now)) ", " @if l.completed { "completed" } @else { "not completed" } ". " }, None => {} }
                          @match v.next_crawl_in_seconds { Some(s) => { "Next in " (seconds(s)) ". " }, None => { "No crawl is scheduled (" (v.state) "). " } }
                          (v.consecutive_failures) " failures in a row. Edits the listing cannot show are caught by the deep refresh (each call at least every 14 full crawls by default)." } }
            }
            @if !d.held.is_empty() || last.is_some_and(|l| l.deletions_held > 0) {
                h2 { "Held deletions" }
                div.card id="held" {
                    p { (d.held.len().max(last.map_or(0, |l| l.deletions_held as usize))) " deletions are held by the brake (more of the index would go at once than `max_delete_share` allows)." }
                    ul { @for id in d.held.iter().take(20) { li { code { (id) } } } }
                    p { (action(csrf, &v.name, "approve-deletions", "Approve held deletions", None)) " " span.meta { "A full crawl then applies them." } }
                }
            }
            @if let Some(c) = &d.canary { (canary_section(c, now)) }
            (canary_form(csrf, &v.name))
            @if !d.item_failures.is_empty() {
                h2 { "Items that failed" }
                table id="item-failures" {
                    tr { th { "Item" } th { "Kind" } th { "What happened" } th { "What to do" } }
                    @for (id, msg, at) in &d.item_failures {
                        tr { td { a href=(format!("/console/tenants/{}/calls/{}", v.name, id)) { (id) } } td { (relative(*at, now)) } td { (msg) } td { (advice::for_error(msg)) } }
                    }
                }
            }
            h2 { "Crawl history" }
            @if d.history.is_empty() { p.muted { "No crawls yet." } }
            @else {
                div.plots id="plots" { @for p in &d.plots { div.card { (p) } } }
                table id="history" {
                    tr { th { "Finished" } th { "Mode" } th { "Outcome" } th { "Indexed" } th { "Deleted" } th { "Requests" } th { "429s" } th { "Duration" } }
                    @for l in d.history.iter().rev().take(30) {
                        tr { td { (when(l.finished_at)) } td { (l.mode) }
                             td { @if l.completed { "completed" } @else if let Some(e) = &l.error { "failed: " (crawl_engine::text::truncate(e, 120)) } @else { "stopped" } }
                             td { (l.indexed) } td { (l.deleted) } td { (l.requests) } td { (l.throttled) } td { (format!("{:.1} s", l.seconds)) } }
                    }
                }
            }
        },
    )
}

/// Why a user sees a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Public,
    OnUsersList,
    ViaGroup(String),
    Nobody,
    Unknown,
}

impl Access {
    pub fn words(&self) -> String {
        match self {
            Access::Public => "public: every user of the datasource".into(),
            Access::OnUsersList => "on the call's users list".into(),
            Access::ViaGroup(g) => format!("through group {g}"),
            Access::Nobody => "nobody: failed closed (no one is allowed)".into(),
            Access::Unknown => "the index did not say".into(),
        }
    }
}

/// One result as the preview shows it.
pub struct ResultView {
    pub id: String,
    pub title: String,
    pub url: String,
    pub when: Option<String>,
    pub duration_minutes: Option<String>,
    pub organizer: Option<String>,
    pub opportunity: Option<String>,
    pub account: Option<String>,
    pub snippet: String,
    pub topics: Vec<String>,
    pub access: Access,
    /// The second user cannot see this one.
    pub hidden_from_other: bool,
}

/// One facet with its buckets (value, count, whether it is applied).
pub struct FacetView {
    pub field: String,
    pub label: String,
    pub buckets: Vec<(String, usize, bool)>,
}

pub struct SearchPage {
    pub tenants: Vec<String>,
    pub tenant: String,
    pub people: Option<Vec<(String, String)>>,
    pub user: String,
    pub other: String,
    pub query: String,
    /// Applied filters as (field, value).
    pub filters: Vec<(String, String)>,
    pub since_days: Option<u32>,
    pub results: Vec<ResultView>,
    pub total: usize,
    pub facets: Vec<FacetView>,
    pub date_counts: Vec<(u32, usize)>,
    pub comparison: Option<(usize, usize, usize)>,
    pub error: Option<String>,
    /// The properties the tenant's connector offers as facets: (name, label).
    pub facet_fields: Vec<(String, String)>,
    /// The tenant's connector: (machine name, display name), for its mark.
    pub source: (String, String),
}

impl SearchPage {
    /// The page's URL with `change` applied to its parameters.
    fn link(&self, filters: &[(String, String)], since: Option<u32>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("tenant", &self.tenant);
        if !self.user.is_empty() {
            q.append_pair("user", &self.user);
        }
        if !self.other.is_empty() {
            q.append_pair("vs", &self.other);
        }
        if !self.query.is_empty() {
            q.append_pair("q", &self.query);
        }
        for (f, v) in filters {
            q.append_pair("f", &format!("{f}={v}"));
        }
        if let Some(d) = since {
            q.append_pair("since", &d.to_string());
        }
        format!("/console/search?{}", q.finish())
    }
}

fn user_select(
    name: &str,
    id: &str,
    people: &Option<Vec<(String, String)>>,
    chosen: &str,
    blank: &str,
    admin: bool,
) -> Markup {
    html! {
        @match people {
            Some(people) => select name=(name) id=(id) {
                option value="" selected[chosen.is_empty()] { (blank) }
                @if admin { option value="*admin*" selected[chosen == "*admin*"] { "admin view (everything, with who may see it)" } }
                @for (email, label) in people { option value=(email) selected[chosen == email] { (label) " <" (email) ">" } }
            },
            None => input type="email" name=(name) id=(id) value=(chosen) placeholder="person@example.com";
        }
    }
}

pub fn search(p: &SearchPage, csrf: &str) -> Markup {
    let facet_labels_done = p
        .filters
        .iter()
        .map(|(f, v)| format!("{f}: {v}"))
        .collect::<Vec<_>>();
    layout(
        "Search preview",
        true,
        Some(csrf),
        html! {
            h1 { "Search preview" }
            (search_form(p))
            @if let Some(e) = &p.error { p.error { (e) } }
            @if !facet_labels_done.is_empty() || p.since_days.is_some() {
                p { "Filters: " @for l in &facet_labels_done { span.tag { (l) } }
                    @if let Some(d) = p.since_days { span.tag { "last " (d) " days" } }
                    " " a href=(p.link(&[], None)) id="clear-filters" { "clear" } }
            }
            @if let Some((a, b, only_a)) = p.comparison {
                p.card id="comparison" { (p.user) " sees " strong { (a) } "; " (p.other) " sees " strong { (b) } "; "
                    strong { (only_a) } " of " (p.user) "'s results are hidden from " (p.other) " (marked below)." }
            }
            @if !p.user.is_empty() {
                div.layout {
                    (search_facets(p))
                    div style="flex:1" id="results" {
                        p.meta { (p.total) " results" @if p.results.len() < p.total { ", the first " (p.results.len()) " shown" } }
                        @for r in &p.results { (search_result(p, r)) }
                    }
                }
            }
        },
    )
}

/// The search form: tenant, who to search as and compare with, the query.
fn search_form(p: &SearchPage) -> Markup {
    html! {
        form method="get" action="/console/search" id="search-form" class="card" {
            label { "Tenant " select name="tenant" id="tenant" { @for t in &p.tenants { option value=(t) selected[*t == p.tenant] { (t) } } } }
            " "
            label { "Search as " (user_select("user", "user", &p.people, &p.user, "choose a person…", true)) }
            " "
            label { "compare with " (user_select("vs", "vs", &p.people, &p.other, "nobody", false)) }
            br;
            input type="search" name="q" id="q" value=(p.query) size="50" placeholder="pricing, competitor, next steps…";
            @for (f, v) in &p.filters { input type="hidden" name="f" value=(format!("{f}={v}")); }
            @if let Some(d) = p.since_days { input type="hidden" name="since" value=(d); }
            " " button type="submit" id="go" { "Search" }
            @if p.people.is_none() { p.meta { "This Glean does not list its identities; type an email." } }
        }
    }
}

/// The facets beside the results, each value a link that toggles its filter.
fn search_facets(p: &SearchPage) -> Markup {
    html! {
        div.facets id="facets" {
            @for f in &p.facets {
                h2 { (f.label) }
                ul data-facet=(f.field) {
                    @for (value, count, on) in &f.buckets {
                        @let mut next = p.filters.clone();
                        @let toggled = if *on { next.retain(|(ff, vv)| !(ff == &f.field && vv == value)); next } else { next.push((f.field.clone(), value.clone())); next };
                        li { a class=[on.then_some("on")] href=(p.link(&toggled, p.since_days)) data-value=(value) { (value) } " " span.muted { "(" (count) ")" } }
                    }
                }
            }
            h2 { "Date" }
            ul data-facet="date" {
                @for (days, count) in &p.date_counts {
                    @let on = p.since_days == Some(*days);
                    li { a class=[on.then_some("on")] href=(p.link(&p.filters, if on { None } else { Some(*days) })) { "last " (days) " days" } " " span.muted { "(" (count) ")" } }
                }
            }
        }
    }
}

/// One result as search shows it, with why the user sees it.
fn search_result(p: &SearchPage, r: &ResultView) -> Markup {
    html! {
        div.card.result data-id=(r.id) data-hidden-from-other=(r.hidden_from_other) {
            div.icon { (PreEscaped(source_icon(&p.source.0, &p.source.1))) }
            div {
                a.title href=(safe_href(&r.url)) { (highlight(&r.title, &p.query)) }
                div.meta {
                    @if let Some(w) = &r.when { (when_iso(w)) }
                    @if let Some(d) = &r.duration_minutes { " · " (d) " min" }
                    @if let Some(o) = &r.organizer { " · organized by " (o) }
                    @if let Some(o) = &r.opportunity { " · opportunity " (o) }
                    @if let Some(a) = &r.account { " · " (a) }
                }
                div { (highlight(&r.snippet, &p.query)) }
                div { @for t in &r.topics { span.tag { (t) } } }
                div.why {
                    "Why " (if p.user == "*admin*" { "it is visible" } else { "you see it" }) ": " span.access { (r.access.words()) }
                    @if r.hidden_from_other { " " span.hidden-from { "not visible to " (p.other) } }
                    " · " a href=(format!("/console/tenants/{}/calls/{}", p.tenant, r.id)) { "call page" }
                }
            }
        }
    }
}

/// A document as search shows it: what the call page puts above the raw JSON.
#[derive(Debug, Default)]
pub struct DocumentView {
    pub title: Option<String>,
    /// Label and value, in the order the document gives them.
    pub fields: Vec<(String, String)>,
    /// The body's paragraphs (its lines), at most [`MAX_PARAGRAPHS`].
    pub paragraphs: Vec<String>,
    /// People allowed, as (name, email); the name is the email when Glean knows no name.
    pub people: Vec<(String, String)>,
    pub groups: Vec<String>,
    /// Everyone who can use the datasource may see it.
    pub everyone: bool,
}

/// The most body paragraphs a call page shows (the raw JSON holds the rest).
pub const MAX_PARAGRAPHS: usize = 400;

pub struct CallPage {
    pub tenant: String,
    pub id: String,
    pub view: DocumentView,
    pub document: Option<String>,
    pub permissions: Option<String>,
    pub access: Option<Access>,
    pub indexed_at: Option<i64>,
    pub fingerprint: Option<String>,
    pub why_fetched: String,
    pub failure: Option<(String, String, i64)>,
    pub source: Option<Result<String, String>>,
    pub error: Option<String>,
}

pub fn call(c: &CallPage, csrf: &str, now: i64) -> Markup {
    let heading = c
        .view
        .title
        .clone()
        .unwrap_or_else(|| format!("Call {}", c.id));
    layout(
        &heading,
        true,
        Some(csrf),
        html! {
            h1 { (heading) }
            p.meta { "Call " code { (c.id) } " · tenant " a href=(format!("/console/tenants/{}", c.tenant)) { (c.tenant) } }
            @if let Some(e) = &c.error { p.error { (e) } }
            div.card id="fetch-facts" {
                p { "Last fetched and indexed: " @match c.indexed_at { Some(t) => { (when(t)) " (" (relative(t, now)) ")" }, None => span.muted { "not in this tenant's state" } } }
                p { "Why: " (c.why_fetched) }
                @if let Some(fp) = &c.fingerprint { p.meta { "Listing fingerprint " code { (fp) } } }
                @if let Some((kind, msg, at)) = &c.failure { p.error { "Last failure (" (kind) ", " (relative(*at, now)) "): " (msg) br; "→ " (advice::for_error(msg)) } }
            }
            h2 { "Who can see it" }
            div.card id="permissions" {
                @if let Some(a) = &c.access { p { strong { (a.words()) } } }
                (people_list(&c.view))
                @match &c.permissions {
                    Some(p) => details { summary { "Permissions as the index holds them (JSON)" } pre { (p) } },
                    None => p.muted { "The index holds no permissions for it." },
                }
            }
            h2 { "The document as search shows it" }
            @match &c.document {
                Some(d) => div.card id="document" {
                    (document_view(&c.view))
                    p.meta { "Document id " code { (c.id) } }
                    details { summary { "The document as the index holds it (JSON)" } pre id="document-json" { (d) } }
                },
                None => p.muted id="document" { "The index holds no such document." },
            }
            h2 { "Source fields" }
            (source_section(c, csrf))
        },
    )
}

/// People (by name, the email on hover) and groups allowed to see a document.
fn people_list(v: &DocumentView) -> Markup {
    html! {
        @if v.everyone { p { "Everyone who can use the datasource." } }
        @if !v.people.is_empty() {
            p { "People: " @for (i, (name, email)) in v.people.iter().enumerate() {
                @if i > 0 { ", " } span.person title=(email) { (name) } } }
        }
        @if !v.groups.is_empty() { p { "Groups: " @for g in &v.groups { span.tag { (g) } } } }
    }
}

/// Title, fields and body paragraphs, as text (never markup).
fn document_view(v: &DocumentView) -> Markup {
    html! {
        @if !v.fields.is_empty() {
            table.fields { @for (label, value) in &v.fields { tr { th { (label) } td { (value) } } } }
        }
        div.body { @for para in &v.paragraphs { p { (para) } } }
    }
}

/// The fetch-from-source form, or what it brought.
fn source_section(c: &CallPage, csrf: &str) -> Markup {
    html! {
        @match &c.source {
            None => {
                p.meta { "Fetch the call from the source now, through the connector's sandbox (this costs requests from the weekly budget). Secrets are redacted." }
                form method="post" action=(format!("/console/tenants/{}/calls/{}/fetch", c.tenant, c.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" id="fetch-source" { "Fetch from source" }
                }
            }
            Some(Ok(s)) => pre id="source" { (s) },
            Some(Err(e)) => p.error id="source" { (e) br; "→ " (advice::for_error(e)) },
        }
    }
}

pub fn message(title: &str, text: &str, csrf: Option<&str>) -> Markup {
    layout(
        title,
        csrf.is_some(),
        csrf,
        html! { h1 { (title) } p.error { (text) } p { a href="/console" { "Back to the tenants" } } },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = r#"<script>alert("x")</script><img src=x onerror=alert(1)> & 'q'"#;

    fn assert_escaped(html: &str) {
        assert!(!html.contains("<script>alert"), "raw script in\n{html}");
        assert!(!html.contains("<img src=x"), "raw markup in\n{html}");
        assert!(
            html.contains("&lt;script&gt;"),
            "escaped form missing in\n{html}"
        );
    }

    fn result() -> ResultView {
        ResultView {
            id: EVIL.into(),
            title: EVIL.into(),
            url: format!("https://copilot.clari.com/call/{EVIL}"),
            when: Some(EVIL.into()),
            duration_minutes: Some(EVIL.into()),
            organizer: Some(EVIL.into()),
            opportunity: Some(EVIL.into()),
            account: Some(EVIL.into()),
            snippet: EVIL.into(),
            topics: vec![EVIL.into()],
            access: Access::ViaGroup(EVIL.into()),
            hidden_from_other: true,
        }
    }

    #[test]
    fn every_source_field_of_a_search_result_is_escaped() {
        let page = SearchPage {
            tenants: vec![EVIL.into()],
            tenant: EVIL.into(),
            people: Some(vec![(EVIL.into(), EVIL.into())]),
            user: EVIL.into(),
            other: EVIL.into(),
            query: "script alert".into(),
            filters: vec![("topic".into(), EVIL.into())],
            since_days: Some(7),
            results: vec![result()],
            total: 1,
            facets: vec![FacetView {
                field: "topic".into(),
                label: "Topic".into(),
                buckets: vec![(EVIL.into(), 1, false)],
            }],
            date_counts: vec![(7, 1)],
            comparison: Some((1, 0, 1)),
            error: Some(EVIL.into()),
            facet_fields: vec![("topic".into(), EVIL.into())],
            source: (EVIL.into(), EVIL.into()),
        };
        let html = search(&page, "csrf").into_string();
        assert_escaped(&html);
        // The query terms are highlighted inside the escaped title.
        assert!(
            html.contains("&lt;<mark>script</mark>&gt;<mark>alert</mark>"),
            "{html}"
        );
        // The only script-like text is escaped; no element was injected (the console's own
        // local-time script aside).
        assert_eq!(html.matches("<script").count(), 1);
        assert_eq!(html.matches("<script id=\"local-time\">").count(), 1);
    }

    #[test]
    fn a_call_page_escapes_the_document_permissions_and_source() {
        let page = CallPage {
            view: DocumentView {
                title: Some(EVIL.into()),
                fields: vec![(EVIL.into(), EVIL.into())],
                paragraphs: vec![EVIL.into()],
                people: vec![(EVIL.into(), EVIL.into())],
                groups: vec![EVIL.into()],
                everyone: false,
            },
            tenant: EVIL.into(),
            id: EVIL.into(),
            document: Some(EVIL.into()),
            permissions: Some(EVIL.into()),
            access: Some(Access::Nobody),
            indexed_at: Some(0),
            fingerprint: Some(EVIL.into()),
            why_fetched: EVIL.into(),
            failure: Some((EVIL.into(), EVIL.into(), 0)),
            source: Some(Ok(EVIL.into())),
            error: Some(EVIL.into()),
        };
        assert_escaped(&call(&page, "csrf", 100).into_string());
        let page = CallPage {
            source: Some(Err(EVIL.into())),
            ..page
        };
        assert_escaped(&call(&page, "csrf", 100).into_string());
    }

    #[test]
    fn tenant_names_errors_and_history_are_escaped() {
        let last = LastCrawl {
            finished_at: 0,
            mode: EVIL.into(),
            completed: false,
            error: Some(EVIL.into()),
            indexed: 1,
            deleted: 0,
            deletions_held: 3,
            requests: 2,
            throttled: 0,
            documents: Some(1),
            seconds: 1.0,
            item_failures: 1,
            failure_samples: vec![EVIL.into()],
            skipped: [(EVIL.to_string(), 1)].into_iter().collect(),
        };
        let view = TenantView {
            name: EVIL.into(),
            file: EVIL.into(),
            state: "backing-off",
            consecutive_failures: 2,
            last_crawl: Some(last.clone()),
            next_crawl_in_seconds: Some(5),
            budget_used: 10,
            budget_limit: 100,
            config_error: Some(EVIL.into()),
            held_by: None,
            paused: false,
        };
        assert_escaped(&tenants(std::slice::from_ref(&view), "csrf", 100).into_string());
        let detail = TenantDetail {
            view: &view,
            history: std::slice::from_ref(&last),
            plots: Vec::new(),
            documents: Some(1),
            held: vec![EVIL.into()],
            item_failures: vec![(EVIL.into(), EVIL.into(), 0)],
            datasource: EVIL.into(),
            canary: Some(Ok(evil_canary())),
        };
        let html = tenant(&detail, "csrf", 100).into_string();
        assert_escaped(&html);
        assert!(html.contains("Approve held deletions"));
        assert!(html.contains("WIDENED"), "the canary is shown");
    }

    /// A saved canary whose every string is hostile (a candidate's output is untrusted).
    fn evil_canary() -> crate::canary::saved::SavedCanary {
        use crate::canary::diff::{AclChange, CanaryDiff, FieldChange};
        let side = crate::canary::side::SideSummary {
            component: EVIL.into(),
            contract: EVIL.into(),
            listed: 1,
            fetched: 1,
            indexed: 1,
            failed: 0,
            cpu_us_per_item: 1,
            mean_memory_bytes: 1 << 20,
            peak_memory_bytes: 2 << 20,
        };
        let mut fields = std::collections::BTreeMap::new();
        fields.insert(
            EVIL.to_string(),
            FieldChange {
                added: 1,
                example: Some(EVIL.into()),
                ..FieldChange::default()
            },
        );
        crate::canary::saved::SavedCanary {
            finished_at: 0,
            candidate: EVIL.into(),
            candidate_digest: EVIL.into(),
            source: EVIL.into(),
            promoted: false,
            report: crate::canary::CanaryReport {
                pinned: side.clone(),
                candidate: side,
                diff: CanaryDiff {
                    acl: vec![AclChange {
                        id: EVIL.into(),
                        before: EVIL.into(),
                        after: EVIL.into(),
                        widened: true,
                    }],
                    acl_changed: 1,
                    acl_widened: 1,
                    fields,
                    declaration: vec![EVIL.into()],
                    ..CanaryDiff::default()
                },
                verdict: crate::canary::Verdict {
                    pass: false,
                    reasons: vec![EVIL.into()],
                },
            },
        }
    }

    #[test]
    fn only_http_links_from_the_source_are_followed() {
        assert_eq!(
            safe_href("https://copilot.clari.com/call/1"),
            "https://copilot.clari.com/call/1"
        );
        assert_eq!(safe_href("javascript:alert(1)"), "#");
        assert_eq!(safe_href(" JAVASCRIPT:alert(1)"), "#");
        assert_eq!(safe_href("data:text/html,<b>"), "#");
        let mut r = result();
        r.url = "javascript:alert(document.cookie)".into();
        let page = SearchPage {
            tenants: vec![],
            tenant: "t".into(),
            people: None,
            user: "a@x.com".into(),
            other: String::new(),
            query: String::new(),
            filters: vec![],
            since_days: None,
            results: vec![r],
            total: 1,
            facets: vec![],
            date_counts: vec![],
            comparison: None,
            error: None,
            facet_fields: vec![],
            source: ("gong".into(), "Gong".into()),
        };
        assert!(!search(&page, "c").into_string().contains("javascript:"));
    }

    #[test]
    fn forms_carry_the_csrf_token() {
        let view = TenantView {
            name: "t".into(),
            file: "t.toml".into(),
            state: "scheduled",
            consecutive_failures: 0,
            last_crawl: None,
            next_crawl_in_seconds: Some(5),
            budget_used: 0,
            budget_limit: 100,
            config_error: None,
            held_by: None,
            paused: false,
        };
        let html = tenants(&[view], "tok123", 0).into_string();
        let forms = html.matches("<form").count();
        assert!(forms >= 3);
        assert_eq!(html.matches(r#"name="csrf" value="tok123""#).count(), forms);
    }
}
