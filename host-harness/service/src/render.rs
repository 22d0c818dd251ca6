//! Renders indexed documents the way a search result shows them: title with link, date and
//! time, organizer, opportunity, duration, a summary snippet and topic tags.

use std::fmt::Write;

use glean_api::DocumentDefinition;

fn prop<'a>(doc: &'a DocumentDefinition, name: &str) -> Option<&'a serde_json::Value> {
    doc.custom_properties
        .as_ref()?
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| p.value.as_ref())
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// Cuts `s` to about `max` characters at a word boundary.
pub fn snippet(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut}…")
}

/// Who can see the document, in words.
pub fn access_label(doc: &DocumentDefinition) -> String {
    let Some(p) = &doc.permissions else {
        return "no access (no permissions)".into();
    };
    if p.allow_anonymous_access == Some(true) {
        return "everyone".into();
    }
    if p.allow_all_datasource_users_access == Some(true) {
        return "public: all users of the datasource".into();
    }
    match &p.allowed_users {
        Some(u) if !u.is_empty() => format!("private: {} participant(s) only", u.len()),
        _ => "no access: failed closed".into(),
    }
}

/// The first bullet after the line `header` in a body laid out in sections.
fn first_bullet(body: &str, header: &str) -> Option<String> {
    let mut lines = body.lines().skip_while(|l| l.trim() != header).skip(1);
    lines
        .find(|l| l.starts_with("- ") || l.trim().is_empty())
        .filter(|l| l.starts_with("- "))
        .map(|l| l.trim_start_matches("- ").to_string())
}

/// One search result, several lines.
pub fn result(n: usize, doc: &DocumentDefinition) -> String {
    let mut out = String::new();
    let title = doc.title.as_deref().unwrap_or("(untitled)");
    let url = doc.view_url.as_deref().unwrap_or("");
    let _ = writeln!(out, "{n}. {title}");
    let _ = writeln!(out, "   {url}");
    let mut meta = Vec::new();
    if let Some(t) = doc.created_at
        && let Some(dt) = chrono::DateTime::from_timestamp(t, 0)
    {
        meta.push(dt.format("%a %d %b %Y %H:%M UTC").to_string());
    }
    if let Some(m) = prop(doc, "durationMinutes").and_then(text) {
        meta.push(format!("{m} min"));
    }
    if let Some(a) = &doc.author {
        let who = a.name.clone().or_else(|| a.email.clone());
        if let Some(who) = who {
            meta.push(format!("organizer {who}"));
        }
    }
    if let Some(o) = prop(doc, "opportunity").and_then(text) {
        meta.push(format!("opportunity {o}"));
    }
    if let Some(c) = prop(doc, "callType").and_then(text) {
        meta.push(c);
    }
    let _ = writeln!(out, "   {}", meta.join(" · "));
    let summary = doc
        .summary
        .as_ref()
        .and_then(|s| s.text_content.clone())
        .unwrap_or_default();
    if !summary.is_empty() {
        let _ = writeln!(out, "   \"{}\"", snippet(&summary, 220));
    }
    let tags: Vec<String> = doc
        .tags
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|t| format!("#{}", t.replace(' ', "-")))
        .collect();
    if !tags.is_empty() {
        let _ = writeln!(out, "   {}", tags.join(" "));
    }
    if let Some(p) = prop(doc, "participant").and_then(text) {
        let _ = writeln!(out, "   participants: {}", snippet(&p, 160));
    }
    let body = doc
        .body
        .as_ref()
        .and_then(|b| b.text_content.clone())
        .unwrap_or_default();
    if let Some(a) = first_bullet(&body, "Action items") {
        let _ = writeln!(out, "   action item: {}", snippet(&a, 160));
    }
    if let Some(m) = first_bullet(&body, "Topics discussed:") {
        let _ = writeln!(out, "   key moment: {}", snippet(&m, 160));
    }
    if let Some(m) = first_bullet(&body, "Competitor mentions") {
        let _ = writeln!(out, "   competitor mention: {}", snippet(&m, 160));
    }
    if let Some(t) = body
        .lines()
        .skip_while(|l| l.trim() != "Transcript")
        .nth(1)
        .filter(|l| !l.trim().is_empty())
    {
        let _ = writeln!(out, "   transcript: {}", snippet(t, 160));
    }
    let _ = writeln!(out, "   visible to: {}", access_label(doc));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_section_bullets() {
        let body = "T\n\nAction items\n- Send it (owner: A)\n- Other\n\nKey moments\nTopics discussed:\n- [01:00] Pricing\n";
        assert_eq!(
            first_bullet(body, "Action items").as_deref(),
            Some("Send it (owner: A)")
        );
        assert_eq!(
            first_bullet(body, "Topics discussed:").as_deref(),
            Some("[01:00] Pricing")
        );
        assert_eq!(first_bullet(body, "Competitor mentions"), None);
        assert_eq!(first_bullet("Action items\n\n- late", "Action items"), None);
    }

    #[test]
    fn snippets_cut_at_words() {
        assert_eq!(snippet("a  b\nc", 10), "a b c");
        assert_eq!(snippet("alpha beta gamma", 12), "alpha beta…");
    }
}

/// Whether to colour output: only on a terminal, and never when `NO_COLOR` is set (to any
/// non-empty value, as <https://no-color.org> says).
pub fn color_enabled() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}
