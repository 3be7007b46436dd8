//! The bot's flag watcher (`troupe::wiring::watch_flags`, issue 11): on PostgreSQL a change
//! another process commits is applied through LISTEN/NOTIFY — the poll interval here is an hour,
//! so only the notification can deliver it; on SQLite the poll applies it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use troupe_application::flags::{EnvFlags, FlagName, Flags};
use troupe_domain::Timestamp;
use troupe_ports::{
    FlagAuditEntry, FlagChange, FlagNotifications, FlagStore, StoreError, StoredFlag,
};
use troupe_store::{Store, StoreOptions};
use troupe_testkit::postgres::Database;

/// The store, saying when the watcher's subscription is live and counting version reads.
struct Observed {
    store: Store,
    subscribed: Arc<Notify>,
    version_reads: Arc<AtomicUsize>,
}

#[async_trait]
impl FlagStore for Observed {
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError> {
        self.store.values().await
    }
    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError> {
        self.store.apply(change).await
    }
    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        self.store.audit(limit).await
    }
    async fn version(&self) -> Result<u64, StoreError> {
        let version = self.store.version().await;
        self.version_reads.fetch_add(1, Ordering::SeqCst);
        version
    }
    async fn subscribe(&self) -> Result<Option<Box<dyn FlagNotifications>>, StoreError> {
        let live = self.store.subscribe().await;
        self.subscribed.notify_one();
        live
    }
}

/// Starts a watcher over `url` polling every `every`; returns its flags once it subscribed.
async fn watcher(url: &str, every: Duration) -> Arc<Flags> {
    let subscribed = Arc::new(Notify::new());
    let version_reads = Arc::new(AtomicUsize::new(0));
    let port: Arc<dyn FlagStore> = Arc::new(Observed {
        store: Store::open(url, StoreOptions::default()).await.unwrap(),
        subscribed: Arc::clone(&subscribed),
        version_reads: Arc::clone(&version_reads),
    });
    let flags = Arc::new(
        Flags::load(EnvFlags::default(), BTreeMap::new(), Arc::clone(&port))
            .await
            .unwrap(),
    );
    tokio::spawn(troupe::wiring::watch_flags(Arc::clone(&flags), port, every));
    tokio::time::timeout(Duration::from_secs(10), subscribed.notified())
        .await
        .expect("the watcher subscribes at start");
    // Its first poll (at start) is done too: what follows can only arrive by notification or by
    // a later poll. Reads: one by `Flags::load`, one by the first poll.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while version_reads.load(Ordering::SeqCst) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the first poll ran");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    flags
}

/// Another process's emergency rollback.
async fn rollback_elsewhere(url: &str) {
    let other = Arc::new(Store::open(url, StoreOptions::default()).await.unwrap());
    Flags::load(EnvFlags::default(), BTreeMap::new(), other)
        .await
        .unwrap()
        .change(
            "ddd.commands.enabled",
            Some(true),
            "ops",
            "stage 1",
            Timestamp::from_millis(1),
        )
        .await
        .unwrap();
}

async fn applied(flags: &Flags) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if flags.snapshot().get(FlagName::Enabled) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_change_committed_elsewhere_is_applied_by_notification_not_by_the_poll() {
    let Some(db) = Database::create("troupe_watch") else {
        eprintln!("PostgreSQL watcher test SKIPPED: set TROUPE_TEST_POSTGRES_URL and install psql");
        return;
    };
    let url = db.url();
    // An hour between polls: only the notification can deliver the change within the deadline.
    let flags = watcher(&url, Duration::from_secs(3600)).await;
    assert!(!flags.snapshot().get(FlagName::Enabled));
    rollback_elsewhere(&url).await;
    assert!(applied(&flags).await, "applied through LISTEN/NOTIFY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_change_committed_elsewhere_is_applied_by_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("troupe.db").display());
    let flags = watcher(&url, Duration::from_millis(50)).await;
    rollback_elsewhere(&url).await;
    assert!(applied(&flags).await, "applied by the poll");
}
