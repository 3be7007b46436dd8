//! The fleet-wide identify queue (issue 16, ADR 0041): four `troupe run` processes of two
//! shards each, their ranges computed from `TROUPE_SHARD_INDEX`/`TROUPE_SHARD_PROCESSES`,
//! started together on one PostgreSQL store against a fake Discord that allows
//! `max_concurrency` 2 with a shortened identify interval. Fleet-wide, each bucket (shard id
//! modulo 2) identifies at most once per interval, so at most two IDENTIFYs arrive per
//! interval; per-process queues would let all eight arrive at once. `/health` shows the
//! session-start budget and `/health/fleet` the shard division.
//!
//! Needs a PostgreSQL server (`TROUPE_TEST_POSTGRES_URL`) and `psql`; says SKIPPED and passes
//! without.

mod fleet_support;

use std::time::Duration;

use fleet_support::{Database, Fleet, OWNER, eventually, free_port, get_json, troupe};
use troupe_testkit::discord::FakeDiscord;

const PROCESSES: u32 = 4;
const SHARDS: u32 = 8;
const MAX_CONCURRENCY: u32 = 2;
const INTERVAL: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_two_shards_identify_at_most_max_concurrency_per_interval() {
    let Some(db) = Database::create("identify") else {
        eprintln!(
            "PostgreSQL identify queue test SKIPPED: set TROUPE_TEST_POSTGRES_URL and install psql"
        );
        return;
    };
    let fake = FakeDiscord::start().await.unwrap();
    fake.set_max_concurrency(MAX_CONCURRENCY);
    fake.add_guild(1 << 22, OWNER);
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
                    .env("TROUPE_SHARDS", SHARDS.to_string())
                    .env("TROUPE_SHARD_PROCESSES", PROCESSES.to_string())
                    .env("TROUPE_SHARD_INDEX", i.to_string())
                    .env(
                        "TROUPE_DISCORD_IDENTIFY_INTERVAL_MS",
                        INTERVAL.as_millis().to_string(),
                    )
                    .env(
                        "TROUPE_HTTP_ADDR",
                        format!("127.0.0.1:{}", ports[i as usize]),
                    )
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    assert!(
        fake.wait_until(Duration::from_secs(90), |f| f.identifies().len()
            >= SHARDS as usize
            && f.live_sessions() == SHARDS as usize)
            .await,
        "every shard identified: {:?}",
        fake.identifies()
    );
    let log = fake.identify_log();
    let mut shards: Vec<u32> = log.iter().map(|(s, _)| s[0]).collect();
    shards.sort_unstable();
    assert_eq!(shards, (0..SHARDS).collect::<Vec<_>>(), "each shard once");
    assert!(log.iter().all(|(s, _)| s[1] == SHARDS));
    for bucket in 0..MAX_CONCURRENCY {
        let times: Vec<_> = log
            .iter()
            .filter(|(s, _)| s[0] % MAX_CONCURRENCY == bucket)
            .map(|(_, at)| *at)
            .collect();
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        eprintln!("bucket {bucket}: gaps between identifies {gaps:?}");
        assert!(
            gaps.iter().all(|gap| *gap >= INTERVAL),
            "bucket {bucket} identified faster than once per {INTERVAL:?}: {gaps:?}"
        );
    }
    let first = log.iter().map(|(_, at)| *at).min().unwrap();
    for (_, at) in &log {
        let within = log
            .iter()
            .filter(|(_, other)| *other >= *at && *other - *at < INTERVAL)
            .count();
        assert!(
            within <= MAX_CONCURRENCY as usize,
            "{within} identifies within {INTERVAL:?} of one at {:?}",
            *at - first
        );
    }

    troupe_discord::install_crypto_provider();
    let client = reqwest::Client::new();
    let health = get_json(&client, &format!("http://127.0.0.1:{}/health", ports[3]))
        .await
        .expect("/health answers");
    let starts = &health["checks"]["discord"]["session_starts"];
    assert_eq!(starts["queue"], "fleet", "{health}");
    assert_eq!(starts["max_concurrency"], MAX_CONCURRENCY);
    assert_eq!(starts["total"], 1000);
    assert_eq!(
        starts["remaining"], 998,
        "this process started two sessions: {starts}"
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            get_json(
                &client,
                &format!("http://127.0.0.1:{}/health/fleet", ports[0]),
            )
            .await
            .is_some_and(|d| {
                d["count"] == PROCESSES && d["shard_problems"] == serde_json::json!([])
            })
        })
        .await,
        "four processes, the shards divided without overlap or gap"
    );
    let doc = get_json(
        &client,
        &format!("http://127.0.0.1:{}/health/fleet", ports[0]),
    )
    .await
    .unwrap();
    let mut ranges: Vec<(u64, u64)> = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["shards"]["start"].as_u64().unwrap(),
                p["shards"]["end"].as_u64().unwrap(),
            )
        })
        .collect();
    ranges.sort_unstable();
    assert_eq!(ranges, [(0, 2), (2, 4), (4, 6), (6, 8)]);
    drop(fleet);
}
