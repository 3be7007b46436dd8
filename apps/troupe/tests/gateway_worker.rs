//! Gateway/worker mode over NATS JetStream (ADR 0045), end to end with the real binary: one
//! `troupe gateway` holding the shard against the fake Discord, `troupe worker` processes
//! handling the events, SQLite shared by all of them (migrated first), and a stream of its own
//! per test on the local NATS server.
//!
//! Needs a NATS server with JetStream at 127.0.0.1:4222 (`TROUPE_TEST_NATS_URL` to use another;
//! `.ci/run` starts one); says SKIPPED on stderr and passes when none answers. Each test waits
//! for conditions with generous deadlines and checks what happened: every message answered
//! exactly once, the gateway never reconnected.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use troupe_broker::{Broker, BrokerConfig};
use troupe_testkit::discord::{FakeDiscord, Fault, FaultKind, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const CHANNEL: u64 = 300_000_000_000_000_001;
/// Ack wait of the tests' consumers: a killed worker's events go to another one after it.
const ACK_WAIT_MS: &str = "2000";
const WAIT: Duration = Duration::from_secs(90);

fn nats_url() -> String {
    std::env::var("TROUPE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The test's broker, or `None` (SKIPPED) when no NATS server answers.
async fn broker(stream: &str) -> Option<Broker> {
    let url = nats_url();
    if !troupe_broker::reachable(&url, Duration::from_secs(2)).await {
        eprintln!("gateway/worker test SKIPPED: no NATS server with JetStream at {url}");
        return None;
    }
    let config = BrokerConfig {
        stream: stream.to_owned(),
        ..BrokerConfig::new(url)
    };
    Some(Broker::connect(config).await.expect("JetStream is enabled"))
}

/// The processes of one test; stopped (SIGKILL) and the stream deleted when dropped.
struct Setup {
    fake: FakeDiscord,
    dir: tempfile::TempDir,
    stream: String,
    gateway: Option<Child>,
    workers: Vec<(Child, PathBuf)>,
    started: usize,
}

impl Setup {
    async fn start(name: &str) -> Option<(Self, Broker)> {
        let stream = format!("TROUPE_E2E_{name}_{}", std::process::id());
        let broker = broker(&stream).await?;
        let fake = FakeDiscord::start().await.unwrap();
        fake.add_guild(GUILD, OWNER);
        fake.add_member(GUILD, OWNER, &[]);
        fake.add_text_channel(GUILD, CHANNEL, "general", false);
        let dir = tempfile::tempdir().unwrap();
        let setup = Self {
            fake,
            dir,
            stream,
            gateway: None,
            workers: Vec::new(),
            started: 0,
        };
        let migrated = setup.troupe("migrate", None).status().unwrap();
        assert!(migrated.success(), "migrated");
        Some((setup, broker))
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn troupe(&self, subcommand: &str, log: Option<&Path>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_troupe"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DISCORD_TOKEN", TOKEN)
            .env(
                "TROUPE_DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("troupe.db").display()),
            )
            .env("TROUPE_DATA_DIR", self.dir.path())
            .env("TROUPE_DISCORD_GATEWAY_URL", self.fake.gateway_url())
            .env("TROUPE_DISCORD_API_PROXY", self.fake.api_proxy())
            .env("TROUPE_BOT_OWNERS", OWNER.to_string())
            .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
            .env("TROUPE_BACKUP_SCHEDULE", "off")
            .env("TROUPE_LOG_FORMAT", "json")
            .env("TROUPE_NATS_URL", nats_url())
            .env("TROUPE_NATS_STREAM", &self.stream)
            .env("TROUPE_NATS_ACK_WAIT_MS", ACK_WAIT_MS)
            .env("TROUPE_WORKER_CONCURRENCY", "8")
            .arg(subcommand)
            .stdout(Stdio::null());
        match log {
            Some(path) => command.stderr(std::fs::File::create(path).unwrap()),
            None => command.stderr(Stdio::null()),
        };
        command
    }

    /// Starts the gateway and waits until it holds its session.
    async fn start_gateway(&mut self) {
        let log = self.log("gateway");
        let child = self
            .troupe("gateway", Some(&log))
            .arg("--no-rest-ratelimit")
            .spawn()
            .unwrap();
        self.gateway = Some(child);
        assert!(
            self.fake
                .wait_until(WAIT, |f| f.live_sessions() == 1
                    && f.requests_to("PUT", "/commands").len() == 1)
                .await,
            "the gateway connected{}",
            self.logs()
        );
    }

    /// Starts a worker and waits until it takes events (its signal handlers are installed).
    async fn start_worker(&mut self) {
        self.started += 1;
        let log = self.log(&format!("worker-{}", self.started));
        let child = self
            .troupe("worker", Some(&log))
            .arg("--no-rest-ratelimit")
            .spawn()
            .unwrap();
        self.workers.push((child, log.clone()));
        let deadline = tokio::time::Instant::now() + WAIT;
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("worker taking events")
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the worker started{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every worker with SIGTERM and waits until they exited.
    fn stop_workers(&mut self) {
        for (child, _) in &self.workers {
            signal("TERM", child);
        }
        for (mut child, _) in self.workers.drain(..) {
            let status = child.wait().unwrap();
            assert!(status.success(), "a worker stopped cleanly: {status}");
        }
    }

    /// The tail of every process's log (for failure messages).
    fn logs(&self) -> String {
        let mut out = String::new();
        let mut paths = vec![self.log("gateway")];
        paths.extend(self.workers.iter().map(|(_, p)| p.clone()));
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("\n--- {}\n", path.display()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// `!tz ping` from `count` different users; the message ids.
    fn pings(&self, first_user: u64, count: u64) -> Vec<u64> {
        (0..count)
            .map(|i| self.fake.send_message(CHANNEL, first_user + i, "!tz ping"))
            .collect()
    }

    /// Waits until every message in `ids` is answered and the stream holds nothing
    /// unacknowledged (no handling left that could still answer), then asserts each has
    /// exactly one reply.
    async fn assert_answered_exactly_once(&self, broker: &Broker, ids: &[u64]) {
        assert!(
            self.fake
                .wait_until(WAIT, |f| ids.iter().all(|id| !f.replies_to(*id).is_empty()))
                .await,
            "every message answered: {} of {}{}",
            ids.iter()
                .filter(|id| !self.fake.replies_to(**id).is_empty())
                .count(),
            ids.len(),
            self.logs()
        );
        let deadline = tokio::time::Instant::now() + WAIT;
        while broker.pending().await.unwrap() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            broker.pending().await.unwrap(),
            0,
            "every event acknowledged"
        );
        let twice: Vec<(u64, usize)> = ids
            .iter()
            .map(|id| (*id, self.fake.replies_to(*id).len()))
            .filter(|(_, n)| *n != 1)
            .collect();
        assert!(twice.is_empty(), "answered more than once: {twice:?}");
    }
}

fn signal(name: &str, child: &Child) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status();
}

impl Drop for Setup {
    fn drop(&mut self) {
        for (child, _) in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(child) = &mut self.gateway {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn clean_up(broker: &Broker) {
    let _ = broker.delete_stream().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_burst_leaves_every_message_answered_exactly_once() {
    let Some((mut setup, broker)) = Setup::start("kill").await else {
        return;
    };
    setup.start_gateway().await;
    setup.start_worker().await;
    setup.start_worker().await;
    // Slow replies: a worker always holds events it claimed and has not answered yet (and
    // replies Discord is still making), the window a crash must not lose or repeat.
    setup.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/messages".into(),
        times: 10_000,
        kind: FaultKind::Delay(Duration::from_millis(150)),
    });
    let ids = setup.pings(230_000_000_000_000_000, 200);
    // Mid-burst: some answered, not all.
    assert!(
        setup
            .fake
            .wait_until(WAIT, |f| ids
                .iter()
                .filter(|id| !f.replies_to(**id).is_empty())
                .count()
                >= 20)
            .await,
        "the workers started answering{}",
        setup.logs()
    );
    let (mut victim, _) = setup.workers.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let answered = ids
        .iter()
        .filter(|id| !setup.fake.replies_to(**id).is_empty())
        .count();
    eprintln!("worker killed with {answered} of {} answered", ids.len());
    setup.assert_answered_exactly_once(&broker, &ids).await;
    let survivor = std::fs::read_to_string(&setup.workers[0].1).unwrap();
    assert!(
        survivor.contains("handling a redelivered event"),
        "the killed worker's unfinished events went to the other one{}",
        setup.logs()
    );
    assert_eq!(
        setup.fake.identifies().len(),
        1,
        "the gateway never identified again"
    );
    clean_up(&broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_every_worker_during_a_stream_loses_no_event_and_never_reconnects_the_gateway() {
    let Some((mut setup, broker)) = Setup::start("deploy").await else {
        return;
    };
    setup.start_gateway().await;
    let identifies = setup.fake.identifies().len();
    let resumes = setup.fake.resumes();
    setup.start_worker().await;
    setup.start_worker().await;
    let mut ids = setup.pings(240_000_000_000_000_000, 40);
    let slash_before = setup.fake.send_slash(CHANNEL, OWNER, "ping", &[]);
    assert!(
        setup
            .fake
            .wait_until(WAIT, |f| !f.replies_to(ids[0]).is_empty())
            .await,
        "the old workers answer{}",
        setup.logs()
    );
    // The deploy: every old worker stops (SIGTERM) while messages keep coming, then new ones
    // start. Meanwhile no worker runs at all.
    setup.stop_workers();
    ids.extend(setup.pings(241_000_000_000_000_000, 40));
    let slash_between = setup.fake.send_slash(CHANNEL, OWNER + 1, "ping", &[]);
    setup.start_worker().await;
    setup.start_worker().await;
    ids.extend(setup.pings(242_000_000_000_000_000, 40));
    setup.assert_answered_exactly_once(&broker, &ids).await;
    for slash in [slash_before, slash_between] {
        assert!(
            setup
                .fake
                .wait_until(WAIT, |f| !f.interaction_responses(slash).is_empty())
                .await,
            "slash command {slash} answered{}",
            setup.logs()
        );
    }
    assert_eq!(
        (setup.fake.identifies().len(), setup.fake.resumes()),
        (identifies, resumes),
        "the gateway kept its session through the deploy"
    );
    assert_eq!(setup.fake.live_sessions(), 1);
    clean_up(&broker).await;
}
