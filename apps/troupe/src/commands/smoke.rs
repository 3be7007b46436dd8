//! `troupe smoke <url>`: the production smoke test. Checks every health endpoint and `/metrics`
//! of a running Troupe and, with the admin token, runs one command per category through the
//! admin API (`POST /admin/commands`, as the operator in a DM; nothing is posted to Discord).
//!
//! Exit codes: 0 every check passed; 1 a check failed (each is listed); 2 invalid usage.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One read-only command per category.
pub const COMMANDS: &[(&str, &str)] = &[
    ("utility", "ping"),
    ("authentication", "auth status"),
    ("conversation", "autorespond status"),
    ("personality", "list"),
];

/// Options of `troupe smoke`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every check passed, 1 a check failed, 2 invalid usage.\n\
Example: troupe smoke http://127.0.0.1:3000 --admin-token \"$TROUPE_ADMIN_TOKEN\""
)]
pub struct SmokeArgs {
    /// Base URL of the Troupe HTTP listener, e.g. http://127.0.0.1:3000 (default: TROUPE_URL).
    #[arg(env = "TROUPE_URL")]
    pub url: String,
    /// The admin token: also run one command per category through the admin API.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TROUPE_SMOKE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// The command prefix of that Troupe (default: TROUPE_PREFIX).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Seconds to wait for each request.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Fail when /health says degraded (default: report it and pass).
    #[arg(long)]
    pub strict: bool,
}

struct Smoke {
    client: reqwest::Client,
    base: String,
    failures: usize,
}

impl Smoke {
    fn pass(what: &str, detail: &str) {
        println!("ok    {what:<28} {detail}");
    }

    fn fail(&mut self, what: &str, detail: &str) {
        self.failures += 1;
        println!("FAIL  {what:<28} {detail}");
    }

    async fn get(&mut self, path: &str) -> Option<(u16, String)> {
        let started = Instant::now();
        match self.client.get(format!("{}{path}", self.base)).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                tracing::debug!(path, status, ms = started.elapsed().as_millis(), "smoke");
                Some((status, text))
            }
            Err(e) => {
                self.fail(
                    &format!("GET {path}"),
                    &format!("no answer: {}", e.without_url()),
                );
                None
            }
        }
    }

    async fn json(&mut self, path: &str, expect: &[u16]) -> Option<Value> {
        let (status, text) = self.get(path).await?;
        let what = format!("GET {path}");
        if !expect.contains(&status) {
            self.fail(&what, &format!("HTTP {status}: {}", excerpt(&text)));
            return None;
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(&what, &format!("not JSON ({e})"));
                None
            }
        }
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

pub async fn run(args: SmokeArgs, default_prefix: &str) -> anyhow::Result<ExitCode> {
    let base = args.url.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        eprintln!("troupe: the URL must start with http:// or https://");
        return Ok(ExitCode::from(2));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()?;
    let mut s = Smoke {
        client,
        base,
        failures: 0,
    };
    println!("smoke test of {}", s.base);

    if let Some(v) = s.json("/health/live", &[200]).await {
        if v["status"] == "alive" {
            Smoke::pass("GET /health/live", "alive");
        } else {
            s.fail("GET /health/live", &excerpt(&v.to_string()));
        }
    }
    if let Some(v) = s.json("/health", &[200, 503]).await {
        let status = v["status"].as_str().unwrap_or("?").to_owned();
        let shaped = ["discord", "database", "ai", "backups"]
            .iter()
            .all(|k| v["checks"][k].is_object())
            && v["uptime"].is_string()
            && v["version"].is_string();
        let detail = format!(
            "{status}, up {}, version {}, database {} ms, gateway {}",
            v["uptime"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("?"),
            v["checks"]["database"]["ping_ms"],
            v["checks"]["discord"]["state"].as_str().unwrap_or("?"),
        );
        let alerts: Vec<String> = v["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| format!("{} {}", x["severity"], x["message"]))
                    .collect()
            })
            .unwrap_or_default();
        if !shaped {
            s.fail(
                "GET /health",
                &format!("unexpected shape: {}", excerpt(&v.to_string())),
            );
        } else if status == "healthy" || (status == "degraded" && !args.strict) {
            Smoke::pass("GET /health", &detail);
        } else {
            s.fail("GET /health", &detail);
        }
        for alert in alerts {
            println!("      alert: {alert}");
        }
    }
    if let Some(v) = s.json("/health/ready", &[200, 503]).await {
        if v["ready"] == true {
            Smoke::pass("GET /health/ready", "ready");
        } else {
            s.fail("GET /health/ready", &format!("not ready: {}", v["checks"]));
        }
    }
    if let Some(v) = s.json("/health/features", &[200]).await {
        match v["ddd.commands.enabled"].as_bool() {
            Some(enabled) => Smoke::pass(
                "GET /health/features",
                &format!(
                    "ddd.commands.enabled={enabled} ({})",
                    v["sources"]["ddd.commands.enabled"].as_str().unwrap_or("?")
                ),
            ),
            None => s.fail("GET /health/features", "no ddd.commands.enabled"),
        }
    }
    if let Some(v) = s.json("/health/commands", &[200]).await {
        let n = v["commands"].as_object().map_or(0, serde_json::Map::len);
        if n == 18 {
            Smoke::pass(
                "GET /health/commands",
                &format!(
                    "{} of 18 commands on the new system, legacy_active={}",
                    v["commands_migrated"], v["legacy_active"]
                ),
            );
        } else {
            s.fail(
                "GET /health/commands",
                &format!("{n} commands listed, 18 expected"),
            );
        }
    }
    if let Some((status, text)) = s.get("/metrics").await {
        if status == 200 && text.contains("troupe_build_info") {
            let families = text.lines().filter(|l| l.starts_with("# TYPE")).count();
            Smoke::pass("GET /metrics", &format!("{families} metric families"));
        } else {
            s.fail("GET /metrics", &format!("HTTP {status}"));
        }
    }

    match &args.admin_token {
        None => println!("skip  commands per category        (no --admin-token)"),
        Some(token) => {
            let prefix = args.prefix.as_deref().unwrap_or(default_prefix);
            for (category, command) in COMMANDS {
                let what = format!("{category}: {prefix} {command}");
                let body = serde_json::json!({ "text": format!("{prefix} {command}") });
                let answer = s
                    .client
                    .post(format!("{}/admin/commands", s.base))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                let (status, text) = match answer {
                    Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                    Err(e) => {
                        s.fail(&what, &format!("no answer: {}", e.without_url()));
                        continue;
                    }
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let r = &v["result"];
                let class = r["class"].as_str().unwrap_or("?");
                if status == 200 && class != "internal_error" && r["command"].is_string() {
                    Smoke::pass(
                        &what,
                        &format!(
                            "{class} via {} ({} ms)",
                            r["system"].as_str().unwrap_or("?"),
                            r["elapsed_ms"]
                        ),
                    );
                } else {
                    s.fail(&what, &format!("HTTP {status}: {}", excerpt(&text)));
                }
            }
        }
    }

    if s.failures == 0 {
        println!("smoke test passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("smoke test FAILED: {} check(s)", s.failures);
        Ok(ExitCode::from(1))
    }
}
