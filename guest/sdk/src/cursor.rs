//! A typed listing cursor: any serde type, written as versioned JSON and size-checked, so a
//! connector neither hand-rolls a cursor format nor reads a cursor another version wrote as if
//! it were its own.
//!
//! ```
//! use connector_sdk::cursor;
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Position { page: u32, since_ms: i64 }
//!
//! let raw = cursor::encode(1, &Position { page: 3, since_ms: 0 }).unwrap();
//! let back: Option<Position> = cursor::decode(1, Some(&raw)).unwrap();
//! assert_eq!(back, Some(Position { page: 3, since_ms: 0 }));
//! assert!(cursor::decode::<Position>(2, Some(&raw)).is_err());
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The largest cursor written or read, in bytes. The host stores the cursor with every
/// checkpoint; a listing position rarely needs more than a few hundred bytes.
pub const MAX_CURSOR_BYTES: usize = 64 * 1024;

#[derive(Serialize)]
struct Out<'a, T> {
    v: u32,
    s: &'a T,
}

/// What is read after the version matched (`v` was checked from [`VersionOnly`]).
#[derive(serde::Deserialize)]
struct In<T> {
    s: T,
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    v: u32,
}

/// `state` as a cursor of format `version`. Fails when it does not serialise or is larger
/// than [`MAX_CURSOR_BYTES`] (a connector bug: keep less in the cursor).
pub fn encode<T: Serialize>(version: u32, state: &T) -> Result<String, Error> {
    let raw = serde_json::to_string(&Out {
        v: version,
        s: state,
    })
    .map_err(|e| Error::system(format!("the cursor does not serialise: {e}")))?;
    if raw.len() > MAX_CURSOR_BYTES {
        return Err(Error::system(format!(
            "the cursor is {} bytes, more than the {MAX_CURSOR_BYTES} allowed: keep less listing state in it",
            raw.len()
        )));
    }
    Ok(raw)
}

/// The state in `raw` (`None` when there is no cursor). A cursor of another format version,
/// or one this connector did not write, is an [`Error::Config`] that says to start over with a
/// full crawl, which needs no cursor.
pub fn decode<T: DeserializeOwned>(version: u32, raw: Option<&str>) -> Result<Option<T>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let refuse = |why: String| {
        Error::config(format!(
            "the listing cursor is not one this connector can read ({why}); run a full crawl, which starts without a cursor"
        ))
    };
    if raw.len() > MAX_CURSOR_BYTES {
        return Err(refuse(format!("{} bytes", raw.len())));
    }
    let found: VersionOnly =
        serde_json::from_str(raw).map_err(|e| refuse(format!("no version: {e}")))?;
    if found.v != version {
        return Err(refuse(format!(
            "format version {}, this connector reads {version}",
            found.v
        )));
    }
    let parsed: In<T> = serde_json::from_str(raw).map_err(|e| refuse(e.to_string()))?;
    Ok(Some(parsed.s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_and_oversized_cursors() {
        assert_eq!(decode::<u32>(1, None).unwrap(), None);
        assert_eq!(
            decode::<u32>(1, Some("{\"v\":1,\"s\":7}")).unwrap(),
            Some(7)
        );
        for bad in [
            "",
            "7",
            "{\"s\":7}",
            "{\"v\":1,\"s\":\"x\"}",
            "{\"v\":2,\"s\":7}",
        ] {
            let e = decode::<u32>(1, Some(bad)).unwrap_err();
            assert!(
                matches!(&e, Error::Config(m) if m.contains("full crawl")),
                "{bad}: {e:?}"
            );
        }
        let big = "x".repeat(MAX_CURSOR_BYTES);
        assert!(matches!(encode(1, &big), Err(Error::System(_))));
    }
}
