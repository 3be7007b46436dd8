//! Issue 11's reproduction, driven as a user drives it: `troupe console --http` with the new
//! system shadowing the personality commands (legacy authoritative), then `!tz add tesla`,
//! `!tz alias tesla nikola`, `!tz remove tesla`. Every write is compared against the state
//! legacy started from (ADR 0015), so `/admin/shadow/mismatches` stays empty and the metrics
//! count three matches (the comparisons really ran).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "shadow-console-admin-token-0123456789";
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills the console when the test ends, also on a failed assertion.
struct Console(Child);

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stream, read on a thread.
fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (up to the deadline) for a line containing `needle`; returns it and everything seen.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let until = Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(e) => panic!("no line with {needle:?} ({e}); seen:\n{}", seen.join("\n")),
        }
    }
}

/// `GET path` with the admin token; the response body.
fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the HTTP server accepts");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "GET {path}: {response}"
    );
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

#[test]
fn shadowed_add_alias_and_remove_in_the_console_report_no_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["console", "--http"])
        .env_clear()
        .env("TROUPE_DATA_DIR", dir.path())
        .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
        .env("TROUPE_ADMIN_TOKEN", TOKEN)
        .env("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true")
        .env("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "true")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("troupe starts");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let _console = Console(child);

    let mut seen = Vec::new();
    let banner = wait_for(&stderr, "admin API on http://", &mut seen);
    let addr = banner
        .rsplit("http://")
        .next()
        .expect("an address")
        .trim()
        .to_owned();

    let mut out = Vec::new();
    for (line, answer) in [
        ("!tz add tesla", "Personality created"),
        ("!tz alias tesla nikola", "Alias added"),
        ("!tz remove tesla", "Personality removed"),
    ] {
        writeln!(stdin, "{line}").expect("line written");
        stdin.flush().unwrap();
        wait_for(&stdout, answer, &mut out);
    }
    // The console runs each shadow comparison right after printing the answer, before it
    // reads the next line: once this line is answered, all three comparisons have finished.
    writeln!(stdin, "!tz ping").unwrap();
    stdin.flush().unwrap();
    wait_for(&stdout, "Pong", &mut out);

    let mismatches = get(&addr, "/admin/shadow/mismatches");
    let json: serde_json::Value = serde_json::from_str(&mismatches).expect("JSON");
    assert_eq!(json["total"], 0, "{json}");
    assert_eq!(json["mismatches"], serde_json::json!([]), "{json}");

    let metrics = get(&addr, "/metrics");
    let matches = metrics
        .lines()
        .find(|l| {
            l.starts_with("troupe_shadow_comparisons_total")
                && l.contains("personality")
                && l.contains("\"match\"")
        })
        .unwrap_or_else(|| panic!("a shadow match count in:\n{metrics}"));
    assert!(
        matches.ends_with(" 3"),
        "three comparisons, all matches: {matches}"
    );
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("troupe_shadow_comparisons_total")
                && (l.contains("\"mismatch\"")
                    || l.contains("\"error\"")
                    || l.contains("\"skipped\""))
                && !l.ends_with(" 0")),
        "no mismatch, error or skipped comparison:\n{metrics}"
    );
}
