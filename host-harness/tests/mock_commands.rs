//! `harness mock-clari`, `harness mock-gong` and `harness mock-glean` print the address they really bound: with
//! `--addr 127.0.0.1:0` the port the system chose, which then answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `harness <command> --addr 127.0.0.1:0`, reads its first line, and checks that the
/// printed address answers HTTP.
fn prints_the_bound_port(command: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([command, "--addr", "127.0.0.1:0"])
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
    let mut stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{addr}: {e} ({line})"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok();
    assert!(answer.starts_with("HTTP/1.1 "), "{command}: {answer}");
    child.kill().ok();
    child.wait().ok();
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
