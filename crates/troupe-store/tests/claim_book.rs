//! The claim book (ADR 0030): claims decided in memory for ids made after it started, by the
//! store for older ids (replays), written to the store in batches.

mod common;

use std::time::Duration;

use troupe_domain::{MessageId, Timestamp};
use troupe_ports::{Clock as _, ProcessedMessages, SystemClock};
use troupe_store::{ClaimBook, ClaimBookSettings, Store, StoreOptions};

const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
const TTL: Duration = Duration::from_secs(3600);

/// A snowflake Discord would make at `ms` (Unix milliseconds), with `n` as its low bits.
fn id_at(ms: i64, n: u64) -> MessageId {
    MessageId::new((((ms - DISCORD_EPOCH_MS) as u64) << 22) | n).unwrap()
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Store::open(&url, StoreOptions::default()).await.unwrap()
}

const NOW: i64 = 1_800_000_000_000;

/// A book started a minute before the real time (the background writer reads the clock
/// itself), with `settings`; and that real time.
fn started_a_minute_ago(
    store: &Store,
    settings: ClaimBookSettings,
) -> (std::sync::Arc<ClaimBook>, i64) {
    let real_now = SystemClock.now().as_millis();
    let book = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(real_now - 60_000),
        settings,
    );
    (book, real_now)
}

/// Waits (up to 10 s) until the store holds `claims` claims.
async fn until_written(store: &Store, claims: u64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.count().await.unwrap() < claims {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn fresh_ids_are_decided_in_memory_and_written_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let book = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(NOW),
        ClaimBookSettings::default(),
    );
    let now = Timestamp::from_millis(NOW + 20_000);
    for n in 0..100 {
        assert!(book.claim(id_at(NOW + 15_000, n), now, TTL).await.unwrap());
    }
    assert!(
        !book.claim(id_at(NOW + 15_000, 7), now, TTL).await.unwrap(),
        "a repeat"
    );
    assert_eq!(
        store.count().await.unwrap(),
        0,
        "nothing written yet: off the reply path"
    );
    book.flush().await.unwrap();
    assert_eq!(
        store.count().await.unwrap(),
        100,
        "one batch wrote them all"
    );
    // Another process (a fresh book over the same store) finds them: a replay is refused.
    let next = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(NOW + 30_000),
        ClaimBookSettings::default(),
    );
    assert!(!next.claim(id_at(NOW + 15_000, 3), now, TTL).await.unwrap());
}

#[tokio::test]
async fn ids_made_before_the_book_started_are_asked_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let old = id_at(NOW - 5_000, 1);
    assert!(
        store
            .claim(old, Timestamp::from_millis(NOW - 4_000), TTL)
            .await
            .unwrap()
    );
    let book = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(NOW),
        ClaimBookSettings::default(),
    );
    let now = Timestamp::from_millis(NOW + 1_000);
    assert!(
        !book.claim(old, now, TTL).await.unwrap(),
        "claimed by the previous process"
    );
    // Within the skew margin: also the store's decision (and durable at once).
    let edge = id_at(NOW + 2_000, 2);
    assert!(book.claim(edge, now, TTL).await.unwrap());
    assert!(
        !book.claim(edge, now, TTL).await.unwrap(),
        "remembered afterwards"
    );
    assert_eq!(
        store.count().await.unwrap(),
        1,
        "asked of the store, but written only once answered"
    );
    book.settle(edge).await.unwrap();
    book.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
}

#[tokio::test]
async fn forgotten_claims_send_older_ids_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let settings = ClaimBookSettings {
        remembered: 4,
        ..ClaimBookSettings::default()
    };
    let book = ClaimBook::new(store.clone(), Timestamp::from_millis(NOW), settings);
    let now = Timestamp::from_millis(NOW + 60_000);
    let ids: Vec<MessageId> = (0..6).map(|n| id_at(NOW + 20_000 + n as i64, n)).collect();
    for id in &ids {
        assert!(book.claim(*id, now, TTL).await.unwrap());
    }
    book.flush().await.unwrap();
    // The first ones were forgotten by the memory (bound of 4) but not by the store.
    for id in &ids {
        assert!(
            !book.claim(*id, now, TTL).await.unwrap(),
            "{id} answered twice"
        );
    }
    assert!(book.remembered() <= 5);
}

#[tokio::test]
async fn the_writer_writes_claims_once_their_commands_are_answered_and_all_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let settings = ClaimBookSettings {
        write_every: Duration::from_millis(20),
        ..ClaimBookSettings::default()
    };
    let (book, real_now) = started_a_minute_ago(&store, settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let writer = book.spawn_writer(async move {
        let _ = stopped.await;
    });
    let at = Timestamp::from_millis(real_now);
    for n in 0..51 {
        assert!(
            book.claim(id_at(real_now - 2_000, n), at, TTL)
                .await
                .unwrap()
        );
    }
    // Answered: written by the writer. The last one is still being answered: not written
    // (if the process died now, its replay must be answered).
    for n in 0..50 {
        book.settle(id_at(real_now - 2_000, n)).await.unwrap();
    }
    until_written(&store, 50, "the writer did not write").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.count().await.unwrap(),
        50,
        "the unanswered claim waits"
    );
    drop(stop);
    writer.await.unwrap();
    assert_eq!(
        store.count().await.unwrap(),
        51,
        "the rest is written at stop"
    );
}

#[tokio::test]
async fn a_claim_never_settled_is_written_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let settings = ClaimBookSettings {
        write_every: Duration::from_millis(20),
        settle_timeout: Duration::from_millis(200),
        ..ClaimBookSettings::default()
    };
    let (book, real_now) = started_a_minute_ago(&store, settings);
    let _writer = book.spawn_writer(std::future::pending());
    let at = Timestamp::from_millis(real_now);
    assert!(
        book.claim(id_at(real_now - 2_000, 1), at, TTL)
            .await
            .unwrap()
    );
    until_written(&store, 1, "the overdue claim was not written").await;
}

#[tokio::test]
async fn unwritten_claims_survive_a_store_outage() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let book = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(NOW),
        ClaimBookSettings::default(),
    );
    let now = Timestamp::from_millis(NOW + 20_000);
    assert!(book.claim(id_at(NOW + 15_000, 1), now, TTL).await.unwrap());
    store.close().await;
    assert!(book.flush().await.is_err(), "the store is closed");
    assert!(
        !book.claim(id_at(NOW + 15_000, 1), now, TTL).await.unwrap(),
        "still remembered"
    );
    assert!(
        book.flush().await.is_err(),
        "kept for the next attempt, which fails again"
    );
}

/// A batch larger than any one statement of the earlier writer (256 rows), with one id in it
/// twice (answered, then claimed again after its TTL): written in one go, the newer time kept.
async fn a_large_batch_with_a_repeated_id_is_written(store: Store) {
    let book = ClaimBook::new(
        store.clone(),
        Timestamp::from_millis(NOW),
        ClaimBookSettings::default(),
    );
    let first = Timestamp::from_millis(NOW + 20_000);
    for n in 0..1_000 {
        let id = id_at(NOW + 15_000, n);
        assert!(book.claim(id, first, TTL).await.unwrap());
        book.settle(id).await.unwrap();
    }
    // Claimed again once its TTL has passed: pending twice (settled, and unsettled).
    let again = Timestamp::from_millis(NOW + 20_000 + 3_600_001);
    let repeated = id_at(NOW + 15_000, 7);
    assert!(book.claim(repeated, again, TTL).await.unwrap());
    book.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1_000);
    // Another process: the repeated id's claim is the newer one (still within its TTL a
    // minute later); the others are older than the TTL by then.
    let later = Timestamp::from_millis(again.as_millis() + 60_000);
    let next = ClaimBook::new(store.clone(), later, ClaimBookSettings::default());
    assert!(
        !next.claim(repeated, later, TTL).await.unwrap(),
        "the newer claim was kept"
    );
    assert!(
        next.claim(id_at(NOW + 15_000, 8), later, TTL)
            .await
            .unwrap(),
        "an old claim past its TTL"
    );
    assert!(
        !next
            .claim(id_at(NOW + 15_000, 9), first, TTL)
            .await
            .unwrap(),
        "within its TTL at the first time"
    );
}

#[tokio::test]
async fn sqlite_a_large_batch_with_a_repeated_id_is_written() {
    let dir = tempfile::tempdir().unwrap();
    a_large_batch_with_a_repeated_id_is_written(store(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_large_batch_with_a_repeated_id_is_written() {
    common::with_postgres("claim book batch", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        a_large_batch_with_a_repeated_id_is_written(store).await;
    })
    .await;
}
