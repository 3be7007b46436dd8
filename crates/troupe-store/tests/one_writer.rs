//! One SQLite writer per store (ADR 0034): a process's writes queue for the store's one writing
//! connection instead of racing for SQLite's lock, and plain reads use connections of their own.

mod common;

use std::time::Duration;

use troupe_domain::conversation::ChannelActivation;
use troupe_ports::{ConversationRepository, PersonalityRepository};
use troupe_store::{Store, StoreOptions};

/// With no busy timeout at all, a write that met another connection's lock would fail at once
/// ("database is locked"): every one of these succeeds because they queue in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_of_one_store_queue_for_the_writer_instead_of_failing_on_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &common::sqlite_url(dir.path(), "one-writer.db"),
        StoreOptions {
            busy_timeout: Duration::ZERO,
            ..common::options()
        },
    )
    .await
    .unwrap();

    let mut tasks = Vec::new();
    for n in 1..=64u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let p = common::fill::personality(&format!("w{n}"), n, &format!("W {n}"), &[]);
            store.insert(&p).await?;
            store
                .activate(&ChannelActivation {
                    channel: common::fill::channel(n),
                    personality: p.name().clone(),
                    activated_by: common::fill::user(n),
                    activated_at: common::fill::at(0),
                })
                .await?;
            // Reads between the writes, on the reading connections.
            store.count_activations().await
        }));
    }
    for task in tasks {
        task.await
            .unwrap()
            .expect("a queued write never meets the lock");
    }
    assert_eq!(PersonalityRepository::count(&store).await.unwrap(), 64);
    assert_eq!(store.count_activations().await.unwrap(), 64);
}

/// A read is answered while another process holds the write lock, and sees only what was
/// committed; once it commits, the next read sees it.
#[tokio::test]
async fn reads_go_on_while_another_process_holds_the_write_lock() {
    use sqlx::Connection as _;

    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "locked.db");
    let store = Store::open(
        &url,
        StoreOptions {
            busy_timeout: Duration::from_millis(50),
            ..common::options()
        },
    )
    .await
    .unwrap();
    store
        .insert(&common::fill::personality("first", 1, "First", &[]))
        .await
        .unwrap();

    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("DELETE FROM personalities")
        .execute(&mut other)
        .await
        .unwrap();

    assert_eq!(PersonalityRepository::count(&store).await.unwrap(), 1);
    let blocked = store
        .insert(&common::fill::personality("second", 2, "Second", &[]))
        .await;
    assert!(
        matches!(blocked, Err(troupe_store::StoreError::Unavailable(_))),
        "a write waits for the other process's lock, then says the store is busy: {blocked:?}"
    );

    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    assert_eq!(PersonalityRepository::count(&store).await.unwrap(), 0);
}
