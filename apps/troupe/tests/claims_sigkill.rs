//! The duplicate-suppression guarantee across a crash (ADR 0030): commands are claimed in
//! memory and their claims written in batches off the reply path, so a process killed with
//! SIGKILL may die with claims unwritten. Every event Discord replays to the next process must
//! still be answered at most once, and every event the dead process never answered must be
//! answered: the real binary, the fake Discord, SIGKILL, restart, replay of every message.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use troupe_testkit::discord::{FakeDiscord, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const CHANNEL: u64 = 300_000_000_000_000_001;
const COMMANDS: u64 = 400;

fn start(fake: &FakeDiscord, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_troupe"))
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
        .expect("troupe run starts")
}

async fn connected(fake: &FakeDiscord, registrations: usize) -> bool {
    fake.wait_until(Duration::from_secs(60), |f| {
        f.live_sessions() == 1 && f.requests_to("PUT", "/commands").len() >= registrations
    })
    .await
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

    // Commands from distinct people (the 3-second identical-command rule stays out of it),
    // streaming in; the first process is killed while they arrive.
    let sender = Arc::clone(&fake);
    let stream = tokio::spawn(async move {
        let mut ids = Vec::with_capacity(COMMANDS as usize);
        for i in 0..COMMANDS {
            ids.push(sender.send_message(CHANNEL, 230_000_000_000_000_000 + i, "!tz ping"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ids
    });
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| f
            .requests_to("POST", "/messages")
            .len()
            >= 120)
            .await,
        "the first process answers"
    );
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let answered_by_first = fake.requests_to("POST", "/messages").len();
    let ids = stream.await.unwrap();

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
        "lost: {} of {COMMANDS} never answered",
        unanswered(&fake)
    );
    // Whatever is still on its way has arrived: the bot is idle when the request count stands still.
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
    let created_by_second = fake.requests_to("POST", "/messages").len() - answered_by_first;
    assert!(
        answered_by_first > 0 && answered_by_first < COMMANDS as usize,
        "the kill happened mid-stream ({answered_by_first} answered before)"
    );
    assert!(
        created_by_second < COMMANDS as usize - answered_by_first / 2,
        "the replays of answered messages were refused by their written claims \
         ({created_by_second} creates after the restart, {answered_by_first} before)"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}
