//! The CRM context of an extensive call (`context[].objects[]`): the account and the
//! opportunity the call is linked to, by their `Name` field.

use serde_json::Value;

use crate::wire::{CrmObject, CrmSystem};

/// What the item uses of the CRM context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crm {
    pub account: Option<String>,
    pub opportunity: Option<String>,
    /// The opportunity's `StageName`, for the body.
    pub stage: Option<String>,
}

/// The first named account and opportunity across the CRM systems.
pub fn read(context: &[CrmSystem]) -> Crm {
    let objects = || context.iter().flat_map(|system| system.objects.iter());
    let first = |kind: &str| objects().find(|o| is_kind(o, kind) && field(o, "Name").is_some());
    let account = first("Account").and_then(|o| field(o, "Name"));
    let opportunity = first("Opportunity");
    Crm {
        account,
        stage: opportunity.and_then(|o| field(o, "StageName")),
        opportunity: opportunity.and_then(|o| field(o, "Name")),
    }
}

fn is_kind(object: &CrmObject, kind: &str) -> bool {
    object
        .object_type
        .as_deref()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(kind))
}

/// A field's value as text (strings and numbers; blank is absent).
fn field(object: &CrmObject, name: &str) -> Option<String> {
    let f = object
        .fields
        .iter()
        .find(|f| f.name.as_deref() == Some(name))?;
    match &f.value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_first_objects_that_have_one() {
        let context: Vec<CrmSystem> = serde_json::from_value(serde_json::json!([
            {"system": "Salesforce", "objects": [
                {"objectType": "Account", "objectId": "0011", "timing": "Now", "fields": [{"name": "Website", "value": "acme.com"}]},
                {"objectType": "Opportunity", "objectId": "0063", "timing": "Now",
                 "fields": [{"name": "Name", "value": "Acme expansion"}, {"name": "StageName", "value": "Discovery"}, {"name": "Amount", "value": 50000}]}
            ]},
            {"system": "HubSpot", "objects": [
                {"objectType": "Account", "fields": [{"name": "Name", "value": " Acme Corp "}]}
            ]}
        ]))
        .unwrap();
        let crm = read(&context);
        assert_eq!(crm.account.as_deref(), Some("Acme Corp"));
        assert_eq!(crm.opportunity.as_deref(), Some("Acme expansion"));
        assert_eq!(crm.stage.as_deref(), Some("Discovery"));
        assert_eq!(read(&[]), Crm::default());
    }
}
