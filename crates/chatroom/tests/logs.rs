//! The binary's log output as pm2, journald and log shippers read it (issue 7): no colour
//! codes when stderr is not a terminal, one JSON object per line with `--log-format json`;
//! and a `--max-connections` at or above the open-file limit stops the start.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_chatroom");

/// Runs the server with `extra` flags, makes it log a request refusal, stops it with SIGTERM
/// and returns its stderr.
fn logs_of(extra: &[&str]) -> String {
    logs_after(extra, origin_refused)
}

/// A request from a foreign origin: refused with 403.
fn origin_refused(addr: &str) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\nOrigin: http://evil.example\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(" 403 "), "{answer}");
}

/// Runs the server with `extra` flags, lets `attack` talk to it, stops it with SIGTERM and
/// returns its stderr.
fn logs_after(extra: &[&str], attack: impl FnOnce(&str)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let mut child = Command::new(BIN)
        .args(["--host", "127.0.0.1", "--port", "0", "--db", &db])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("address line")
        .to_owned();
    attack(&addr);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{stderr}");
    stderr
}

#[test]
fn text_logs_have_no_colour_codes_off_a_terminal() {
    let logs = logs_of(&[]);
    assert!(logs.contains("origin_not_allowed"), "{logs}");
    assert!(!logs.contains("\x1b["), "{logs:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let logs = logs_of(&["--log-format", "json"]);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(lines.len() >= 3, "{logs}");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["reason"] == "origin_not_allowed" && l["level"] == "WARN"),
        "{logs}"
    );
}

#[test]
fn max_connections_at_the_open_file_limit_is_refused_at_start() {
    let out = Command::new(BIN)
        .args(["--max-connections", "4000000000", "--db", "memory"])
        .env_remove("PORT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("chatroom: invalid --max-connections")
            && stderr.contains("open-file limit"),
        "{stderr}"
    );
}

/// One HTTP/1.0 exchange: the status code and the body.
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[test]
fn oversized_and_malformed_packets_are_logged_with_the_client_address() {
    let logs = logs_after(&["--max-message-bytes", "2048"], |addr| {
        let post = |sid: &str, body: &str| {
            http(
                addr,
                &format!(
                    "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.0\r\n\
                     Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            )
        };
        let open = || {
            let (status, body) = http(
                addr,
                "GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n",
            );
            assert_eq!(status, 200, "{body}");
            let open: serde_json::Value =
                serde_json::from_str(body.trim_start_matches('0')).expect("open packet");
            open["sid"].as_str().unwrap().to_owned()
        };
        let (status, _) = post(&open(), &format!("4{}", "x".repeat(5000)));
        assert_eq!(status, 413);
        let (status, _) = post(&open(), "9not a packet");
        assert_eq!(status, 400);
    });
    assert!(logs.contains("payload_too_large"), "{logs}");
    assert!(logs.contains("bad_packet"), "{logs}");
    assert!(logs.contains("client=127.0.0.1"), "{logs}");
}
