//! The flag version follows commit order (issue 11): a poller that caches the version never
//! misses a change, also when writers commit out of id order on PostgreSQL; a change made by
//! the previous release (which only appends to `flag_audit`) bumps it too; and on PostgreSQL a
//! listener is woken by a change another connection commits.

mod common;

use std::time::Duration;

use sqlx::Connection as _;
use troupe_domain::Timestamp;
use troupe_ports::{FlagChange, FlagStore};
use troupe_store::Store;

fn change(name: &str, value: Option<bool>, reason: &str) -> FlagChange {
    FlagChange {
        name: name.to_owned(),
        value,
        actor: "test".to_owned(),
        reason: reason.to_owned(),
        at: Timestamp::from_millis(1_000),
    }
}

#[tokio::test]
async fn every_change_bumps_the_sqlite_version_including_one_the_previous_release_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "flags.db").await;
    let v0 = store.version().await.unwrap();
    store
        .apply(&change("ddd.commands.enabled", Some(true), "one"))
        .await
        .unwrap();
    let v1 = store.version().await.unwrap();
    assert_eq!(v1, v0 + 1);
    // The previous release's change: the two statements it runs, nothing else.
    let mut raw = sqlx::SqliteConnection::connect(&common::sqlite_url(dir.path(), "flags.db"))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO flags (name, value, updated_by, updated_at) VALUES ('ddd.commands.utility', 1, 'old', 1)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO flag_audit (name, old_value, new_value, actor, reason, at) \
         VALUES ('ddd.commands.utility', NULL, 1, 'old', 'previous release', 1)",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    assert_eq!(store.version().await.unwrap(), v1 + 1);
    assert!(store.subscribe().await.unwrap().is_none(), "SQLite polls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_change_committed_after_a_later_id_is_not_missed_by_a_poller() {
    common::with_postgres("out-of-order flag commits", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        // Writer A takes its audit id first and holds its transaction open…
        let mut a = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut tx = a.begin().await.unwrap();
        let id_a: i64 =
            sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('flag_audit', 'id'))")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        // …writer B takes a later id and commits first; the poller caches what it sees.
        store
            .apply(&change("ddd.commands.utility", Some(true), "B"))
            .await
            .unwrap();
        let cached = store.version().await.unwrap();
        let max_id_before: i64 = sqlx::query_scalar("SELECT MAX(id) FROM flag_audit")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert!(max_id_before > id_a, "B's id is later than A's");
        // A commits last, with its earlier id.
        sqlx::query(
            "INSERT INTO flags (name, value, updated_by, updated_at) \
             VALUES ('ddd.commands.enabled', TRUE, 'A', 1)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO flag_audit (id, name, old_value, new_value, actor, reason, at) \
             OVERRIDING SYSTEM VALUE VALUES ($1, 'ddd.commands.enabled', NULL, TRUE, 'A', 'A', 1)",
        )
        .bind(id_a)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let max_id_after: i64 = sqlx::query_scalar("SELECT MAX(id) FROM flag_audit")
            .fetch_one(&mut a)
            .await
            .unwrap();
        assert_eq!(
            max_id_after, max_id_before,
            "MAX(id), the old version, did not move: a poller using it missed A"
        );
        let seen = store.version().await.unwrap();
        assert!(
            seen > cached,
            "the poller sees A's commit ({cached} -> {seen})"
        );
        let values = store.values().await.unwrap();
        assert!(values.iter().any(|f| f.name == "ddd.commands.enabled"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_postgres_writers_each_bump_the_version_once_and_a_stable_version_means_stable_values()
 {
    common::with_postgres("concurrent flag writers", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        let start = store.version().await.unwrap();
        const WRITERS: u64 = 8;
        const CHANGES: u64 = 10;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                // version → the values read between two equal reads of the version. It polls
                // once more after the writers are done: that poll's version is stable, so the
                // map is never empty however the writers and the poller were scheduled.
                let mut seen = std::collections::BTreeMap::new();
                loop {
                    let last = done.load(std::sync::atomic::Ordering::SeqCst);
                    let before = store.version().await.unwrap();
                    let mut values = store.values().await.unwrap();
                    values.sort_by(|a, b| a.name.cmp(&b.name));
                    let values: Vec<(String, bool)> =
                        values.into_iter().map(|f| (f.name, f.value)).collect();
                    if store.version().await.unwrap() == before
                        && let Some(earlier) = seen.insert(before, values.clone())
                    {
                        assert_eq!(earlier, values, "values changed under version {before}");
                    }
                    if last {
                        break;
                    }
                }
                seen.len()
            })
        };
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..CHANGES {
                    let name = format!("ddd.commands.w{w}");
                    store
                        .apply(&change(&name, Some(i % 2 == 0), "concurrent"))
                        .await
                        .unwrap();
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let polls = poller.await.unwrap();
        assert!(polls > 0, "the poller saw at least one stable version");
        assert_eq!(store.version().await.unwrap(), start + WRITERS * CHANGES);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_listener_is_woken_by_a_change_another_store_commits() {
    common::with_postgres("flag notifications", |url| async move {
        let listening = Store::open(&url, common::options()).await.unwrap();
        let other = Store::open(&url, common::options()).await.unwrap();
        let mut notifications = listening
            .subscribe()
            .await
            .unwrap()
            .expect("PostgreSQL pushes changes");
        other
            .apply(&change("ddd.commands.enabled", Some(false), "rollback"))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), notifications.changed())
            .await
            .expect("woken well before the deadline")
            .expect("the subscription is live");
    })
    .await;
}
