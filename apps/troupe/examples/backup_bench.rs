//! Backup bench (issue 14 item 4, docs/PERFORMANCE.md "Backups and check"): the bot's command
//! latency while `Store::backup` snapshots and verifies a SQLite store of 100,000
//! personalities, against the same commands without a backup. Target: p99 during a backup
//! within 2× of p99 without one.
//!
//! The commands are `!tz info <name>` through the real dispatcher (new system, SQLite store of
//! the temporary data directory), one at a time from a fresh user each (so the identical-command
//! guard never answers). The store is filled with the `sqlite3` client in one statement.
//!
//! Run: `cargo run -p troupe --example backup_bench` (`BENCH_PERSONALITIES`, `BENCH_COMMANDS`
//! change the sizes, `BENCH_PACE=full` takes the backups at full speed instead of the bot's
//! background pace; the release profile gives the production figures).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use troupe::config::Config;
use troupe::console::ConsolePlatform;
use troupe::wiring::{App, Claims};
use troupe_application::{Invoker, Location, Permissions, RequestSource, SystemKind};
use troupe_domain::{ChannelId, DISCORD_EPOCH_MS, GuildId, MessageId, UserId};
use troupe_store::ClaimBookSettings;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A message id as Discord makes it now: a snowflake of the current time (its low bits `n`).
/// The claim book answers such ids from memory once the bot has been up longer than its
/// clock-skew margin, as in production; an id from before the bot started is checked against
/// the store.
fn fresh_message_id(n: u64) -> MessageId {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    let made = now_ms.saturating_sub(DISCORD_EPOCH_MS as u64);
    MessageId::new((made << 22) | (n & 0x3f_ffff)).expect("an id")
}

struct Bench {
    app: App,
    personalities: usize,
    next: u64,
}

impl Bench {
    /// One `!tz info` of a random-looking personality; its latency.
    async fn command(&mut self) -> Duration {
        self.next += 1;
        let n = self.next;
        let name = format!("p{}", (n * 7_919) % self.personalities as u64);
        let started = Instant::now();
        let done = self
            .app
            .dispatcher
            .dispatch_text(
                &format!("!tz info {name}"),
                Invoker {
                    id: UserId::new(1_000_000 + n).expect("an id"),
                    display_name: "bench".into(),
                    is_bot_owner: false,
                    permissions: Permissions::default(),
                    via_proxy: false,
                },
                Location::Guild {
                    guild: GuildId::new(11).expect("an id"),
                    channel: ChannelId::new(12).expect("an id"),
                    age_restricted: true,
                    visible_age_restricted: Vec::new(),
                },
                RequestSource::Message(fresh_message_id(n)),
                self.app.deps.clock.now(),
            )
            .await;
        let took = started.elapsed();
        let served = done.and_then(|d| d.served_by);
        assert_eq!(served, Some(SystemKind::New), "the command was served");
        took
    }
}

fn summary(label: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p99 = percentile(&samples, 99.0);
    println!(
        "{label:<18} n={:<6} p50={:>9.3?} p95={:>9.3?} p99={:>9.3?} max={:>9.3?}",
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 95.0),
        p99,
        samples.last().copied().unwrap_or_default()
    );
    p99
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let personalities = env_usize("BENCH_PERSONALITIES", 100_000);
    let commands = env_usize("BENCH_COMMANDS", 2_000);
    // `BENCH_PACE=full`: the backups at full speed (`Store::backup`, the operator's command),
    // for comparison with the bot's paced ones.
    let full_speed = std::env::var("BENCH_PACE").is_ok_and(|p| p == "full");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env: Vec<(String, String)> = [
        ("TROUPE_DATA_DIR", dir.path().display().to_string()),
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true".into()),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true".into()),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_sources(&BTreeMap::new(), env).expect("a configuration");
    // Claims in memory, as `troupe run` makes them: a command does not write to the store.
    let app = App::build_with(
        config,
        Arc::new(ConsolePlatform::new()),
        None,
        Claims::InMemory,
    )
    .await
    .expect("the app builds");

    let started = Instant::now();
    let fill = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < {last}) \
         INSERT INTO personalities (name_key, name, owner_id, display_name, display_key, \
         avatar_url, error_message, prompt, model, fetched_at, created_at, updated_at) \
         SELECT 'p' || i, 'P' || i, 7 + i % 1000, 'Personality ' || i, 'personality ' || i, \
         NULL, 'Oops', printf('You are personality %d, with a prompt long enough to matter.', i), \
         NULL, NULL, 1, 1 FROM n;",
        last = personalities - 1
    );
    let out = std::process::Command::new("sqlite3")
        .arg(dir.path().join("troupe.db"))
        .arg(&fill)
        .output()
        .expect("the sqlite3 command-line client is installed");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{personalities} personalities written in {:.1?}",
        started.elapsed()
    );

    let mut bench = Bench {
        app,
        personalities,
        next: 0,
    };
    // Warm-up (caches, connections) until the claim book trusts new ids, as in a bot that has
    // been up longer than the book's clock-skew margin.
    let trusted = ClaimBookSettings::default().skew;
    while started.elapsed() < trusted + Duration::from_secs(1) {
        bench.command().await;
    }
    let mut quiet = Vec::with_capacity(commands);
    for _ in 0..commands {
        quiet.push(bench.command().await);
    }

    // The same commands while backups run back to back, as the bot's schedule takes them
    // (`backup_in_background`: each snapshot, integrity check, row counts and SHA-256), until
    // enough samples fell inside a backup.
    let backup_dir = dir.path().join("backups");
    let mut during = Vec::with_capacity(commands);
    let mut backups = Vec::new();
    while during.len() < commands {
        let store = bench.app.store.clone();
        let target = backup_dir.clone();
        let backup = tokio::spawn(async move {
            let started = Instant::now();
            let manifest = if full_speed {
                store.backup(&target).await
            } else {
                store.backup_in_background(&target).await
            }
            .expect("the backup succeeds");
            (started.elapsed(), manifest.size)
        });
        // Every command until the backup ends counts, so the samples cover the whole backup
        // (snapshot, integrity check, row counts, hashing), however long its pace makes it.
        while !backup.is_finished() {
            during.push(bench.command().await);
        }
        let (took, size) = backup.await.expect("the backup task");
        backups.push((took, size));
    }

    println!();
    for (took, size) in &backups {
        println!("backup: {took:.2?}, {:.1} MB", *size as f64 / 1_000_000.0);
    }
    let p99_quiet = summary("without a backup", quiet);
    let p99_during = summary("during a backup", during);
    let ratio = p99_during.as_secs_f64() / p99_quiet.as_secs_f64().max(1e-9);
    println!(
        "p99 during / without: {ratio:.2}× (target ≤ 2×): {}",
        if ratio <= 2.0 { "met" } else { "MISSED" }
    );
}
