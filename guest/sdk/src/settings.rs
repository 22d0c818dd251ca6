//! Non-secret settings from the host's `settings` import, with typed parsing.

use std::str::FromStr;

use crate::Error;

/// The raw value of `key`, if the host configured one. Always `None` when built natively.
pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::connector::platform::settings::get(key)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        None
    }
}

/// `key` parsed as `T`, or `default` when unset. A value that does not parse is a `config`
/// error naming the key and the value expected.
pub fn get_or<T: FromStr>(key: &str, default: T, expected: &str) -> Result<T, Error> {
    parse_or(key, get(key), default, expected)
}

/// The parsing half of [`get_or`], usable without the host.
pub fn parse_or<T: FromStr>(
    key: &str,
    raw: Option<String>,
    default: T,
    expected: &str,
) -> Result<T, Error> {
    match raw {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| {
            Error::config(format!(
                "setting `{key}` is `{raw}`, expected {expected}; fix it in the connector settings"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_or_explains() {
        assert_eq!(parse_or("n", None, 5u32, "a number").unwrap(), 5);
        assert_eq!(
            parse_or("n", Some(" 7 ".into()), 5u32, "a number").unwrap(),
            7
        );
        let e = parse_or("n", Some("x".into()), 5u32, "a whole number").unwrap_err();
        assert!(matches!(e, Error::Config(m) if m.contains("`n`") && m.contains("whole number")));
    }
}
