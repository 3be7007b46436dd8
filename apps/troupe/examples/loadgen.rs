//! Load generator for the Discord end-to-end benchmark (docs/PERFORMANCE.md, "Discord end to
//! end (issue 6)"): starts the fake Discord in this process, runs the real `troupe run` binary
//! against it (SQLite in a temporary directory), injects prefix commands through the fake
//! gateway at a given rate, and reports commands/s (gateway event in → REST reply out),
//! latency percentiles, the bot's CPU time per command and its resident memory. With
//! `--conversations` it starts the fake AI too, adds a personality, and sends conversation
//! messages (`@bob …`, each from a new user) instead of commands: message in → the answer's
//! webhook post out.
//!
//! ```text
//! cargo build --release --locked -p troupe --bin troupe && cargo build --release -p troupe --example loadgen
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --commands 20000 --rate 0 --no-rest-ratelimit
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --commands 1000 --rate 100
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --commands 5000 --rate 500 --personalities 10000 --no-rest-ratelimit
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --commands 3000 --rate 300 --personalities 10000 --restart --no-rest-ratelimit
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --commands 6000 --rate 300 --after-start 11 --no-rest-ratelimit   # steady state
//! target/x86_64-unknown-linux-gnu/release/examples/loadgen --bin target/x86_64-unknown-linux-gnu/release/troupe --conversations --commands 3000 --rate 100 --after-start 11 --no-rest-ratelimit
//! ```
//!
//! The bot is built alone, then this: built in one command with an example, the bot's crates
//! get the dev-dependencies' features and its link order (ADR 0048) no longer matches.

#[path = "common/proc_stat.rs"]
mod proc_stat;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proc_stat::CpuTime;
use troupe_testkit::ai::FakeAiServer;
use troupe_testkit::discord::{FakeDiscord, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const CHANNEL: u64 = 300_000_000_000_000_001;

#[derive(Debug)]
struct Args {
    bin: PathBuf,
    commands: u64,
    /// Commands per second; 0 = as fast as the bot takes them.
    rate: u64,
    personalities: u64,
    no_rest_ratelimit: bool,
    /// After seeding, stop the bot and start a new process over the same store (the figure
    /// "RSS after a restart over N personalities").
    restart: bool,
    /// Seconds to wait after the bot is up before the measured commands. The bot's claim book
    /// asks the store about every id Discord made within 10 s of the process's start (a replay
    /// after a restart may carry them; ADR 0030), so a run that starts at once measures that
    /// restart window; `--after-start 11` measures the steady state.
    after_start: u64,
    /// Conversation messages to a personality (answered by the fake AI) instead of commands.
    conversations: bool,
    /// The fake AI's address, set when `conversations` is.
    ai_url: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        bin: PathBuf::from("target/x86_64-unknown-linux-gnu/release/troupe"),
        commands: 10_000,
        rate: 0,
        personalities: 0,
        no_rest_ratelimit: false,
        restart: false,
        after_start: 0,
        conversations: false,
        ai_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--bin" => args.bin = PathBuf::from(value()),
            "--commands" => args.commands = value().parse().unwrap_or(args.commands),
            "--rate" => args.rate = value().parse().unwrap_or(args.rate),
            "--personalities" => args.personalities = value().parse().unwrap_or(0),
            "--no-rest-ratelimit" => args.no_rest_ratelimit = true,
            "--restart" => args.restart = true,
            "--after-start" => args.after_start = value().parse().unwrap_or(0),
            "--conversations" => args.conversations = true,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// (resident KiB, peak resident KiB) from /proc.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
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

/// Where the resident memory is (anonymous: heap and stacks; file: the binary and libraries)
/// and how many threads the process runs.
fn composition(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count);
    format!(
        "anonymous {:.1} MB, file {:.1} MB, {threads} threads",
        kb("RssAnon:"),
        kb("RssFile:")
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Sends `messages` messages at `rate` (0: at once), message `i` from user `first_user + i`;
/// returns when it started and when each was sent.
async fn inject(
    fake: &FakeDiscord,
    messages: u64,
    rate: u64,
    first_user: u64,
    text: impl Fn(u64) -> String,
) -> (Instant, Vec<Instant>) {
    let started = Instant::now();
    let mut sent = Vec::with_capacity(messages as usize);
    for i in 0..messages {
        if rate > 0 {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        } else if i % 256 == 0 {
            tokio::task::yield_now().await;
        }
        // Distinct users: the 3-second identical-command guard would drop repeats.
        sent.push(Instant::now());
        fake.send_message(CHANNEL, first_user + i, &text(i));
    }
    (started, sent)
}

/// One measured run: messages sent at a rate until answered, with the bot's CPU time and
/// peak RSS over it.
struct Window {
    rate: u64,
    /// When each message was sent.
    sent: Vec<Instant>,
    /// Whether every message was answered in time.
    done: bool,
    elapsed: Duration,
    /// The bot's CPU time over the window.
    cpu: CpuTime,
    /// Peak resident KiB of the bot so far.
    peak: u64,
}

/// Sends `messages` messages (see [`inject`]) and waits until they are answered (counted by
/// `answers`: [`replies`] or [`webhook_posts`]), measuring the bot `pid` meanwhile.
async fn measure(
    fake: &FakeDiscord,
    pid: u32,
    (messages, rate, first_user): (u64, u64, u64),
    answers: fn(&FakeDiscord) -> usize,
    text: impl Fn(u64) -> String,
) -> Window {
    let answered_at = after(fake, messages, answers);
    let cpu_before = CpuTime::of(pid);
    let (started, sent) = inject(fake, messages, rate, first_user, text).await;
    let done = wait_answered(fake, answered_at, answers, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    Window {
        rate,
        sent,
        done,
        elapsed,
        cpu: CpuTime::of(pid).since(cpu_before),
        peak: memory(pid).1,
    }
}

impl Window {
    /// Prints the run the same way for commands and conversation messages; `unit` is
    /// "commands" or "messages", `latencies` sorted, one per answered message.
    fn print(&self, unit: &str, latencies: &[Duration], heading: &str, latency: &str) {
        let answered = latencies.len();
        println!(
            "{heading}: {} sent at {}, {answered} answered{}",
            self.sent.len(),
            if self.rate == 0 {
                "full speed".to_owned()
            } else {
                format!("{}/s", self.rate)
            },
            if self.done { "" } else { " (timed out)" }
        );
        println!(
            "throughput: {:.0} {unit}/s ({:.2} s)",
            answered as f64 / self.elapsed.as_secs_f64(),
            self.elapsed.as_secs_f64()
        );
        println!(
            "{latency}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(latencies, 0.50).as_secs_f64() * 1e3,
            percentile(latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
        let per = |d: Duration| d.as_secs_f64() * 1e3 / answered.max(1) as f64;
        println!(
            "bot CPU: {:.3} s total, {:.3} ms per {} (user {:.3}, system {:.3})",
            self.cpu.total().as_secs_f64(),
            per(self.cpu.total()),
            unit.trim_end_matches('s'),
            per(self.cpu.user),
            per(self.cpu.system)
        );
        println!("peak RSS: {:.1} MB", self.peak as f64 / 1024.0);
    }
}

/// Replies to commands so far (one per answered message or interaction).
fn replies(fake: &FakeDiscord) -> usize {
    fake.reply_latencies().len()
}

/// Webhook posts so far: a personality's answers.
fn webhook_posts(fake: &FakeDiscord) -> usize {
    fake.requests_to("POST", "/webhooks/").len()
}

/// The request and answer counts (`answers`: [`replies`] or [`webhook_posts`]) once `more`
/// more messages are answered.
fn after(fake: &FakeDiscord, more: u64, answers: fn(&FakeDiscord) -> usize) -> (usize, usize) {
    let more = more as usize;
    (fake.request_count() + more, answers(fake) + more)
}

/// Waits until the messages counted by [`after`] were answered, polling cheaply so the fake
/// does not take CPU from the bot: first the request count (each answer is one request; a
/// restarted bot's first command also fetches the guild and channel), then the answers
/// themselves.
async fn wait_answered(
    fake: &FakeDiscord,
    (requests, answered): (usize, usize),
    answers: fn(&FakeDiscord) -> usize,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while fake.request_count() < requests || answers(fake) < answered {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Starts `troupe run` over the store in `dir` against `fake`.
fn start_bot(args: &Args, fake: &FakeDiscord, dir: &std::path::Path) -> Child {
    let mut command = Command::new(&args.bin);
    command.arg("run");
    if args.no_rest_ratelimit {
        command.arg("--no-rest-ratelimit");
    }
    command
        .env_clear()
        .env("DISCORD_TOKEN", TOKEN)
        .env("TROUPE_DATA_DIR", dir)
        .env("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url())
        .env("TROUPE_DISCORD_API_PROXY", fake.api_proxy())
        .env("TROUPE_BOT_OWNERS", OWNER.to_string())
        .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
        .env("TROUPE_LOG", "warn")
        .env("TROUPE_LOG_FORMAT", "json")
        // A burst is queued, not shed: the benchmark measures the work, not the shedding.
        .env("TROUPE_DISCORD_COMMANDS_QUEUED", "100000")
        .envs(args.ai_url.iter().flat_map(|url| {
            [
                ("TROUPE_AI_BASE_URL", url.as_str()),
                ("TROUPE_AI_API_KEY", "sk-bench"),
                // No wait for a PluralKit proxy to replace the message: none comes here.
                ("TROUPE_PROXY_WAIT_MS", "0"),
            ]
        }))
        // Experiments (allocator, runtime, store settings) pass their settings through.
        .envs(std::env::vars().filter(|(k, _)| {
            k.starts_with("TROUPE_")
                || k.starts_with("MALLOC_")
                || k.starts_with("MIMALLOC_")
                || k.starts_with("TOKIO_")
        }))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start troupe run")
}

/// The REST requests other than replies, and every message answered more than once (never
/// expected, also not across `--restart`).
fn report_requests(fake: &FakeDiscord) {
    let mut replies: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut others: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for request in fake.requests() {
        let to = request.body["message_reference"]["message_id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                request.body["message_reference"]["message_id"]
                    .as_u64()
                    .map(|id| id.to_string())
            });
        match to {
            Some(to) if request.method == "POST" => *replies.entry(to).or_default() += 1,
            _ => {
                *others
                    .entry(format!("{} {}", request.method, request.path))
                    .or_default() += 1;
            }
        }
    }
    let twice = replies.values().filter(|n| **n > 1).count();
    println!(
        "messages answered more than once: {twice} (of {} answered)",
        replies.len()
    );
    for (request, n) in others {
        println!("other request: {request} ×{n}");
    }
}

/// Starts `troupe run` (see [`start_bot`]) and waits until it is connected and idle.
async fn start_connected(args: &Args, fake: &FakeDiscord, dir: &std::path::Path) -> Child {
    let sessions = connections(fake);
    let child = start_bot(args, fake, dir);
    wait_connected(fake, sessions + 1).await;
    child
}

/// Prints the resident memory of `pid` and where it is.
fn print_idle(label: &str, pid: u32) {
    let (rss, _) = memory(pid);
    println!(
        "{label}: {:.1} MB ({})",
        rss as f64 / 1024.0,
        composition(pid)
    );
}

/// Gateway sessions opened so far (a restarted bot may resume its predecessor's session).
fn connections(fake: &FakeDiscord) -> usize {
    fake.identifies().len() + fake.resumes()
}

/// Waits until the bot opened `sessions` gateway sessions in all and registered its commands, then
/// lets it settle for two seconds (the idle figures are taken after).
async fn wait_connected(fake: &FakeDiscord, sessions: usize) {
    let ready = fake
        .wait_until(Duration::from_secs(30), |f| {
            connections(f) >= sessions
                && f.live_sessions() == 1
                && !f.requests_to("PUT", "/commands").is_empty()
        })
        .await;
    assert!(ready, "the bot did not connect");
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let mut args = parse_args();
    let fake = FakeDiscord::start().await.expect("fake Discord");
    let ai = if args.conversations {
        Some(FakeAiServer::start().await)
    } else {
        None
    };
    args.ai_url = ai.as_ref().map(FakeAiServer::base_url);
    fake.add_guild(GUILD, OWNER);
    fake.add_member(GUILD, OWNER, &[]);
    fake.add_text_channel(GUILD, CHANNEL, "bench", true);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = start_connected(&args, &fake, dir.path()).await;
    let mut pid = child.id();
    print_idle("idle RSS (empty store)", pid);

    let mut base = 10_000_000_000_000_000u64;
    if args.personalities > 0 {
        let seeded_at = Instant::now();
        let n = args.personalities;
        let seeded = after(&fake, n, replies);
        inject(&fake, n, 0, base, |i| format!("!tz add bench{i}")).await;
        assert!(
            wait_answered(&fake, seeded, replies, Duration::from_secs(600)).await,
            "seeding did not finish"
        );
        base += n;
        println!(
            "seeded {n} personalities in {:.1} s",
            seeded_at.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss, _) = memory(pid);
        println!(
            "idle RSS ({n} personalities): {:.1} MB",
            rss as f64 / 1024.0
        );
        if args.restart {
            stop(child);
            child = start_connected(&args, &fake, dir.path()).await;
            pid = child.id();
            print_idle(
                &format!("idle RSS after a restart over {n} personalities"),
                pid,
            );
        }
    }

    if args.after_start > 0 {
        tokio::time::sleep(Duration::from_secs(args.after_start)).await;
        println!("measured from {} s after the start", args.after_start);
    }
    if args.conversations {
        converse(&args, &fake, pid, base).await;
        stop(child);
        return;
    }
    let before_replies = fake.reply_latencies().len();
    let before_requests = fake.request_count();
    let window = measure(
        &fake,
        pid,
        (args.commands, args.rate, base),
        replies,
        |i| match i % 4 {
            0 => "!tz ping".to_owned(),
            1 => "!tz help".to_owned(),
            2 => "!tz list".to_owned(),
            _ => "!tz status".to_owned(),
        },
    )
    .await;
    let mut latencies: Vec<Duration> = fake
        .reply_latencies()
        .into_iter()
        .skip(before_replies)
        .collect();
    latencies.sort_unstable();
    let requests = fake.request_count() - before_requests;
    window.print("commands", &latencies, "commands", "latency");
    println!(
        "REST rate limiter: {}",
        if args.no_rest_ratelimit { "off" } else { "on" }
    );
    println!(
        "REST requests: {requests}, at most {} in any 1 s window",
        fake.max_requests_per_second()
    );
    report_requests(&fake);
    stop(child);
}

/// The answers' webhook posts so far: (marker, when posted), the marker being the last word of
/// the answer (the fake AI ends its answer with the user's last word).
fn answers(fake: &FakeDiscord) -> Vec<(String, Instant)> {
    fake.requests_to("POST", "/webhooks/")
        .into_iter()
        .filter_map(|r| {
            let marker = r.body["content"].as_str()?.rsplit(' ').next()?.to_owned();
            Some((marker, r.at))
        })
        .collect()
}

/// The conversation run: a personality, then `--commands` messages to it at `--rate`, each from
/// a new user (one exchange per user and channel at a time: none waits behind another).
async fn converse(args: &Args, fake: &FakeDiscord, pid: u32, first_user: u64) {
    let add = fake.send_message(CHANNEL, OWNER, "!tz add bob");
    assert!(
        fake.wait_until(Duration::from_secs(30), |f| !f.replies_to(add).is_empty())
            .await,
        "the personality was not added"
    );
    // Warm-up: the channel's webhook is made with the first answer.
    fake.add_member(GUILD, first_user, &[]);
    let warmed = after(fake, 1, webhook_posts);
    fake.send_message(CHANNEL, first_user, "@bob warm-up");
    assert!(
        wait_answered(fake, warmed, webhook_posts, Duration::from_secs(30)).await,
        "the warm-up message was not answered"
    );
    let n = args.commands;
    for i in 1..=n {
        fake.add_member(GUILD, first_user + i, &[]);
    }
    let window = measure(
        fake,
        pid,
        (n, args.rate, first_user + 1),
        webhook_posts,
        |i| format!("@bob c{i}"),
    )
    .await;
    let mut counts: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut latencies = Vec::new();
    for (marker, at) in answers(fake) {
        let Some(i) = marker
            .strip_prefix('c')
            .and_then(|i| i.parse::<usize>().ok())
        else {
            continue;
        };
        let Some(sent_at) = window.sent.get(i) else {
            continue;
        };
        let count = counts.entry(i).or_default();
        *count += 1;
        if *count == 1 {
            latencies.push(at.duration_since(*sent_at));
        }
    }
    latencies.sort_unstable();
    let answered = latencies.len();
    window.print(
        "messages",
        &latencies,
        "conversation messages",
        "latency (message in -> the answer's webhook post)",
    );
    println!(
        "messages answered more than once: {} (of {answered} answered)",
        counts.values().filter(|c| **c > 1).count()
    );
}
