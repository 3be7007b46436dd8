//! Conversation benchmark (issue 7): conversation messages per second end to end and the bot's
//! own added latency, with the fake AI answering at once, and memory with 1,000 live
//! conversations. Runs the real `troupe run` wiring (SQLite in a temporary directory) against
//! the fake Discord and the fake OpenAI-compatible provider on loopback; then the message flow
//! alone over in-memory fakes.
//!
//! `cargo run --release -p troupe --example conversation_bench`

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use troupe::config::Config;
use troupe::run::{RunOptions, run_until};
use troupe_testkit::ai::FakeAiServer;
use troupe_testkit::discord::{FakeDiscord, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const NSFW: u64 = 300_000_000_000_000_001;

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Webhook executions whose content ends with `marker`, by marker, with their arrival time.
fn answers(discord: &FakeDiscord) -> HashMap<String, Instant> {
    discord
        .requests_to("POST", "/webhooks/")
        .into_iter()
        .filter_map(|r| {
            let content = r.body["content"].as_str()?;
            let marker = content.rsplit(' ').next()?.to_owned();
            Some((marker, r.at))
        })
        .collect()
}

async fn wait_for(discord: &FakeDiscord, marker: &str, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(at) = answers(discord).get(marker) {
            return Some(*at);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let (rss_start, _) = rss_kib();
    let discord = FakeDiscord::start().await?;
    discord.add_guild(GUILD, OWNER);
    discord.add_member(GUILD, OWNER, &[]);
    discord.add_text_channel(GUILD, NSFW, "after-dark", true);
    let ai = FakeAiServer::start().await;
    let dir = tempfile::tempdir()?;
    let vars: Vec<(String, String)> = [
        ("DISCORD_TOKEN", TOKEN.to_owned()),
        ("TROUPE_DATA_DIR", dir.path().display().to_string()),
        ("TROUPE_DISCORD_GATEWAY_URL", discord.gateway_url()),
        ("TROUPE_DISCORD_API_PROXY", discord.api_proxy()),
        ("TROUPE_BOT_OWNERS", OWNER.to_string()),
        ("TROUPE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("TROUPE_AI_BASE_URL", ai.base_url()),
        ("TROUPE_AI_API_KEY", "sk-bench".to_owned()),
        ("TROUPE_PROXY_WAIT_MS", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    // `TROUPE_SQLITE_DURABILITY=full` measures every commit waiting for the disk (ADR 0035).
    .chain(
        std::env::var("TROUPE_SQLITE_DURABILITY")
            .ok()
            .map(|v| ("TROUPE_SQLITE_DURABILITY".to_owned(), v)),
    )
    .collect();
    let config = Config::from_sources(&BTreeMap::new(), vars)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let options = RunOptions {
        no_rest_ratelimit: true,
        ..RunOptions::default()
    };
    let bot = tokio::spawn(run_until(config, options, async {
        let _ = stopped.await;
    }));
    assert!(
        discord
            .wait_until(Duration::from_secs(20), |f| f.live_sessions() >= 1)
            .await
    );
    let add = discord.send_message(NSFW, OWNER, "!tz add bob");
    assert!(
        discord
            .wait_until(Duration::from_secs(10), |f| !f.replies_to(add).is_empty())
            .await
    );

    // Warm-up (webhook creation, caches, SQLite pages).
    let mut next_user = 210_000_000_000_000_000u64;
    for i in 0..50 {
        next_user += 1;
        discord.add_member(GUILD, next_user, &[]);
        let marker = format!("w{i}");
        discord.send_message(NSFW, next_user, &format!("@bob {marker}"));
        wait_for(&discord, &marker, Duration::from_secs(10)).await;
    }

    // Latency: one message at a time (no queueing), each from a new user.
    let mut latencies = Vec::new();
    for i in 0..500 {
        next_user += 1;
        discord.add_member(GUILD, next_user, &[]);
        let marker = format!("l{i}");
        let sent = Instant::now();
        discord.send_message(NSFW, next_user, &format!("@bob {marker}"));
        let at = wait_for(&discord, &marker, Duration::from_secs(10))
            .await
            .expect("answered");
        latencies.push(at.duration_since(sent));
    }
    latencies.sort();

    // Throughput: 1,000 users send at once; all answered.
    let users: Vec<u64> = (0..1000).map(|i| 220_000_000_000_000_000 + i).collect();
    for u in &users {
        discord.add_member(GUILD, *u, &[]);
    }
    let started = Instant::now();
    for (i, u) in users.iter().enumerate() {
        discord.send_message(NSFW, *u, &format!("@bob t{i}"));
    }
    let all = discord
        .wait_until(Duration::from_secs(120), |f| {
            let a = answers(f);
            (0..1000).all(|i| a.contains_key(&format!("t{i}")))
        })
        .await;
    let elapsed = started.elapsed();
    assert!(all, "not every message was answered");
    let (rss_e2e, hwm_e2e) = rss_kib();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), bot).await;

    println!("## end to end (fake Discord → troupe run → fake AI, SQLite)");
    println!(
        "sequential latency, 500 messages: p50 {} · p99 {} · max {}",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO))
    );
    println!(
        "throughput, 1,000 users at once: {:.0} messages/s ({} for 1,000)",
        1000.0 / elapsed.as_secs_f64(),
        ms(elapsed)
    );
    println!(
        "RSS with 1,550 live conversations (bot + fake Discord + fake AI in one process): {} MiB (peak {} MiB, start {} MiB)",
        rss_e2e / 1024,
        hwm_e2e / 1024,
        rss_start / 1024
    );

    flow_only().await;
    Ok(())
}

/// The message flow alone over in-memory fakes and an AI that answers at once.
async fn flow_only() {
    use troupe_application::flow::{Author, FlowConfig, IncomingMessage, MessageFlow};
    use troupe_application::{AppConfig, Deps, Location};
    use troupe_domain::personality::{Personality, PersonalityName, Profile};
    use troupe_domain::{ChannelId, GuildId, MessageId, Timestamp, UserId};
    use troupe_ports::PersonalityRepository;
    use troupe_testkit::ai::ScriptedAi;
    use troupe_testkit::{FakeClock, FakePlatform, FakeVolume, InMemoryStore};

    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(FakeClock::at_millis(1_749_897_000_000));
    let name = PersonalityName::parse("bob").unwrap();
    let (p, _) = Personality::create(
        name.clone(),
        UserId::new(1).unwrap(),
        Profile::local(&name, None),
        Timestamp::from_millis(1_749_897_000_000),
    );
    store.insert(&p).await.unwrap();
    let deps = Deps {
        personalities: store.clone(),
        conversations: store.clone(),
        auth: store.clone(),
        preferences: store.clone(),
        processed: store.clone(),
        platform: Arc::new(FakePlatform::new()),
        clock,
        volume: Arc::new(FakeVolume::new()),
        profiles: None,
        auth_provider: None,
        config: Arc::new(AppConfig::default()),
    };
    let flow = Arc::new(MessageFlow::new(
        deps,
        Arc::new(ScriptedAi::new()),
        Arc::new(troupe::wiring::TokioPause),
        FlowConfig {
            proxy_recheck: Duration::ZERO,
            ..FlowConfig::default()
        },
    ));
    let message = |i: u64| IncomingMessage {
        id: MessageId::new(10_000 + i).unwrap(),
        author: Author {
            id: UserId::new(100 + i).unwrap(),
            display_name: format!("user {i}"),
            is_bot: false,
            is_own_webhook: false,
            via_proxy: false,
        },
        location: Location::Guild {
            guild: GuildId::new(5).unwrap(),
            channel: ChannelId::new(7).unwrap(),
            age_restricted: true,
            visible_age_restricted: Vec::new(),
        },
        content: format!("@bob hello number {i}"),
        reply_to: None,
        quoted: None,
        images: Vec::new(),
        received_at: Timestamp::from_millis(1_749_897_000_000),
    };
    let mut latencies = Vec::new();
    let started = Instant::now();
    for i in 0..10_000 {
        let m = message(i);
        let t = Instant::now();
        flow.process(&m).await;
        latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let (rss, _) = rss_kib();
    println!("## message flow alone (in-memory store and platform, AI answering at once)");
    println!(
        "10,000 messages from 10,000 users: {:.0} messages/s; per message p50 {} · p99 {}; RSS {} MiB",
        10_000.0 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        rss / 1024
    );
}
