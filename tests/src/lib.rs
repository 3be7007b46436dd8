//! The harness of the workspace end-to-end suite (`tests/runbook.rs`): real `troupe`
//! processes (the binary cargo built for this workspace) sharing one PostgreSQL database made
//! for the test, a loopback HTTP client for their health and admin endpoints, and a
//! fingerprint of every data table, so a test can show that no row moved on a flag change.
//! Knows nothing of the bot's internals: it sees what an operator sees (the command line,
//! HTTP, the database's rows). Dev-only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous: a loaded 2-core machine may be slow, and every wait ends as soon as its condition
/// holds.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The `troupe` binary of this workspace: `TROUPE_TEST_BINARY`, else the one cargo built next
/// to this test (`target/<triple>/<profile>/troupe`; `cargo nextest run --workspace`,
/// `scripts/test` and `cargo test --workspace` build it, as `troupe`'s own tests need it).
///
/// # Panics
/// When there is no such binary, saying how to build it.
pub fn troupe_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TROUPE_TEST_BINARY") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join(format!("troupe{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p troupe` (or run this suite with \
         `cargo nextest run -p troupe -p troupe-runbook-tests`), or set TROUPE_TEST_BINARY",
        binary.display()
    );
    binary
}

/// The tables holding the bot's data (what users created), as opposed to its bookkeeping
/// (flags and their audit, processed-message guard, gateway sessions, rate-limit slots,
/// leases, migrations).
pub const DATA_TABLES: [&str; 11] = [
    "personalities",
    "aliases",
    "channel_activations",
    "conversations",
    "history",
    "autorespond",
    "message_map",
    "auth_tokens",
    "age_verifications",
    "pending_authorizations",
    "notification_preferences",
];

pub use troupe_testkit::postgres::Database;

/// Row count and an MD5 of the sorted rows of every data table ([`DATA_TABLES`]): equal
/// fingerprints mean the same rows, column for column.
pub fn fingerprint(db: &Database) -> BTreeMap<String, String> {
    let sql = DATA_TABLES
        .iter()
        .map(|t| {
            format!(
                "SELECT '{t}', count(*) || ' rows ' || \
                 md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM {t} r"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.query(&sql)
        .lines()
        .filter_map(|line| line.split_once('|'))
        .map(|(table, print)| (table.to_owned(), print.to_owned()))
        .collect()
}

/// A `troupe` command with a clean environment: only `PATH` and what `env` gives.
pub fn command(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(troupe_binary());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs a maintenance command (`troupe flags set …`, `troupe backup`) to its end.
///
/// # Panics
/// When the binary cannot be started.
pub fn run_cli(env: &[(&str, String)], args: &[&str], dir: &Path) -> Output {
    command(env)
        .args(args)
        .env("TROUPE_LOG", "off")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("troupe runs")
}

/// A long-running `troupe` process (`troupe run`), its log lines kept for diagnosis and the
/// address of its HTTP server read from its log. Stopped with SIGTERM when dropped.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    addr: Arc<Mutex<Option<String>>>,
}

impl Process {
    /// Starts `command` (JSON logs on stderr, `TROUPE_HTTP_ADDR=127.0.0.1:0`).
    ///
    /// # Panics
    /// When the process cannot be started.
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .env("TROUPE_LOG_FORMAT", "json")
            .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("troupe starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let addr = Arc::new(Mutex::new(None));
        let stderr = child.stderr.take().expect("stderr");
        {
            let (logs, addr) = (Arc::clone(&logs), Arc::clone(&addr));
            std::thread::spawn(move || {
                use std::io::BufRead as _;
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(json) = serde_json::from_str::<Value>(&line)
                        && json["fields"]["message"] == "health, metrics and admin API listening"
                        && let Some(a) = json["fields"]["addr"].as_str()
                    {
                        *addr.lock().unwrap() = Some(a.to_owned());
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        Self {
            name: name.to_owned(),
            child,
            logs,
            addr,
        }
    }

    /// The process's log so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// `http://host:port` of its HTTP server, waiting (up to [`DEADLINE`]) for it to listen.
    ///
    /// # Panics
    /// When it does not listen in time, showing its log.
    pub async fn http(&mut self) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(addr) = self.addr.lock().unwrap().clone() {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.logs());
            }
            assert!(
                Instant::now() < until,
                "{} never listened:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then waits (up to [`DEADLINE`], then kills); the exit code.
    pub async fn stop(mut self) -> Option<i32> {
        self.terminate().await
    }

    async fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + DEADLINE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) if Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => {
                    let _ = self.child.kill();
                    return self.child.wait().ok().and_then(|s| s.code());
                }
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(15);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP/1.0 request to `base` (`http://host:port`): the status and the body. HTTP/1.0
/// keeps the answer unchunked and the connection closed after it.
///
/// # Panics
/// On a connection failure or a malformed answer.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("connect {host}: {e}"));
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .expect("an answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status in {head:?}"));
    (status, body.to_owned())
}

/// `GET path` answered 200 with JSON.
///
/// # Panics
/// Otherwise.
pub async fn get_json(base: &str, path: &str, token: Option<&str>) -> Value {
    let (status, body) = http(base, "GET", path, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The sum of the Prometheus samples of `name` whose labels include every `labels` pair.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_sums_the_series_carrying_every_label_asked_for() {
        let text = "# TYPE t counter\n\
            t{command=\"ping\",system=\"ddd\",outcome=\"success\"} 2\n\
            t{command=\"ping\",system=\"ddd\",outcome=\"user_error\"} 1\n\
            t{command=\"ping\",system=\"legacy\",outcome=\"success\"} 5\n\
            other{command=\"ping\",system=\"ddd\"} 9\n";
        assert!((metric(text, "t", &[("command", "ping"), ("system", "ddd")]) - 3.0).abs() < 1e-9);
        assert!((metric(text, "t", &[("system", "legacy")]) - 5.0).abs() < 1e-9);
        assert!(metric(text, "t", &[("system", "shadow")]).abs() < 1e-9);
    }
}
