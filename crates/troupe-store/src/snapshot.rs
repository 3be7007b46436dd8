//! Pinned read-only snapshots of the store for shadow comparisons (ADR 0015): the
//! [`SnapshotSource`] port over SQLite (WAL) and PostgreSQL.
//!
//! A snapshot is a dedicated connection (its own one-connection pool, so every repository
//! method of [`Store`] runs on it unchanged) inside an open read transaction:
//! - SQLite: `BEGIN` then a first `SELECT` starts the read transaction; in WAL mode it sees the
//!   database as of that moment and never blocks writers. Databases not in WAL mode (an
//!   in-memory database) are refused: there a reader would block the writers.
//! - PostgreSQL: `BEGIN`, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`, then a
//!   first `SELECT` takes the snapshot; it never blocks writers.
//!
//! Connections are reused: at most `max` snapshots at once (more are `Unavailable`, never
//! waited for), and a released snapshot's connection rolls back and goes back to a free list. A
//! snapshot dropped without release discards its connection (the database ends the
//! transaction when the connection closes). The transaction depth is checked at release, so a
//! connection replaced mid-snapshot (an I/O error) is reported instead of silently comparing
//! against live data.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Database;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx_core::transaction::TransactionManager;
use troupe_ports::{Snapshot, SnapshotSource, StoreError, StoreView};

use crate::backend::{Backend, db};
use crate::{Inner, Store};

/// How long pinning may wait for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The snapshot source of a [`Store`]: see the module documentation.
#[derive(Debug, Clone)]
pub struct StoreSnapshots {
    inner: Arc<SnapshotsInner>,
}

#[derive(Debug)]
struct SnapshotsInner {
    store: Store,
    max: usize,
    /// Snapshots pinned now (free connections not counted).
    pinned: AtomicUsize,
    free: Mutex<Vec<Store>>,
    /// Connections opened so far (for tests and diagnostics).
    opened: AtomicU64,
}

impl Store {
    /// A source of pinned read-only snapshots of this store, at most `max` at once.
    pub fn snapshots(&self, max: usize) -> StoreSnapshots {
        StoreSnapshots {
            inner: Arc::new(SnapshotsInner {
                store: self.clone(),
                max: max.max(1),
                pinned: AtomicUsize::new(0),
                free: Mutex::new(Vec::new()),
                opened: AtomicU64::new(0),
            }),
        }
    }
}

impl StoreSnapshots {
    /// Connections opened for snapshots since the source was made (a reused connection is
    /// not counted again).
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    /// Snapshots pinned and not yet released or dropped.
    pub fn pinned(&self) -> usize {
        self.inner.pinned.load(Ordering::Acquire)
    }

    async fn connection(&self) -> Result<Store, StoreError> {
        let reused = self.inner.free.lock().ok().and_then(|mut free| free.pop());
        if let Some(store) = reused {
            return Ok(store);
        }
        let main = &self.inner.store;
        let backend = match main.backend() {
            Backend::Sqlite(pool) => Backend::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .test_before_acquire(false)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with((*pool.connect_options()).clone())
                    .await
                    .map_err(db)?,
            ),
            Backend::Postgres(pool) => Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .test_before_acquire(false)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with((*pool.connect_options()).clone())
                    .await
                    .map_err(db)?,
            ),
        };
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Store {
            inner: Arc::new(Inner {
                reader: backend.clone(),
                backend,
                cipher: main.cipher().clone(),
                claims: AtomicU64::new(0),
                // Its one connection holds the pinned transaction: never closed mid-way.
                relaxed_chatter: false,
                // A snapshot answers from its pinned transaction only: never from a model.
                reads: crate::reads::ReadModel::default(),
            }),
        })
    }
}

/// Starts the read transaction on the connection's only connection and takes the snapshot.
async fn begin_snapshot(store: &Store) -> Result<(), StoreError> {
    match store.backend() {
        Backend::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(db)?;
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Unexpected(format!(
                    "snapshots need a SQLite database in WAL mode (this one is in {mode} mode, e.g. in memory)"
                )));
            }
            <sqlx::Sqlite as Database>::TransactionManager::begin(&mut *conn, None)
                .await
                .map_err(db)?;
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master")
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
        }
        Backend::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(db)?;
            <sqlx::Postgres as Database>::TransactionManager::begin(&mut *conn, None)
                .await
                .map_err(db)?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            sqlx::query_scalar::<_, i32>("SELECT 1")
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
        }
    }
    Ok(())
}

/// Ends the read transaction. `Err` when the connection is no longer the one in the
/// transaction the snapshot began (the snapshot did not hold).
async fn end_snapshot(store: &Store) -> Result<(), StoreError> {
    let broken = || {
        StoreError::Unavailable(
            "the snapshot's connection was replaced: its reads may not be of the snapshot".into(),
        )
    };
    match store.backend() {
        Backend::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(db)?;
            type Tm = <sqlx::Sqlite as Database>::TransactionManager;
            if Tm::get_transaction_depth(&*conn) != 1 {
                return Err(broken());
            }
            Tm::rollback(&mut *conn).await.map_err(db)?;
        }
        Backend::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(db)?;
            type Tm = <sqlx::Postgres as Database>::TransactionManager;
            if Tm::get_transaction_depth(&*conn) != 1 {
                return Err(broken());
            }
            Tm::rollback(&mut *conn).await.map_err(db)?;
        }
    }
    Ok(())
}

#[async_trait]
impl SnapshotSource for StoreSnapshots {
    async fn pin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        let inner = &self.inner;
        if inner
            .pinned
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(StoreError::Unavailable(format!(
                "all {} snapshot connections are in use",
                inner.max
            )));
        }
        // From here the slot is counted: the guard gives it back on every early return.
        let mut pinned = Pinned {
            source: self.clone(),
            store: None,
        };
        let store = self.connection().await?;
        begin_snapshot(&store).await?;
        pinned.store = Some(store);
        Ok(Box::new(pinned))
    }
}

/// A pinned snapshot: one connection in an open read transaction.
struct Pinned {
    source: StoreSnapshots,
    store: Option<Store>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Not released: the connection (and with it the transaction) is discarded.
        self.store = None;
        self.source.inner.pinned.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl Snapshot for Pinned {
    fn view(&self) -> StoreView {
        let store = Arc::new(
            self.store
                .clone()
                .unwrap_or_else(|| self.source.inner.store.clone()),
        );
        StoreView {
            personalities: store.clone(),
            conversations: store.clone(),
            auth: store.clone(),
            preferences: store.clone(),
            processed: store,
        }
    }

    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        let Some(store) = self.store.take() else {
            return Ok(());
        };
        let ended = end_snapshot(&store).await;
        if ended.is_ok()
            && let Ok(mut free) = self.source.inner.free.lock()
        {
            free.push(store);
        }
        ended
    }
}
