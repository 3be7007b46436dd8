//! The fleet registry contract (issue 16) on SQLite and PostgreSQL: a heartbeat records a
//! process, a second replaces it, flag versions only go up, a process not seen recently is
//! not live, a stopping process leaves, and two stores on one database see each other.

mod common;

use std::time::Duration;

use troupe_domain::Timestamp;
use troupe_ports::{FlagChange, FlagStore, FleetRegistry, ProcessRecord, ShardSpan};
use troupe_store::Store;

fn record(id: &str, shards: Option<(u32, std::ops::Range<u32>)>, flags: u64) -> ProcessRecord {
    ProcessRecord {
        id: id.into(),
        host: format!("host-{id}"),
        version: "0.1.0".into(),
        role: "run".into(),
        shards: shards.map(|(total, range)| ShardSpan { total, range }),
        gateway: "connected".into(),
        flag_version: flags,
        started_at: Timestamp::from_millis(1_700_000_000_000),
    }
}

async fn registry_contract(a: &Store, b: &Store) {
    let long = Duration::from_secs(60);
    assert!(
        a.live(long).await.unwrap().is_empty(),
        "a new store has no process"
    );

    a.heartbeat(&record("p1", Some((4, 0..2)), 3))
        .await
        .unwrap();
    b.heartbeat(&record("p2", Some((4, 2..4)), 3))
        .await
        .unwrap();
    b.heartbeat(&record("w1", None, 3)).await.unwrap();
    let live = b.live(long).await.unwrap();
    let ids: Vec<&str> = live.iter().map(|p| p.record.id.as_str()).collect();
    assert_eq!(
        ids,
        ["p1", "p2", "w1"],
        "every process sees every other, by id"
    );
    assert_eq!(live[0].record, record("p1", Some((4, 0..2)), 3));
    assert_eq!(live[2].record.shards, None);
    assert!(
        live.iter()
            .all(|p| p.last_seen_ago < Duration::from_secs(30))
    );

    // A second heartbeat replaces the record, but never lowers the applied flag version.
    let mut changed = record("p1", Some((4, 0..2)), 2);
    changed.gateway = "resuming".into();
    a.heartbeat(&changed).await.unwrap();
    let p1 = &a.live(long).await.unwrap()[0];
    assert_eq!(p1.record.gateway, "resuming");
    assert_eq!(
        p1.record.flag_version, 3,
        "a stale heartbeat lowers nothing"
    );

    assert!(a.report_flag_version("p2", 9).await.unwrap());
    assert!(a.report_flag_version("p2", 5).await.unwrap());
    assert!(!a.report_flag_version("nobody", 9).await.unwrap());
    let p2 = b
        .live(long)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.record.id == "p2")
        .unwrap();
    assert_eq!(p2.record.flag_version, 9);

    // Not seen within the window: not live (the store's clock decides).
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.heartbeat(&record("w1", None, 3)).await.unwrap();
    let recent = a.live(Duration::from_millis(250)).await.unwrap();
    let ids: Vec<&str> = recent.iter().map(|p| p.record.id.as_str()).collect();
    assert_eq!(ids, ["w1"]);

    a.leave("p1").await.unwrap();
    a.leave("p1").await.unwrap();
    let ids: Vec<String> = b
        .live(long)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.record.id)
        .collect();
    assert_eq!(ids, ["p2", "w1"]);
}

/// The flag version and a process's report of it line up: the registry confirms a change.
async fn flag_version_lines_up(store: &Store) {
    store.heartbeat(&record("x", None, 0)).await.unwrap();
    store
        .apply(&FlagChange {
            name: "ddd.commands.enabled".into(),
            value: Some(false),
            actor: "test".into(),
            reason: "rollback".into(),
            at: Timestamp::from_millis(1),
        })
        .await
        .unwrap();
    let version = store.version().await.unwrap();
    let x = &store.live(Duration::from_secs(60)).await.unwrap()[0];
    assert!(x.record.flag_version < version);
    store.report_flag_version("x", version).await.unwrap();
    let x = &store.live(Duration::from_secs(60)).await.unwrap()[0];
    assert_eq!(x.record.flag_version, version);
}

#[tokio::test]
async fn the_sqlite_registry_honours_the_fleet_contract() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::sqlite_store(dir.path(), "fleet.db").await;
    let b = common::sqlite_store(dir.path(), "fleet.db").await;
    registry_contract(&a, &b).await;
    let c = common::sqlite_store(dir.path(), "versions.db").await;
    flag_version_lines_up(&c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_registry_honours_the_fleet_contract() {
    common::with_postgres("fleet registry contract", |url| async move {
        let a = Store::open(&url, common::options()).await.unwrap();
        let b = Store::open(&url, common::options()).await.unwrap();
        registry_contract(&a, &b).await;
        a.leave("p2").await.unwrap();
        a.leave("w1").await.unwrap();
        flag_version_lines_up(&a).await;
    })
    .await;
}
