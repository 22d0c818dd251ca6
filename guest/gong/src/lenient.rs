//! Tolerant field readers for Gong's JSON. Gong writes explicit `null`s, omits keys, and "may,
//! without prior warning, add fields"; a field of an unexpected type here reads as absent
//! instead of failing the whole answer, and a list entry that does not parse is left out.
//!
//! Use with `#[serde(default, deserialize_with = "lenient::...")]` (or a `#[serde(default)]`
//! container).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string; a number is read as its decimal text (ids are strings in Gong's spec, but a
/// numeric id is not worth failing on). Anything else is absent; blank text is absent.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A number (seconds, milliseconds, counts); a numeric string is accepted.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let n = match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    Ok(n.filter(|n| n.is_finite()))
}

/// A boolean; anything else (including `null`) is absent, which callers treat as unknown.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        _ => None,
    })
}

/// A list; `null` or a non-list is empty, and entries that do not parse are left out.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A list that must be there: `None` when absent, `null` or not a list (the caller decides
/// what a missing list means); entries that do not parse are left out.
pub fn some_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ),
        _ => None,
    })
}

/// An object; `null` or anything that does not parse as `T` is absent.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "string")]
        s: Option<String>,
        #[serde(deserialize_with = "number")]
        n: Option<f64>,
        #[serde(deserialize_with = "boolean")]
        b: Option<bool>,
        #[serde(deserialize_with = "list")]
        l: Vec<u32>,
    }

    #[test]
    fn odd_types_read_as_absent() {
        let p: Probe = serde_json::from_str(r#"{"s":7,"n":"1.5","b":null,"l":[1,"x",3]}"#).unwrap();
        assert_eq!(p.s.as_deref(), Some("7"));
        assert_eq!(p.n, Some(1.5));
        assert_eq!(p.b, None);
        assert_eq!(p.l, vec![1, 3]);
        let p: Probe =
            serde_json::from_str(r#"{"s":" ","n":{},"b":"true","l":null,"x":1}"#).unwrap();
        assert_eq!((p.s, p.n, p.b, p.l.len()), (None, None, None, 0));
        let p: Probe = serde_json::from_str("{}").unwrap();
        assert!(p.s.is_none() && p.l.is_empty());
    }
}
