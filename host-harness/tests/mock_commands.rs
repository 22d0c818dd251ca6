//! `harness mock-clari`, `harness mock-gong`, `harness mock-glean` and `harness mock-tape` print
//! the address they really bound: with `--addr 127.0.0.1:0` the port the system chose, which
//! then answers. `mock-tape` answers what its recording holds, in order, and 501 for the rest.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `harness <command> --addr 127.0.0.1:0`, reads its first line, and checks that the
/// printed address answers HTTP.
fn prints_the_bound_port(command: &str) {
    let (mut child, addr) = start(&[command]);
    assert!(
        ask(
            &addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .starts_with("HTTP/1.1 "),
        "{command}"
    );
    child.kill().ok();
    child.wait().ok();
}

/// Starts `harness <args> --addr 127.0.0.1:0` and returns it with the address it printed.
fn start(args: &[&str]) -> (std::process::Child, String) {
    let command = args[0];
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split([' ', ';', '/']).next())
        .unwrap_or_default()
        .to_string();
    assert!(!addr.ends_with(":0"), "{command} printed port 0: {line}");
    (child, addr)
}

/// Sends `request` to `addr` and returns the whole answer.
fn ask(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok();
    answer
}

#[test]
fn mock_glean_prints_the_port_it_bound() {
    prints_the_bound_port("mock-glean");
}

#[test]
fn mock_clari_prints_the_port_it_bound() {
    prints_the_bound_port("mock-clari");
}

#[test]
fn mock_gong_prints_the_port_it_bound() {
    prints_the_bound_port("mock-gong");
}

#[test]
fn mock_tape_answers_from_its_recording_in_order_and_501_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("t.tape");
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let exchange = |body: &str| {
        format!(
            "{{\"upstream\":\"api\",\"method\":\"GET\",\"path\":\"/notes?page=0\",\"body_sha256\":\"{empty}\",\"status\":200,\"headers\":[[\"content-type\",\"application/json\"]],\"body\":\"{body}\"}}\n"
        )
    };
    std::fs::write(
        &tape,
        format!(
            "{{\"tape\": 1, \"clock\": 1767261600}}\n{}{}",
            exchange("first"),
            exchange("second")
        ),
    )
    .unwrap();
    let (mut child, addr) = start(&["mock-tape", tape.to_str().unwrap()]);
    let get = |path: &str| {
        ask(
            &addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    };
    for expected in ["first", "second", "second"] {
        let answer = get("/notes?page=0");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("content-type: application/json"),
            "{answer}"
        );
        assert!(answer.ends_with(expected), "{answer}");
    }
    let answer = get("/notes?page=1");
    assert!(answer.starts_with("HTTP/1.1 501"), "{answer}");
    assert!(
        answer.contains("the recording has no answer for GET"),
        "{answer}"
    );
    child.kill().ok();
    child.wait().ok();
}
