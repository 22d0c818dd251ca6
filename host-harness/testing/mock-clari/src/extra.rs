//! The remaining read endpoints: keyword topics (`/topics`, `/v2/topics`), scorecards
//! (`/scorecard`, `/scorecard-template` under its real key `scorecardTemplates`) and CRM
//! look-ups by source CRM id (`/get-account`, `/get-contact`, `/get-deal`), all derived from
//! the generated workspace.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::model::{Workspace, iso};
use crate::query::pairs;

/// `/topics`: every keyword topic that occurs in the workspace.
pub fn topics(w: &Workspace) -> Value {
    let names: BTreeSet<&String> = w.calls.iter().flat_map(|c| c.topics.iter()).collect();
    json!({"topics": names})
}

/// `/v2/topics`, with the same names as keyword topics.
pub fn topics_v2(w: &Workspace) -> Value {
    let names: BTreeSet<&String> = w.calls.iter().flat_map(|c| c.topics.iter()).collect();
    let topics: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({
                "topic_id": format!("topic-{i:03}"),
                "topic_name": n,
                "type": "KEYWORD",
                "team_ids": [],
                "keyword_topic": {"trackers": [n.to_lowercase()]},
            })
        })
        .collect();
    json!({"topics": topics})
}

/// `/scorecard`: one scorecard for every fifth processed call, paged like `/calls`.
pub fn scorecards(w: &Workspace, raw: &str) -> Result<Value, String> {
    let mut skip = 0usize;
    let mut limit = 50usize;
    for (k, v) in pairs(raw) {
        let parse = |min: usize, max: usize| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("Invalid value for {k}: '{v}'. It must be an integer between {min} and {max}."))
        };
        match k.as_str() {
            "skip" => skip = parse(0, 10_000)?,
            "limit" => limit = parse(1, 100)?,
            _ => {}
        }
    }
    let all: Vec<Value> = w
        .calls
        .iter()
        .filter(|c| c.status == "POST_PROCESSING_DONE")
        .step_by(5)
        .filter_map(|c| {
            let rep = c.internal.first()?.0.clone();
            let scorer = w.users.first()?.id.clone();
            Some(json!({
                "id": format!("sc-{}", &c.id[..8]),
                "type": "MANUAL",
                "rep": rep,
                "scorer": scorer,
                "template_id": "tpl-discovery",
                "call_id": c.id,
                "total_score": (c.duration % 50) as f64 / 10.0 + 1.0,
                "questions_score": [{"score": 4, "skill": "Discovery", "label": "Asked about pain", "order": "1"}],
            }))
        })
        .collect();
    let page: Vec<Value> = all.iter().skip(skip).take(limit).cloned().collect();
    let next = skip + page.len();
    let mut pagination = json!({"matched": all.len(), "hasMore": next < all.len()});
    if next < all.len() {
        pagination["nextPageSkip"] = json!(next);
    }
    Ok(json!({"scorecards": page, "pagination": pagination}))
}

/// `/scorecard-template`, under the key the real API uses (the spec says `scoreCardTemplates`).
pub fn scorecard_templates() -> Value {
    json!({"scorecardTemplates": [{
        "id": "tpl-discovery",
        "customer_id": "cust-1",
        "name": "Discovery call",
        "type": "MANUAL",
        "questions": [{"skill": "Discovery", "label": "Asked about pain", "order": "1"}],
    }]})
}

fn id_param(raw: &str) -> Result<String, String> {
    pairs(raw)
        .into_iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "The query parameter 'id' is required".to_string())
}

/// What a CRM look-up found: `Ok(None)` is a 404.
pub type Lookup = Result<Option<Value>, String>;

/// `/get-account?id=<crm id>`.
pub fn account(w: &Workspace, raw: &str) -> Lookup {
    let id = id_param(raw)?;
    Ok(w.calls.iter().filter_map(|c| c.crm.as_ref()).find(|c| c.account_id == id).map(|c| {
        json!({
            "id": format!("{:024x}", c.account_id.len() as u64 * 7919),
            "crm_id": c.account_id,
            "name": c.account_name,
            "phones": [],
            "website": format!("https://{}.example", c.account_name.to_lowercase().replace(' ', "-")),
            "custom_fields": [],
        })
    }))
}

/// `/get-deal?id=<crm id>`.
pub fn deal(w: &Workspace, raw: &str) -> Lookup {
    let id = id_param(raw)?;
    Ok(w.calls.iter().filter_map(|c| c.crm.as_ref()).find(|c| c.deal_id == id).map(|c| {
        json!({
            "id": format!("{:024x}", c.deal_id.len() as u64 * 104_729),
            "crm_id": c.deal_id,
            "deal_name": c.deal_name,
            "amount": c.deal_value,
            "close_date": iso(c.deal_close_date),
            "stage": c.deal_stage_live,
            "account_crm_id": c.account_id,
            "stage_change_history": [{"stage": c.deal_stage_live, "prev_stage": c.deal_stage_before_call, "date_changed": iso(c.deal_close_date)}],
            "custom_fields": [],
        })
    }))
}

/// `/get-contact?id=<crm id>`.
pub fn contact(w: &Workspace, raw: &str) -> Lookup {
    let id = id_param(raw)?;
    Ok(w.calls.iter().filter_map(|c| c.crm.as_ref()).find_map(|c| {
        let i = c.contact_ids.iter().position(|x| *x == id)?;
        let name = c.contact_names.get(i).cloned().unwrap_or_default();
        let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
        Some(json!({
            "id": id,
            "crm_id": id,
            "account_crm_id": c.account_id,
            "first_name": first,
            "last_name": last,
            "phones": [],
            "emails": [],
            "is_lead": false,
            "custom_fields": [],
        }))
    }))
}
