//! No guest text forges a host line: the probe component sends requests whose path, upstream
//! name and header name carry `\r\n` followed by a line that looks like the host's own, ANSI
//! escapes and a NUL, through `harness check` with warnings logged. Every refusal the host
//! prints (the egress log line and the command's error) quotes them escaped, on one line.

use std::path::Path;
use std::process::Command;

const FORGED: &str = "INFO crawl: full crawl completed";

fn check(dir: &Path, settings: &[(&str, &str)]) -> String {
    let mut s = String::from("[connector.settings]\naction = \"request\"\n");
    for (k, v) in settings {
        // TOML basic strings: the escapes below put real control characters in the value.
        s.push_str(&format!("{k} = \"{v}\"\n"));
    }
    let config = dir.join("h.toml");
    std::fs::write(
        &config,
        format!(
            "[connector]\nname = \"forge\"\ncomponent = \"{}\"\nstate_dir = \"{}\"\n{s}\
             [upstreams.target]\nbase_url = \"http://127.0.0.1:9\"\nallow_private_network = true\n\
             [upstreams.target.credentials]\nX-Api-Key = {{ env = \"PROBE_KEY\" }}\n\
             [glean]\nbase_url = \"http://127.0.0.1:9\"\ntoken_env = \"PROBE_KEY\"\n",
            tenant_instance::probe_component().unwrap().display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", "--config"])
        .arg(&config)
        .env("PROBE_KEY", "probe-key-1234")
        .env("HARNESS_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the request must be refused");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_forged_line(what: &str, output: &str, quoted: bool) {
    assert!(
        !output.contains('\u{1b}'),
        "{what}: an ANSI escape got through: {output}"
    );
    assert!(!output.contains('\0'), "{what}: a NUL got through");
    for line in output.lines() {
        let line = line.trim_start();
        assert!(!line.starts_with(FORGED), "{what}: a forged line: {output}");
        assert!(!line.starts_with("\u{1b}"), "{what}: {output}");
    }
    if quoted {
        assert!(
            output.contains("\\r\\nINFO crawl"),
            "{what}: the text is quoted escaped: {output}"
        );
    }
}

#[test]
fn refusals_quote_guest_paths_headers_and_upstreams_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let forged = format!("\\r\\n{FORGED}\\u001b[2J\\u0000");
    // The last is refused as a malformed header before any message could quote it.
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "a path with a line break",
            vec![("path", format!("/x{forged}"))],
        ),
        (
            "a path leaving the origin",
            vec![("path", format!("//127.0.0.2/{forged}"))],
        ),
        (
            "an undeclared upstream",
            vec![("upstream", format!("elsewhere{forged}"))],
        ),
        (
            "a header name with a line break",
            vec![
                ("header_name", format!("X-Api-Key{forged}")),
                ("header_value", "v".to_string()),
            ],
        ),
    ];
    for (n, (what, settings)) in cases.into_iter().enumerate() {
        let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = check(dir.path(), &settings);
        assert_no_forged_line(what, &output, n < 3);
    }
}
