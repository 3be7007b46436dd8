//! The duplicate-suppression guarantee across a crash (ADR 0030): commands are claimed in
//! memory and their claims written in batches off the reply path, so a process killed with
//! SIGKILL may die with claims unwritten. Every event Discord replays to the next process must
//! still be answered at most once, and every event the dead process never answered must be
//! answered: the real binary, the fake Discord, SIGKILL, restart, replay of every message.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use troupe_store::{Store, StoreOptions};
use troupe_testkit::discord::{FakeDiscord, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const CHANNEL: u64 = 300_000_000_000_000_001;
/// Commands answered well before the crash.
const EARLY: u64 = 150;
/// Commands streaming in when the process is killed.
const LATE: u64 = 300;

/// A `troupe run` process, killed when dropped (also when the test fails half-way).
struct Bot(Child);

impl Bot {
    /// SIGKILL, and wait for the process to be gone.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start(fake: &FakeDiscord, dir: &std::path::Path) -> Bot {
    let child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("run")
        .arg("--no-rest-ratelimit")
        .env_clear()
        .env("DISCORD_TOKEN", TOKEN)
        .env("TROUPE_DATA_DIR", dir)
        .env("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url())
        .env("TROUPE_DISCORD_API_PROXY", fake.api_proxy())
        .env("TROUPE_DISCORD_COMMANDS_QUEUED", "5000")
        .env("TROUPE_HTTP_ADDR", "127.0.0.1:0")
        .env("TROUPE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("troupe run starts");
    Bot(child)
}

/// The `n`th process has identified and is the only live session (a killed one's socket is
/// closed), so events dispatched now reach it.
async fn connected(fake: &FakeDiscord, n: usize) -> bool {
    fake.wait_until(Duration::from_secs(60), |f| {
        f.identifies().len() >= n
            && f.live_sessions() == 1
            && f.requests_to("PUT", "/commands").len() >= n
    })
    .await
}

/// Claims written to the store (the bot's SQLite file, read beside it as another process would).
async fn written_claims(dir: &std::path::Path) -> u64 {
    let url = format!("sqlite://{}", dir.join("troupe.db").display());
    let store = Store::connect(&url, StoreOptions::default()).await.unwrap();
    let n = troupe_ports::ProcessedMessages::count(&store)
        .await
        .unwrap_or(0);
    store.close().await;
    n
}

/// Sends `n` prefix commands from distinct people (the 3-second identical-command rule stays out
/// of it), 5 ms apart.
fn stream(fake: &Arc<FakeDiscord>, first_user: u64, n: u64) -> tokio::task::JoinHandle<Vec<u64>> {
    let sender = Arc::clone(fake);
    tokio::spawn(async move {
        let mut ids = Vec::with_capacity(n as usize);
        for i in 0..n {
            ids.push(sender.send_message(CHANNEL, first_user + i, "!tz ping"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_a_replay_is_never_answered_twice_and_nothing_is_lost() {
    let fake = Arc::new(FakeDiscord::start().await.unwrap());
    fake.add_guild(GUILD, OWNER);
    fake.add_member(GUILD, OWNER, &[]);
    fake.add_text_channel(GUILD, CHANNEL, "bench", false);
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&fake, dir.path());
    assert!(connected(&fake, 1).await, "the first process connects");

    // Answered a while before the crash: their claims reach the store.
    let early = stream(&fake, 230_000_000_000_000_000, EARLY).await.unwrap();
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| early
            .iter()
            .all(|id| !f.replies_to(*id).is_empty()))
            .await,
        "the first process answers"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while written_claims(dir.path()).await < EARLY {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the claims were not written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Arriving when the process is killed: some answered (claims unwritten), some not.
    let late = stream(&fake, 240_000_000_000_000_000, LATE);
    let before = fake.requests_to("POST", "/messages").len();
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| f
            .requests_to("POST", "/messages")
            .len()
            >= before + 50)
            .await,
        "the first process answers the late ones"
    );
    first.kill();
    let answered_by_first = fake.requests_to("POST", "/messages").len();
    let late = late.await.unwrap();
    let ids: Vec<u64> = early.iter().chain(&late).copied().collect();

    let mut second = start(&fake, dir.path());
    assert!(connected(&fake, 2).await, "the second process connects");
    // Discord replays what the dead session may not have handled: here, every message.
    for id in &ids {
        assert!(fake.replay_message(*id));
    }
    let unanswered = |f: &FakeDiscord| {
        ids.iter()
            .filter(|id| f.replies_to(**id).is_empty())
            .count()
    };
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| unanswered(f) == 0)
            .await,
        "lost: {} of {} never answered (positions {:?}; {} answered before the kill)",
        unanswered(&fake),
        ids.len(),
        ids.iter()
            .enumerate()
            .filter(|(_, id)| fake.replies_to(**id).is_empty())
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
        answered_by_first
    );
    // Whatever is still on its way has arrived when the request count stands still.
    let mut last = fake.request_count();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = fake.request_count();
        if now == last {
            break;
        }
        last = now;
    }
    for id in &ids {
        assert_eq!(
            fake.replies_to(*id).len(),
            1,
            "message {id} answered more than once"
        );
    }
    assert!(
        answered_by_first < (EARLY + LATE) as usize,
        "the kill happened mid-stream ({answered_by_first} answered before)"
    );
    let created_by_second = fake.requests_to("POST", "/messages").len() - answered_by_first;
    assert!(
        created_by_second <= LATE as usize,
        "replays of the early messages were refused by their written claims \
         ({created_by_second} creates after the restart for {LATE} late messages)"
    );
    second.kill();
}
