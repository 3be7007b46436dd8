//! The two sqlx backends behind one [`Store`](crate::Store): connection set-up, transactions,
//! and the mapping of sqlx errors to port errors.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgPool, Postgres, SqlSafeStr as _, Sqlite, SqlitePool, Transaction};
use troupe_ports::StoreError;

/// Which database a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard SQLite works to keep a committed transaction across a power loss (ADR 0035).
/// Every setting survives a crash of the process; they differ on a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL` for every commit: each one survives a power loss.
    Full,
    /// The default. `synchronous = FULL` for settings (personalities, aliases, flags, tokens,
    /// preferences, activations) and for the claims that keep a message from being answered
    /// twice; `synchronous = NORMAL` for chatter (a conversation's history and state, the map
    /// of the personalities' messages), which commits without waiting for the disk: it becomes
    /// durable with the next durable commit or checkpoint, and a power loss may take the last
    /// exchanges before it.
    #[default]
    PerOperation,
    /// `synchronous = NORMAL` (with WAL) for every commit: the last transactions may be lost on
    /// a power loss. Fastest commits.
    Normal,
}

impl Durability {
    /// `full`, `per-operation` or `normal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::PerOperation => "per-operation",
            Self::Normal => "normal",
        }
    }
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "per-operation" => Ok(Self::PerOperation),
            "normal" => Ok(Self::Normal),
            _ => Err("must be full, per-operation or normal".to_owned()),
        }
    }
}

/// The SQLite writer's connection for one chatter write (ADR 0035): under
/// [`Durability::PerOperation`] it commits with `synchronous = NORMAL` and goes back to the
/// pool at `FULL`; a write dropped or failed before that closes the connection instead, so no
/// later write inherits the relaxed setting. Elsewhere it is the plain writer connection.
pub(crate) struct ChatterConnection {
    conn: PoolConnection<Sqlite>,
    relaxed: bool,
}

impl ChatterConnection {
    /// The writer's connection, relaxed when `relax` (a SQLite file under `PerOperation`).
    pub(crate) async fn acquire(pool: &SqlitePool, relax: bool) -> Result<Self, StoreError> {
        let conn = pool.acquire().await.map_err(db)?;
        let mut this = Self {
            conn,
            relaxed: relax,
        };
        if relax {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *this.conn)
                .await
                .map_err(db)?;
        }
        Ok(this)
    }

    /// A write transaction on it (`BEGIN IMMEDIATE`).
    pub(crate) async fn begin(&mut self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        Transaction::begin(&mut *self.conn, Some("BEGIN IMMEDIATE".into_sql_str()))
            .await
            .map_err(db)
    }

    /// Restores `synchronous = FULL` and returns the connection to the pool.
    pub(crate) async fn release(mut self) -> Result<(), StoreError> {
        if self.relaxed {
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut *self.conn)
                .await
                .map_err(db)?;
            self.relaxed = false;
        }
        Ok(())
    }
}

impl std::ops::Deref for ChatterConnection {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for ChatterConnection {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for ChatterConnection {
    fn drop(&mut self) {
        if self.relaxed {
            // Still at `NORMAL` (cancelled, or a statement failed): a fresh connection opens
            // at `FULL`, this one is not reused.
            self.conn.close_on_drop();
        }
    }
}

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Self::Sqlite(_) => BackendKind::Sqlite,
            Self::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool of the store's backend. The body is
/// written once and compiled once per backend, so the SQL text (with `$1` placeholders, which
/// SQLite accepts too) is shared.
macro_rules! on_pool {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::backend::Backend::Sqlite($pool) => $body,
            $crate::backend::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Write transactions, per backend.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    /// A transaction that will write. SQLite takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a read-then-write transaction never fails on a lock upgrade.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, StoreError>;
    /// A write transaction over the personality registry (names and aliases): serialised with
    /// every other registry write, so cross-table rules (an alias never equals a name) hold
    /// under concurrency. SQLite serialises all writes anyway; PostgreSQL takes an advisory lock.
    async fn begin_registry(&self) -> Result<Transaction<'static, Self::Db>, StoreError>;
}

/// The advisory lock key of registry writes on PostgreSQL.
const REGISTRY_LOCK: i64 = 0x7472_6f75_7065; // "troupe"

impl WritePool for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
    async fn begin_registry(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.begin_write().await
    }
}

impl WritePool for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.begin().await.map_err(db)
    }
    async fn begin_registry(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(REGISTRY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(tx)
    }
}

/// Settings of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectSettings {
    pub max_connections: Option<u32>,
    pub durability: Durability,
    pub busy_timeout: Duration,
}

/// The pools of one store: writes go to `writer`, reads that need no transaction may go to
/// `readers`. On a SQLite file they are two pools (ADR 0034): one connection that writes, so
/// the process's writes queue in the pool instead of sleeping in SQLite's busy handler, and
/// read-only connections beside it (WAL lets them read while the writer commits). Everywhere
/// else (`:memory:`, PostgreSQL) both are the same pool.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    pub writer: Backend,
    pub readers: Backend,
    /// Chatter commits without waiting for the disk ([`ChatterConnection`]): a SQLite file
    /// under [`Durability::PerOperation`].
    pub relaxed_chatter: bool,
}

/// Readers of a SQLite file when the options do not say: with the one writer, the four
/// connections the pool had before ADR 0034.
const SQLITE_READERS: u32 = 3;

/// The page cache of each reader, in KiB (SQLite's `-N` form): hot reads come from the read
/// model (ADR 0031), so readers serve list pages, histories and tokens; SQLite's default is
/// 2,000 KiB per connection.
const READER_CACHE_SIZE: &str = "-512";

/// Opens the pools the URL names: `sqlite://path` (created when missing) or
/// `postgres://…` / `postgresql://…`.
pub(crate) async fn connect(url: &str, settings: ConnectSettings) -> Result<Pools, StoreError> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| {
                    StoreError::Unexpected(format!("invalid SQLite database URL: {}", redact(&e)))
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match settings.durability {
                    Durability::Full | Durability::PerOperation => SqliteSynchronous::Full,
                    Durability::Normal => SqliteSynchronous::Normal,
                })
                .busy_timeout(settings.busy_timeout)
                .foreign_keys(true);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            // No ping before each use: a broken connection surfaces as `Unavailable` and the
            // pool replaces it; the ping would cost a round trip on every query.
            let pool = || {
                SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .acquire_timeout(settings.busy_timeout + Duration::from_secs(5))
            };
            if in_memory {
                // Every connection to `:memory:` is a database of its own: keep the one alive,
                // and let it both write and read.
                let writer = pool()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
                    .map_err(db)?;
                let writer = Backend::Sqlite(writer);
                return Ok(Pools {
                    readers: writer.clone(),
                    writer,
                    // Nothing of `:memory:` reaches a disk, and its one connection must not
                    // be closed.
                    relaxed_chatter: false,
                });
            }
            // The writer connects first: it creates the file and turns WAL on.
            let writer = pool()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(db)?;
            // `query_only` rather than a read-only open: a read-only connection cannot create
            // the WAL index when the writer has closed it, and a write sent here by mistake
            // fails loudly ("attempt to write a readonly database") instead of taking the lock.
            let readers = pool()
                .max_connections(settings.max_connections.unwrap_or(SQLITE_READERS).max(1))
                .connect_lazy_with(
                    options
                        .pragma("query_only", "ON")
                        .pragma("cache_size", READER_CACHE_SIZE),
                );
            Ok(Pools {
                writer: Backend::Sqlite(writer),
                readers: Backend::Sqlite(readers),
                relaxed_chatter: settings.durability == Durability::PerOperation,
            })
        }
        "postgres" | "postgresql" => {
            let options = PgConnectOptions::from_str(url).map_err(|e| {
                StoreError::Unexpected(format!("invalid PostgreSQL database URL: {}", redact(&e)))
            })?;
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(settings.max_connections.unwrap_or(8).max(1))
                .acquire_timeout(settings.busy_timeout)
                .connect_with(options)
                .await
                .map_err(db)?;
            let pool = Backend::Postgres(pool);
            Ok(Pools {
                readers: pool.clone(),
                writer: pool,
                relaxed_chatter: false,
            })
        }
        _ => Err(StoreError::Unexpected(format!(
            "unsupported database URL scheme {scheme:?}: use sqlite://<path> or postgres://<host>/<database>"
        ))),
    }
}

/// The kind of a URL-parse error, without echoing the URL (it may hold a password).
fn redact(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Configuration(_) => "the URL could not be parsed",
        _ => "the URL is not valid",
    }
}

/// Maps a sqlx error to a port error: connection problems and lock contention are
/// `Unavailable` (a retry may succeed), everything else `Unexpected`. Unique and foreign-key
/// violations are mapped by the callers that expect them (see [`violation`]).
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) if is_transient(d.code().as_deref()) => {
            StoreError::Unavailable(d.message().to_owned())
        }
        sqlx::Error::Database(d) => StoreError::Unexpected(format!(
            "database error {}: {}",
            d.code().unwrap_or_default(),
            d.message()
        )),
        _ => StoreError::Unexpected(e.to_string()),
    }
}

/// SQLite busy/locked (primary codes 5 and 6, any extended code); PostgreSQL connection
/// exceptions (class 08), serialization failures, deadlocks, shutdowns and too many connections.
fn is_transient(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    if let Ok(n) = code.parse::<i32>() {
        return matches!(n & 0xff, 5 | 6);
    }
    code.starts_with("08")
        || matches!(
            code,
            "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
        )
}

/// A constraint violation the caller can turn into an expected error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    ForeignKey,
}

/// Which constraint a database error violated, if any.
pub(crate) fn violation(e: &sqlx::Error) -> Option<Violation> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Some(Violation::Unique),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => Some(Violation::ForeignKey),
        _ => None,
    }
}

/// Converts a count or offset to the `i64` SQL takes (saturating).
pub(crate) fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts a count SQL returned to `u64` (negative counts cannot happen; they become 0).
pub(crate) fn from_sql_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    async fn file_store(dir: &tempfile::TempDir, durability: Durability) -> Pools {
        let url = format!("sqlite://{}", dir.path().join("chatter.db").display());
        connect(
            &url,
            ConnectSettings {
                max_connections: None,
                durability,
                busy_timeout: Duration::from_secs(5),
            },
        )
        .await
        .unwrap()
    }

    fn writer(pools: &Pools) -> &SqlitePool {
        match &pools.writer {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(_) => unreachable!("a SQLite URL"),
        }
    }

    /// `1` is NORMAL, `2` is FULL.
    #[tokio::test]
    async fn a_chatter_write_commits_relaxed_and_hands_the_writer_back_at_full() {
        let dir = tempfile::tempdir().unwrap();
        let pools = file_store(&dir, Durability::PerOperation).await;
        assert!(pools.relaxed_chatter);
        let pool = writer(&pools);

        let mut conn = ChatterConnection::acquire(pool, true).await.unwrap();
        assert_eq!(synchronous(&mut conn).await, 1);
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        conn.release().await.unwrap();

        let mut next = pool.acquire().await.unwrap();
        assert_eq!(synchronous(&mut next).await, 2);
    }

    /// A chatter write dropped half-way (a cancelled task, a failed statement) must not leave
    /// the one writer relaxed for the settings written after it.
    #[tokio::test]
    async fn a_chatter_write_dropped_before_its_end_closes_the_relaxed_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pools = file_store(&dir, Durability::PerOperation).await;
        let pool = writer(&pools);

        let mut conn = ChatterConnection::acquire(pool, true).await.unwrap();
        let tx = conn.begin().await.unwrap();
        drop(tx);
        drop(conn);

        let mut next = pool.acquire().await.unwrap();
        assert_eq!(synchronous(&mut next).await, 2);
        // The dropped transaction did not stay open on the writer either.
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *next)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn full_and_normal_apply_to_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let full = file_store(&dir, Durability::Full).await;
        assert!(!full.relaxed_chatter);
        let mut conn = ChatterConnection::acquire(writer(&full), full.relaxed_chatter)
            .await
            .unwrap();
        assert_eq!(synchronous(&mut conn).await, 2);
        conn.release().await.unwrap();
        full.writer.close().await;
        full.readers.close().await;

        let normal = file_store(&dir, Durability::Normal).await;
        assert!(!normal.relaxed_chatter);
        let mut conn = writer(&normal).acquire().await.unwrap();
        assert_eq!(synchronous(&mut conn).await, 1);
    }

    #[test]
    fn durability_reads_its_three_names_and_refuses_others() {
        for d in [
            Durability::Full,
            Durability::PerOperation,
            Durability::Normal,
        ] {
            assert_eq!(d.as_str().parse::<Durability>(), Ok(d));
        }
        assert_eq!(" FULL ".parse::<Durability>(), Ok(Durability::Full));
        assert!("fsync".parse::<Durability>().is_err());
        assert_eq!(Durability::default(), Durability::PerOperation);
    }
}
