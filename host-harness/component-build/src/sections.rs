//! The top-level sections of a WebAssembly binary (component or core module), read and written
//! without a parser: enough to find the main core module of a component, to mark it, and to
//! splice an optimised one back in.

use std::ops::Range;

/// One top-level section: its id, where it starts (the id byte) and its payload.
pub struct Section {
    pub id: u8,
    pub start: usize,
    pub payload: Range<usize>,
}

pub fn read_leb(bytes: &[u8], at: &mut usize) -> Result<usize, String> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at).ok_or("truncated LEB128")?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| "LEB128 too large".to_string());
        }
    }
    Err("LEB128 too long".into())
}

pub fn push_leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// The top-level sections after the 8-byte preamble.
pub fn sections(bytes: &[u8]) -> Result<Vec<Section>, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly binary".into());
    }
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let len = read_leb(bytes, &mut at)?;
        let end = at
            .checked_add(len)
            .filter(|e| *e <= bytes.len())
            .ok_or("section past the end")?;
        out.push(Section {
            id,
            start,
            payload: at..end,
        });
        at = end;
    }
    Ok(out)
}

pub fn has_custom_section(module: &[u8], name: &str) -> bool {
    sections(module).is_ok_and(|sections| {
        sections.iter().filter(|s| s.id == 0).any(|s| {
            let mut at = s.payload.start;
            read_leb(module, &mut at).is_ok_and(|n| {
                at.checked_add(n).and_then(|e| module.get(at..e)) == Some(name.as_bytes())
            })
        })
    })
}

pub fn append_custom_section(module: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    push_leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    module.push(0);
    push_leb(module, body.len());
    module.extend_from_slice(&body);
}

/// The component's largest core module (section id 1): the connector's code.
pub fn main_module(component: &[u8]) -> Result<Section, String> {
    sections(component)?
        .into_iter()
        .filter(|s| s.id == 1)
        .max_by_key(|s| s.payload.len())
        .ok_or_else(|| "the component holds no core module".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_garbage_is_refused() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        assert!(!has_custom_section(&module, "mark"));
        append_custom_section(&mut module, "mark", b"x");
        assert!(has_custom_section(&module, "mark"));
        assert!(sections(b"nope").is_err());
        assert!(
            sections(b"\0asm\x01\0\0\0\x01\xff").is_err(),
            "truncated length"
        );
        assert!(
            main_module(&module).is_err(),
            "a module holds no nested module"
        );
    }
}
