//! The flag watcher's step (issue 11): a store outage is logged once when it starts and once when
//! it ends, not at every 250 ms poll, the last values stay in force meanwhile, and a change
//! committed during the outage is applied at recovery; flag changes log values as
//! true/false/unset.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use troupe_application::flags::{EnvFlags, FlagName, Flags, WatchHealth};
use troupe_domain::Timestamp;
use troupe_ports::{FlagAuditEntry, FlagChange, FlagStore, StoreError, StoredFlag};
use troupe_testkit::Stores;

/// A flag store that can be switched off.
struct Flaky {
    inner: Arc<dyn FlagStore>,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl FlagStore for Flaky {
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError> {
        self.check()?;
        self.inner.values().await
    }
    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError> {
        self.check()?;
        self.inner.apply(change).await
    }
    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        self.check()?;
        self.inner.audit(limit).await
    }
    async fn version(&self) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.version().await
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_and_its_end_once_and_a_change_made_meanwhile_is_applied() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (stores, _) = Stores::in_memory();
    let shared = stores.flags;
    let flaky = Arc::new(Flaky {
        inner: Arc::clone(&shared),
        down: AtomicBool::new(false),
    });
    let flags = Flags::load(EnvFlags::default(), BTreeMap::new(), flaky.clone())
        .await
        .unwrap();
    let mut health = WatchHealth::default();
    assert!(!flags.watch_step(&mut health).await, "nothing changed");

    flaky.down.store(true, Ordering::SeqCst);
    // Another process rolls back while this one cannot reach the store.
    let other = Flags::load(EnvFlags::default(), BTreeMap::new(), Arc::clone(&shared))
        .await
        .unwrap();
    other
        .change(
            "ddd.commands.enabled",
            Some(true),
            "ops",
            "stage 1",
            Timestamp::from_millis(1),
        )
        .await
        .unwrap();
    for _ in 0..40 {
        assert!(!flags.watch_step(&mut health).await);
        assert!(health.is_down());
        assert!(
            !flags.snapshot().get(FlagName::Enabled),
            "the last values stay in force"
        );
    }
    flaky.down.store(false, Ordering::SeqCst);
    assert!(flags.watch_step(&mut health).await, "the change is applied");
    assert!(flags.snapshot().get(FlagName::Enabled));
    assert!(!health.is_down());
    assert!(!flags.watch_step(&mut health).await);

    let logged = logs.text();
    assert_eq!(
        logged.matches("cannot refresh feature flags").count(),
        1,
        "{logged}"
    );
    assert_eq!(logged.matches("answers again").count(), 1, "{logged}");
    assert!(logged.contains("connection refused"), "{logged}");
    // The change itself was logged with a plain value.
    assert!(
        logged.contains("value=\"true\"") || logged.contains("value=true"),
        "{logged}"
    );
    assert!(!logged.contains("Some("), "{logged}");
}

#[tokio::test]
async fn each_applied_version_is_told_to_the_listeners_once_whoever_changed_it() {
    let (stores, _) = Stores::in_memory();
    let shared = stores.flags;
    let flags = Flags::load(EnvFlags::default(), BTreeMap::new(), Arc::clone(&shared))
        .await
        .unwrap();
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&told);
    flags.on_applied(move |version| sink.lock().unwrap().push(version));
    let mut health = WatchHealth::default();
    assert!(!flags.watch_step(&mut health).await);
    assert!(
        told.lock().unwrap().is_empty(),
        "nothing applied, nothing told"
    );

    // A change through these flags is applied (and told) at once.
    flags
        .change(
            "ddd.commands.enabled",
            Some(true),
            "ops",
            "stage 1",
            Timestamp::from_millis(1),
        )
        .await
        .unwrap();
    let first = flags.version().expect("a version in force");
    assert_eq!(*told.lock().unwrap(), vec![first]);

    // Another process's change is told when the watcher applies it.
    let other = Flags::load(EnvFlags::default(), BTreeMap::new(), Arc::clone(&shared))
        .await
        .unwrap();
    other
        .change(
            "ddd.commands.enabled",
            Some(false),
            "ops",
            "rollback",
            Timestamp::from_millis(2),
        )
        .await
        .unwrap();
    assert!(flags.watch_step(&mut health).await);
    let second = flags.version().expect("a version in force");
    assert!(second > first);
    assert_eq!(*told.lock().unwrap(), vec![first, second]);
    assert!(!flags.watch_step(&mut health).await);
    assert_eq!(told.lock().unwrap().len(), 2, "told once per version");
}
