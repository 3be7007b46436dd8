//! Several `troupe run` processes sharing one PostgreSQL store (a fleet), each running one
//! shard, against the fake Discord: Discord's global REST limit holds across all of them, and
//! the routes Discord exempts (interaction callbacks, webhook executions) are not slowed by it.
//!
//! Needs a PostgreSQL server (`TROUPE_TEST_POSTGRES_URL`, as the store's suite) and `psql` to
//! create and drop a randomly named database; says so on stderr and passes when there is none.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fleet_support::{Database, OWNER};
use troupe_testkit::discord::FakeDiscord;

mod fleet_support;

const SHARDS: u64 = 3;

/// A guild id on `shard` of [`SHARDS`] (Discord routes a guild to `(id >> 22) % shards`).
fn guild_on(shard: u64) -> u64 {
    ((1_000_000 * SHARDS + shard) << 22) | 1
}

fn channel_of(shard: u64) -> u64 {
    300_000_000_000_000_000 + shard
}

/// `troupe` against the fake Discord and the fleet's database, with an admin port of its own.
fn troupe(fake: &FakeDiscord, db: &Database, dir: &std::path::Path) -> Command {
    let mut command = fleet_support::troupe(fake, db, dir);
    command.env("TROUPE_HTTP_ADDR", "127.0.0.1:0");
    command
}

/// Stops the processes with SIGTERM when dropped (also when the test fails).
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_global_limit_and_exempt_routes_are_not_slowed() {
    let Some(db) = Database::create("troupe_fleet") else {
        eprintln!("PostgreSQL fleet test SKIPPED: set TROUPE_TEST_POSTGRES_URL and install psql");
        return;
    };
    let fake = FakeDiscord::start().await.unwrap();
    for shard in 0..SHARDS {
        fake.add_guild(guild_on(shard), OWNER);
        fake.add_text_channel(guild_on(shard), channel_of(shard), "general", false);
    }
    let dirs: Vec<tempfile::TempDir> = (0..SHARDS).map(|_| tempfile::tempdir().unwrap()).collect();
    let migrated = troupe(&fake, &db, dirs[0].path())
        .arg("migrate")
        .status()
        .unwrap();
    assert!(migrated.success());
    let fleet = Fleet(
        (0..SHARDS)
            .map(|shard| {
                troupe(&fake, &db, dirs[shard as usize].path())
                    .arg("run")
                    .env("TROUPE_SHARDS", SHARDS.to_string())
                    .env("TROUPE_SHARD_RANGE", format!("{shard}..{}", shard + 1))
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    assert!(
        fake.wait_until(Duration::from_secs(30), |f| f.live_sessions() == 3
            && f.requests_to("PUT", "/commands").len() == 3)
            .await,
        "three processes connected"
    );

    // 240 replies, all subject to the global limit, from three processes at once.
    let mut ids = Vec::new();
    for i in 0..80u64 {
        for shard in 0..SHARDS {
            let user = 230_000_000_000_000_000 + i * SHARDS + shard;
            ids.push(fake.send_message(channel_of(shard), user, "!tz ping"));
        }
    }
    assert!(
        fake.wait_until(Duration::from_secs(30), |f| f
            .requests_to("POST", "/messages")
            .len()
            >= 60)
            .await
    );
    // Slash commands while the global backlog waits: their callbacks are exempt.
    let slashes: Vec<u64> = (0..SHARDS)
        .map(|shard| fake.send_slash(channel_of(shard), OWNER, "ping", &[]))
        .collect();
    let started = Instant::now();
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| ids
            .iter()
            .all(|id| !f.replies_to(*id).is_empty())
            && slashes
                .iter()
                .all(|s| !f.interaction_responses(*s).is_empty()))
            .await,
        "everything answered"
    );
    eprintln!(
        "backlog drained {:?} after the slash commands",
        started.elapsed()
    );

    let peak = fake.max_global_requests_per_second();
    assert!(peak <= 50, "{peak} global-limited requests in one second");
    assert!(
        peak >= 30,
        "the fleet uses the limit, not a share each: {peak}"
    );
    let requests = fake.requests();
    let last_reply = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .map(|r| r.at)
        .max()
        .unwrap();
    for slash in slashes {
        let callback = requests
            .iter()
            .find(|r| r.path.starts_with(&format!("/interactions/{slash}/")))
            .expect("a callback");
        assert!(
            callback.at + Duration::from_secs(1) < last_reply,
            "the callback did not wait behind the global backlog"
        );
    }
    drop(fleet);
    assert_eq!(fake.client_close_codes().len(), 3);
}
