//! Troupe's storage adapter: the repositories of every storage port (personalities,
//! conversations, auth, preferences, processed messages, runtime flags, gateway sessions, shared
//! rate limits) on SQLite (the embedded default: one file, WAL, foreign keys) and PostgreSQL (for
//! larger or multi-process deployments), chosen by the database URL; the migrations of both; tokens encrypted at rest;
//! verified backups, restore, the integrity check, and the import of the original bot's JSON
//! files.
//!
//! This is the only crate that sees sqlx. It knows the domain and the ports and nothing of
//! Discord, the AI provider or HTTP. sqlx errors are mapped to [`StoreError`] in private
//! functions; a token never appears in a log line or an error.

mod backend;
mod crypto;
mod migrations;
mod reads;
mod repo;
mod rows;
mod snapshot;

pub mod maintenance;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub use backend::{BackendKind, Durability};
pub use crypto::{TokenKey, TokenKeyError};
pub use maintenance::{
    BackupFormat, BackupManifest, CheckReport, FileReport, ImportReport, MaintenanceError, Pace,
    RestoreReport, VerifiedBackup, Violation, import_legacy, import_legacy_with, prune_backups,
    remove_stale_partials,
};
pub use migrations::SchemaStatus;
pub use reads::ReadModelFeed;
pub use repo::{ClaimBook, ClaimBookSettings, ReencryptReport};
pub use snapshot::StoreSnapshots;
pub use troupe_ports::StoreError;

use backend::{Backend, ConnectSettings};
use crypto::TokenCipher;
use reads::ReadModel;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The key that encrypts tokens (`TROUPE_TOKEN_KEY`). Without it tokens can be neither
    /// stored nor read; everything else works.
    pub token_key: Option<TokenKey>,
    /// Earlier keys, still accepted for decryption during a key rotation.
    pub previous_token_keys: Vec<TokenKey>,
    /// Pool size; defaults to 8 for PostgreSQL. For a SQLite file, the number of read-only
    /// connections beside the one that writes (default 3; ADR 0034).
    pub max_connections: Option<u32>,
    /// SQLite's durability per kind of write (ADR 0035; default [`Durability::PerOperation`]).
    /// PostgreSQL always commits durably.
    pub durability: Durability,
    /// How long a SQLite writer waits for the write lock, and how long a caller waits for a
    /// PostgreSQL connection (also when connecting), before `Unavailable`.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            token_key: None,
            previous_token_keys: Vec::new(),
            max_connections: None,
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A SQLite or PostgreSQL store implementing every storage port. Cheap to clone (one shared
/// pool); use it as `Arc<dyn Port>` for each port.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where writes (and reads inside them) go.
    backend: Backend,
    /// Where plain reads go: read-only connections beside the writer on a SQLite file, the
    /// same pool otherwise (ADR 0034).
    reader: Backend,
    cipher: TokenCipher,
    claims: AtomicU64,
    /// Chatter commits without waiting for the disk (ADR 0035).
    relaxed_chatter: bool,
    /// The hot reads served from memory (ADR 0031); off until [`Store::start_read_model`].
    reads: ReadModel,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .field("token_key_id", &self.inner.cipher.current_key_id())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to the database the URL names: `sqlite://path/to/troupe.db` (the file is
    /// created when missing; `sqlite::memory:` for a throw-away store) or
    /// `postgres://user@host/database`. Does not migrate: call [`Self::migrate`] (or use
    /// [`Self::open`]). An unreachable server is `Unavailable`; a malformed or unsupported URL
    /// is `Unexpected` (the URL itself is never echoed: it may hold a password).
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let pools = backend::connect(
            url,
            ConnectSettings {
                max_connections: options.max_connections,
                durability: options.durability,
                busy_timeout: options.busy_timeout,
            },
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                backend: pools.writer,
                reader: pools.readers,
                cipher: TokenCipher::new(options.token_key, options.previous_token_keys),
                claims: AtomicU64::new(0),
                relaxed_chatter: pools.relaxed_chatter,
                reads: ReadModel::default(),
            }),
        })
    }

    /// [`Self::connect`] then [`Self::migrate`].
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let store = Self::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations of this backend that are not applied yet. Refuses (and
    /// changes nothing) when the database has a migration this build does not know.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::run(&self.inner.backend).await
    }

    /// The newest migration applied to the database (0 when none).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        migrations::applied_version(&self.inner.backend).await
    }

    /// Where the database's schema stands against this build: applied, pending, newer.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        migrations::status(&self.inner.backend).await
    }

    /// The newest migration this build knows.
    pub fn latest_schema_version() -> i64 {
        migrations::LATEST
    }

    /// Which database this store uses.
    pub fn kind(&self) -> BackendKind {
        self.inner.backend.kind()
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.inner.reader.close().await;
        self.inner.backend.close().await;
    }

    /// The pool for writes, and for reads that must see the same connection's state.
    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The pool for plain reads (one statement, no transaction): never waits behind a write.
    /// Whether chatter writes relax `synchronous` ([`backend::ChatterConnection`], ADR 0035).
    pub(crate) fn relaxed_chatter(&self) -> bool {
        self.inner.relaxed_chatter
    }

    pub(crate) fn reader(&self) -> &Backend {
        &self.inner.reader
    }

    pub(crate) fn cipher(&self) -> &TokenCipher {
        &self.inner.cipher
    }

    pub(crate) fn reads(&self) -> &ReadModel {
        &self.inner.reads
    }
}
