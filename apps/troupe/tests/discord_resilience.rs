//! The Discord adapter under load, outages and restarts (issue 12), end to end: the real wiring
//! (`troupe run`) against the fake Discord and the fake AI provider, SQLite in a temporary
//! directory. Timing is never asserted with a tight margin: each test waits for conditions with
//! generous deadlines and checks *what happened* (answered while the AI was still busy, no
//! missed heartbeat, resumed rather than re-identified, exactly one message). The latency
//! figures are measured by `examples/loadgen.rs` (docs/PERFORMANCE.md).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;
use troupe::config::Config;
use troupe::run::{RunOptions, run_until};
use troupe_testkit::ai::{AiReply, FakeAiServer, FakeProfile};
use troupe_testkit::discord::{FakeDiscord, Fault, FaultKind, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const NSFW: u64 = 300_000_000_000_000_001;
const WAIT: Duration = Duration::from_secs(20);

/// A free loopback address for the bot's HTTP listener.
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A temporary data directory, in memory when the machine has a tmpfs (the load tests are
/// about the gateway, not about the disk's fsync).
fn data_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn populate(fake: &FakeDiscord) {
    fake.add_guild(GUILD, OWNER);
    fake.add_member(GUILD, OWNER, &[]);
    fake.add_text_channel(GUILD, NSFW, "after-dark", true);
}

/// A bot running in-process against the fakes.
struct Bot {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<ExitCode>>,
    http: SocketAddr,
}

impl Bot {
    /// Starts a bot over `data` (a directory) with these settings, and waits until it is
    /// connected (its HTTP listener answers and the fake has a live session).
    async fn start(
        fake: &FakeDiscord,
        data: &std::path::Path,
        extra: &[(&str, String)],
        options: RunOptions,
    ) -> Self {
        let http = free_addr();
        let mut vars: Vec<(String, String)> = [
            ("DISCORD_TOKEN", TOKEN.to_owned()),
            ("TROUPE_DATA_DIR", data.display().to_string()),
            ("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url()),
            ("TROUPE_DISCORD_API_PROXY", fake.api_proxy()),
            ("TROUPE_BOT_OWNERS", OWNER.to_string()),
            ("TROUPE_HTTP_ADDR", http.to_string()),
            ("TROUPE_BACKUP_SCHEDULE", "off".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let config = Config::from_sources(&BTreeMap::new(), vars).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_until(config, options, async {
            let _ = stopped.await;
        }));
        let bot = Self {
            stop: Some(stop),
            task,
            http,
        };
        let sessions = fake.live_sessions();
        assert!(
            fake.wait_until(WAIT, |f| f.live_sessions() > sessions
                || f.live_sessions() >= 1)
                .await,
            "the bot never connected"
        );
        assert!(
            bot.wait_health(WAIT, |status, _| status == 200).await,
            "never healthy"
        );
        bot
    }

    /// `GET /health`: (status code, document).
    async fn health(&self) -> (u16, Value) {
        let url = format!("http://{}/health", self.http);
        match reqwest::get(&url).await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.http);
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    }

    /// Polls `/health` until `check(status, doc)` holds or `timeout` passes.
    async fn wait_health(&self, timeout: Duration, check: impl Fn(u16, &Value) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, doc) = self.health().await;
            if check(status, &doc) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(mut self) -> ExitCode {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the bot stopped in time")
            .unwrap()
            .unwrap()
    }
}

fn fast() -> RunOptions {
    RunOptions {
        shutdown_grace: Some(Duration::from_secs(5)),
        ..RunOptions::default()
    }
}

/// Sends a prefix command and waits for the bot's reply; returns the reply's embed.
async fn command(fake: &FakeDiscord, channel: u64, author: u64, content: &str) -> Value {
    let id = fake.send_message(channel, author, content);
    assert!(
        fake.wait_until(WAIT, |f| !f.replies_to(id).is_empty())
            .await,
        "no reply to {content:?}"
    );
    fake.replies_to(id)[0].embeds[0].clone()
}

fn webhook_messages(fake: &FakeDiscord, channel: u64) -> usize {
    fake.messages_in(channel)
        .iter()
        .filter(|m| m.webhook.is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_ai_exchanges_waiting_on_a_slow_provider_never_delay_heartbeats_or_commands() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    // Heartbeats every second: a stalled shard loop would show within seconds.
    fake.set_heartbeat_interval(Duration::from_secs(1));
    let ai = FakeAiServer::start().await;
    ai.set_profile(
        "bob",
        FakeProfile {
            display_name: "Bobby Tables".into(),
            avatar_url: None,
            error_message: None,
        },
    );
    let dir = data_dir();
    let extra = [
        ("TROUPE_AI_BASE_URL", ai.base_url()),
        ("TROUPE_AI_API_KEY", "sk-e2e".to_owned()),
        ("TROUPE_AI_MODEL", "e2e-model".to_owned()),
        ("TROUPE_PROFILE_URL", ai.profile_url()),
        ("TROUPE_PROXY_WAIT_MS", "0".to_owned()),
        ("TROUPE_AGE_GATE", "off".to_owned()),
        ("TROUPE_DISCORD_MESSAGES_RUNNING", "1000".to_owned()),
        ("TROUPE_DISCORD_MESSAGES_QUEUED", "50".to_owned()),
    ];
    let bot = Bot::start(&fake, dir.path(), &extra, fast()).await;
    let added = command(&fake, NSFW, OWNER, "!tz add bob").await;
    assert!(added.to_string().contains("Bobby Tables"), "{added}");

    // The provider answers after 30 s: 1,000 exchanges stay in flight, 50 wait, 50 are shed.
    ai.set_default(Some(AiReply::delayed(30_000, AiReply::answer("late"))));
    for i in 0..1100u64 {
        fake.send_message(
            NSFW,
            210_000_000_000_000_000 + i,
            &format!("@bob hello {i}"),
        );
    }
    let sent = Instant::now();
    assert!(
        fake.wait_until(Duration::from_secs(90), |_| ai.chat_count() >= 1000)
            .await,
        "only {} exchanges reached the provider",
        ai.chat_count()
    );
    eprintln!("1,000 exchanges in flight after {:?}", sent.elapsed());
    assert!(
        bot.wait_health(WAIT, |_, doc| {
            let m = &doc["checks"]["discord"]["events"]["messages"];
            m["running"] == 1000 && m["queued"] == 50 && m["shed"] == 50
        })
        .await,
        "bounded: {}",
        bot.health().await.1["checks"]["discord"]["events"]
    );

    // Meanwhile commands are answered at once, by prefix and by slash command (from two
    // people: the same command from one person within 3 s is a duplicate, answered once).
    const OTHER: u64 = 200_000_000_000_000_002;
    fake.add_member(GUILD, OTHER, &[]);
    let ping = fake.send_message(NSFW, OWNER, "!tz ping");
    let slash = fake.send_slash(NSFW, OTHER, "ping", &[]);
    assert!(
        fake.wait_until(WAIT, |f| !f.replies_to(ping).is_empty()
            && f.interaction_responses(slash)
                .iter()
                .any(|r| r["type"] == 4))
            .await,
        "commands answered while the exchanges wait: prefix {:?}, slash {:?}, requests {:?}",
        fake.replies_to(ping).len(),
        fake.interaction_responses(slash),
        {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            for r in fake.requests() {
                let path: String = r.path.chars().filter(|c| !c.is_ascii_digit()).collect();
                *by.entry(format!("{} {}", r.method, path)).or_default() += 1;
            }
            by
        }
    );
    assert_eq!(
        webhook_messages(&fake, NSFW),
        0,
        "answered while all 1,000 exchanges were still in flight"
    );
    // The typing indicator is the bot's, per channel: one trigger every few seconds however
    // many exchanges wait there, so it never eats the budget replies need.
    let typing = fake.requests_to("POST", "/typing").len();
    let elapsed = sent.elapsed().as_secs() as usize;
    assert!(
        typing <= elapsed / 5 + 2,
        "{typing} typing triggers in {elapsed} s for one channel"
    );
    let latencies = fake.reply_latencies();
    eprintln!(
        "command latency with 1,000 exchanges in flight: {:?}",
        &latencies[latencies.len().saturating_sub(2)..]
    );

    // Heartbeats went out on time all along: no gap near Discord's limit, no zombie reconnect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gap = fake.max_heartbeat_gap().expect("heartbeats");
    assert!(
        gap < Duration::from_secs(3),
        "a heartbeat gap of {gap:?} (interval 1 s)"
    );
    assert_eq!(fake.identifies().len(), 1, "never re-identified");
    assert_eq!(fake.resumes(), 0, "never reconnected");
    let (status, doc) = bot.health().await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["checks"]["discord"]["state"], "connected");
    let metrics = bot.metrics().await;
    assert!(
        metrics.contains(r#"troupe_gateway_events_shed_total{lane="messages"} 50"#),
        "{metrics}"
    );
    // Shutdown gives up on the exchanges after the grace (they wait 30 s).
    assert_eq!(bot.stop().await, ExitCode::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_a_thousand_messages_stream_in_answers_each_exactly_once() {
    let fake = std::sync::Arc::new(FakeDiscord::start().await.unwrap());
    populate(&fake);
    let dir = data_dir();
    let extra = [("TROUPE_DISCORD_COMMANDS_QUEUED", "5000".to_owned())];
    let options = || RunOptions {
        no_rest_ratelimit: true,
        ..fast()
    };
    let first = Bot::start(&fake, dir.path(), &extra, options()).await;

    // 1,000 commands from 1,000 people, streaming in over about three seconds.
    let sender = std::sync::Arc::clone(&fake);
    let stream = tokio::spawn(async move {
        let mut ids = Vec::with_capacity(1000);
        for i in 0..1000u64 {
            ids.push(sender.send_message(NSFW, 220_000_000_000_000_000 + i, "!tz ping"));
            if i % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
        ids
    });
    assert!(
        fake.wait_until(WAIT, |f| f.request_count() > 250).await,
        "the first process answers"
    );
    assert_eq!(first.stop().await, ExitCode::SUCCESS);
    assert_eq!(fake.client_close_codes(), [4000], "a resumable close");
    let answered_by_first = fake.requests_to("POST", "/messages").len();

    let second = Bot::start(&fake, dir.path(), &extra, options()).await;
    let ids = stream.await.unwrap();
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| ids
            .iter()
            .all(|id| !f.replies_to(*id).is_empty()))
            .await,
        "lost: {} of 1000 unanswered",
        ids.iter()
            .filter(|id| fake.replies_to(**id).is_empty())
            .count()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        let replies = fake.replies_to(*id);
        assert_eq!(replies.len(), 1, "exactly one reply to {id}");
        assert!(
            replies[0]
                .embeds
                .to_string()
                .to_lowercase()
                .contains("latency"),
            "a real answer, not a busy one: {}",
            replies[0].embeds
        );
    }
    assert!(
        answered_by_first > 0 && answered_by_first < 1000,
        "the restart happened mid-stream ({answered_by_first} answered before)"
    );
    assert_eq!(fake.identifies().len(), 1, "the second process resumed");
    assert!(fake.resumes() >= 1);
    assert_eq!(second.stop().await, ExitCode::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_true_right_after_start_and_the_smoke_test_passes() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    // Discord's real interval: the first ack may be 40 s away.
    fake.set_heartbeat_interval(Duration::from_millis(41_250));
    let dir = data_dir();
    let bot = Bot::start(&fake, dir.path(), &[], fast()).await;
    let (status, doc) = bot.health().await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["checks"]["discord"]["state"], "connected");
    assert_eq!(
        doc["checks"]["discord"]["heartbeat_ack_age_seconds"],
        Value::Null
    );
    let url = format!("http://{}", bot.http);
    let smoke = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
            .args(["smoke", &url])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&smoke.stdout);
    assert!(smoke.status.success(), "{out}");
    assert!(bot.metrics().await.contains("troupe_gateway_up 1"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_second_outage_is_unhealthy_within_five_seconds_and_recovers_without_losing_a_message()
 {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let dir = data_dir();
    let bot = Bot::start(&fake, dir.path(), &[], fast()).await;
    command(&fake, NSFW, OWNER, "!tz ping").await;

    let outage = Instant::now();
    fake.set_gateway_down(true);
    assert!(
        bot.wait_health(Duration::from_secs(5), |status, doc| status == 503
            && doc["checks"]["discord"]["state"] == "reconnecting")
            .await,
        "unhealthy within 5 s: {}",
        bot.health().await.1
    );
    let metrics = bot.metrics().await;
    assert!(metrics.contains("troupe_gateway_up 0"), "{metrics}");
    assert!(metrics.contains("troupe_gateway_shards_connected 0"));
    // Sent while Discord cannot reach the bot: replayed on resume.
    let during = fake.send_message(NSFW, OWNER, "!tz status");
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(outage.elapsed())).await;
    fake.set_gateway_down(false);
    let back = Instant::now();
    assert!(
        bot.wait_health(WAIT, |status, doc| status == 200
            && doc["checks"]["discord"]["state"] == "connected")
            .await,
        "recovered"
    );
    eprintln!("back {:?} after the gateway returned", back.elapsed());
    assert!(
        fake.wait_until(WAIT, |f| f.replies_to(during).len() == 1)
            .await,
        "the message sent during the outage was answered"
    );
    assert!(fake.resumes() >= 1, "resumed");
    assert_eq!(fake.identifies().len(), 1);
    assert!(bot.metrics().await.contains("troupe_gateway_up 1"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_long_outage_the_bot_is_back_within_the_capped_backoff() {
    // A 2-minute outage with the 10 s cap, scaled down: a 6 s outage with a 500 ms cap (the
    // default cap is checked in config_defaults_are_the_production_values below).
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let dir = data_dir();
    let extra = [("TROUPE_DISCORD_RECONNECT_MAX_MS", "500".to_owned())];
    let bot = Bot::start(&fake, dir.path(), &extra, fast()).await;
    fake.set_gateway_down(true);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, doc) = bot.health().await;
    assert_eq!(status, 503);
    let failed = doc["checks"]["discord"]["failed_reconnects"]
        .as_u64()
        .unwrap();
    assert!(
        failed >= 6,
        "attempts keep coming at most 500 ms apart: {failed} failed attempts in 6 s"
    );
    fake.set_gateway_down(false);
    let back = Instant::now();
    assert!(
        bot.wait_health(WAIT, |status, _| status == 200).await,
        "recovered"
    );
    let took = back.elapsed();
    eprintln!("back {took:?} after the gateway returned (cap 500 ms)");
    assert!(
        took < Duration::from_secs(5),
        "back within a few caps, not after a doubling backoff: {took:?}"
    );
    command(&fake, NSFW, OWNER, "!tz ping").await;
    bot.stop().await;
}

#[test]
fn config_defaults_are_the_production_values() {
    let config = Config::from_sources(&BTreeMap::new(), Vec::<(String, String)>::new()).unwrap();
    assert_eq!(config.discord.reconnect_max_ms, 10_000);
    assert_eq!(config.discord.shutdown_grace_ms, 10_000);
    assert_eq!(config.discord.rest_timeout_ms, 15_000);
    assert_eq!(config.discord.commands_running, 64);
    assert_eq!(config.discord.messages_running, 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_discord_accepted_before_failing_or_timing_out_is_visible_exactly_once() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let dir = data_dir();
    let extra = [("TROUPE_DISCORD_REST_TIMEOUT_MS", "1000".to_owned())];
    let bot = Bot::start(&fake, dir.path(), &extra, fast()).await;
    for (i, kind) in [
        FaultKind::AcceptThenFail(502),
        FaultKind::AcceptThenHang(Duration::from_secs(3)),
    ]
    .into_iter()
    .enumerate()
    {
        fake.fail(Fault {
            method: Some("POST".into()),
            path_contains: format!("/channels/{NSFW}/messages"),
            times: 1,
            kind,
        });
        let id = fake.send_message(NSFW, OWNER + 1 + i as u64, "!tz ping");
        assert!(
            fake.wait_until(WAIT, |f| !f.replies_to(id).is_empty())
                .await
        );
        // Long enough for any retry to have landed.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(fake.replies_to(id).len(), 1, "exactly one reply (case {i})");
        let tries: Vec<_> = fake
            .requests_to("POST", &format!("/channels/{NSFW}/messages"))
            .into_iter()
            .filter(|r| r.body["message_reference"]["message_id"] == json!(id.to_string()))
            .collect();
        assert_eq!(tries.len(), 2, "tried again after the ambiguous failure");
        assert_eq!(tries[0].body["nonce"], tries[1].body["nonce"]);
        assert_eq!(tries[0].body["enforce_nonce"], true);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_slash_command_is_answered_and_an_uppercase_prefix_works() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let dir = data_dir();
    let bot = Bot::start(&fake, dir.path(), &[], fast()).await;
    let embed = command(&fake, NSFW, OWNER, "!TZ PING").await;
    assert!(
        embed.to_string().to_lowercase().contains("latency"),
        "{embed}"
    );

    let first = fake.send_slash(NSFW, OWNER, "ping", &[]);
    assert!(
        fake.wait_until(WAIT, |f| !f.interaction_responses(first).is_empty())
            .await
    );
    let again = fake.send_slash(NSFW, OWNER, "ping", &[]);
    assert!(
        fake.wait_until(WAIT, |f| !f.interaction_responses(again).is_empty())
            .await,
        "the repeat is answered, never silence"
    );
    let response = &fake.interaction_responses(again)[0];
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64, "ephemeral");
    assert!(
        response["data"]["content"]
            .as_str()
            .unwrap()
            .contains("already handled"),
        "{response}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_level_the_binary_logs_request_spans_and_never_a_webhook_token() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let ai = FakeAiServer::start().await;
    ai.set_profile(
        "bob",
        FakeProfile {
            display_name: "Bobby".into(),
            avatar_url: None,
            error_message: None,
        },
    );
    let dir = data_dir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DISCORD_TOKEN", TOKEN)
        .env("TROUPE_DATA_DIR", dir.path())
        .env("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url())
        .env("TROUPE_DISCORD_API_PROXY", fake.api_proxy())
        .env("TROUPE_BOT_OWNERS", OWNER.to_string())
        .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
        .env("TROUPE_BACKUP_SCHEDULE", "off")
        .env("TROUPE_AI_BASE_URL", ai.base_url())
        .env("TROUPE_AI_API_KEY", "sk-e2e-secret-key")
        .env("TROUPE_PROFILE_URL", ai.profile_url())
        .env("TROUPE_PROXY_WAIT_MS", "0")
        .env("TROUPE_LOG_FORMAT", "json")
        .env("TROUPE_LOG", "trace")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        text
    });
    assert!(
        fake.wait_until(WAIT, |f| f.live_sessions() == 1).await,
        "connected"
    );
    command(&fake, NSFW, OWNER, "!tz add bob").await;
    fake.send_message(NSFW, OWNER, "@bob hello");
    assert!(
        fake.wait_until(WAIT, |f| webhook_messages(f, NSFW) == 1)
            .await,
        "a personality answered through the webhook"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let logs = logs.join().unwrap();
    let token = fake.webhooks()[0].token.clone();
    assert!(!logs.contains(&token), "the webhook token leaked");
    assert!(!logs.contains(TOKEN), "the bot token leaked");
    assert!(!logs.contains("sk-e2e-secret-key"), "the API key leaked");
    assert!(
        logs.contains("/<redacted>"),
        "the HTTP library's paths were redacted"
    );
    let with_span = logs.lines().any(|line| {
        line.contains(r#""spans":[{"#)
            && line.contains(r#""command":"add""#)
            && line.contains(&format!(r#""channel":{NSFW}"#))
            && line.contains(r#""shard":0"#)
    });
    if !with_span {
        std::fs::write("/tmp/i12-trace.log", &logs).unwrap();
    }
    assert!(with_span, "log lines of a request carry its span");
}
