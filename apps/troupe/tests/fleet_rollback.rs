//! A fleet of three `troupe run` processes on one PostgreSQL store against the fake Discord
//! (issue 16): every process shows in the fleet registry; the emergency rollback through one
//! process's admin API with `?confirm=` answers only when every process applied it (so each
//! serves legacy at once), and `troupe flags set --confirm` names a process that cannot apply
//! a change (stopped with SIGSTOP) and exits 4.
//!
//! Needs a PostgreSQL server (`TROUPE_TEST_POSTGRES_URL`) and `psql`; says SKIPPED and passes
//! without.

mod fleet_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet_support::{Database, Fleet, eventually, free_port, get_json, troupe};
use serde_json::Value;
use troupe_testkit::discord::FakeDiscord;

use fleet_support::OWNER;
const PROCESSES: u64 = 3;
const ADMIN: &str = "fleet-admin-token-for-the-rollback-drill";

fn guild_on(shard: u64) -> u64 {
    ((1_000_000 * PROCESSES + shard) << 22) | 1
}

fn channel_of(shard: u64) -> u64 {
    300_000_000_000_000_000 + shard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_rollback_reaches_every_process_and_an_unconfirmed_change_names_the_laggard() {
    let Some(db) = Database::create("rollback") else {
        eprintln!(
            "PostgreSQL fleet rollback test SKIPPED: set TROUPE_TEST_POSTGRES_URL and install psql"
        );
        return;
    };
    let fake = FakeDiscord::start().await.unwrap();
    for shard in 0..PROCESSES {
        fake.add_guild(guild_on(shard), OWNER);
        fake.add_text_channel(guild_on(shard), channel_of(shard), "general", false);
    }
    let dirs: Vec<tempfile::TempDir> = (0..PROCESSES)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    assert!(
        troupe(&fake, &db, dirs[0].path())
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );
    let ports: Vec<u16> = (0..PROCESSES).map(|_| free_port()).collect();
    let fleet = Fleet(
        (0..PROCESSES)
            .map(|i| {
                troupe(&fake, &db, dirs[i as usize].path())
                    .arg("run")
                    .env("TROUPE_SHARDS", PROCESSES.to_string())
                    .env("TROUPE_SHARD_RANGE", format!("{i}..{}", i + 1))
                    .env(
                        "TROUPE_HTTP_ADDR",
                        format!("127.0.0.1:{}", ports[i as usize]),
                    )
                    .env("TROUPE_ADMIN_TOKEN", ADMIN)
                    .env("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true")
                    .env("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true")
                    .env("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true")
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    troupe_discord::install_crypto_provider();
    let client = reqwest::Client::new();
    let base = |i: usize| format!("http://127.0.0.1:{}", ports[i]);
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| f.live_sessions() == 3)
            .await,
        "three processes connected"
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            get_json(&client, &format!("{}/health/fleet", base(0)))
                .await
                .is_some_and(|d| d["count"] == 3 && d["shard_problems"] == serde_json::json!([]))
        })
        .await,
        "every process registered, the shards divided without overlap or gap"
    );
    let fleet_doc = get_json(&client, &format!("{}/health/fleet", base(2)))
        .await
        .unwrap();
    for p in fleet_doc["processes"].as_array().unwrap() {
        assert_eq!(p["role"], "run");
        assert_eq!(p["shards"]["total"], 3);
        assert!(p["id"].as_str().unwrap().contains('/'), "{p}");
    }
    for i in 0..3 {
        let commands = get_json(&client, &format!("{}/health/commands", base(i)))
            .await
            .unwrap();
        assert_eq!(commands["commands"]["ping"]["system"], "ddd", "process {i}");
    }

    // The emergency rollback through process 1, confirmed fleet-wide.
    let started = Instant::now();
    let response = client
        .post(format!("{}/admin/rollback?confirm=10000", base(1)))
        .bearer_auth(ADMIN)
        .body(r#"{"reason": "fleet rollback drill"}"#)
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(answer["confirmation"]["confirmed"], true, "{answer}");
    assert_eq!(answer["confirmation"]["processes"], 3, "{answer}");
    eprintln!(
        "confirmed rollback: {} ms until every process applied it ({:?} for the whole call)",
        answer["confirmation"]["waited_ms"], elapsed
    );
    // Confirmed means applied: every process serves legacy now, without waiting.
    for i in 0..3 {
        let commands = get_json(&client, &format!("{}/health/commands", base(i)))
            .await
            .unwrap();
        assert_eq!(
            commands["commands"]["ping"]["system"], "legacy",
            "process {i}"
        );
    }
    let ids: Vec<u64> = (0..PROCESSES)
        .map(|s| fake.send_message(channel_of(s), 230_000_000_000_000_000 + s, "!tz ping"))
        .collect();
    assert!(
        fake.wait_until(Duration::from_secs(30), |f| ids
            .iter()
            .all(|id| !f.replies_to(*id).is_empty()))
            .await,
        "every process answers after the rollback"
    );

    // A process that cannot apply a change (stopped) is named, exit 4; the change is stored.
    let stopped = fleet.0[2].id();
    assert!(
        Command::new("kill")
            .args(["-STOP", &stopped.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let output = troupe(&fake, &db, dirs[0].path())
        .args([
            "flags",
            "set",
            "ddd.commands.enabled",
            "true",
            "--reason",
            "drill: back on",
            "--confirm=1500",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{text}");
    assert!(text.contains("NOT confirmed"), "{text}");
    assert!(
        text.contains(&format!("/{stopped}/")),
        "names the stopped process: {text}"
    );
    assert!(text.contains("1 of 3"), "{text}");
    let listed = troupe(&fake, &db, dirs[0].path())
        .args(["fleet", "--check"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(3), "{listing}");
    assert!(listing.contains("LAGGING"), "{listing}");

    // Continued, it catches up; the next confirmed change is confirmed by all three.
    assert!(
        Command::new("kill")
            .args(["-CONT", &stopped.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let output = troupe(&fake, &db, dirs[0].path())
        .args([
            "flags",
            "set",
            "ddd.commands.enabled",
            "false",
            "--reason",
            "drill: off again",
            "--confirm=10000",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("confirmed: 3 live process(es)"), "{text}");
    eprintln!("{}", text.trim());
    drop(fleet);
}
