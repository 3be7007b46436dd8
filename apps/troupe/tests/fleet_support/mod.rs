//! Shared helpers of the fleet tests: a randomly named PostgreSQL database, `troupe`
//! processes against the fake Discord, stopping them, HTTP and waiting helpers.
#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use troupe_testkit::discord::{FakeDiscord, TOKEN};

pub const OWNER: u64 = 200_000_000_000_000_001;

pub use troupe_testkit::postgres::Database;

pub fn troupe(fake: &FakeDiscord, db: &Database, dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_troupe"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DISCORD_TOKEN", TOKEN)
        .env("TROUPE_DATABASE_URL", db.url())
        .env("TROUPE_DATA_DIR", dir)
        .env("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url())
        .env("TROUPE_DISCORD_API_PROXY", fake.api_proxy())
        .env("TROUPE_BOT_OWNERS", OWNER.to_string())
        .env("TROUPE_BACKUP_SCHEDULE", "off")
        .env("TROUPE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Stops the processes when dropped (also when the test fails); a stopped one is continued.
pub struct Fleet(pub Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &self.0 {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    serde_json::from_str(&response.text().await.ok()?).ok()
}

/// Polls `check` every 20 ms until it holds or `deadline` passes.
pub async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
