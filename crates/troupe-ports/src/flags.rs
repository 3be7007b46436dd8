use async_trait::async_trait;
use troupe_domain::Timestamp;

use crate::StoreError;

/// A runtime flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFlag {
    pub name: String,
    pub value: bool,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

/// A change to apply: `value: None` removes the runtime value (environment/default apply again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub name: String,
    pub value: Option<bool>,
    pub actor: String,
    pub reason: String,
    pub at: Timestamp,
}

/// One audit log line: who changed what, when, from what to what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagAuditEntry {
    pub name: String,
    pub old: Option<bool>,
    pub new: Option<bool>,
    pub actor: String,
    pub reason: String,
    pub at: Timestamp,
}

/// Runtime flag values, shared by every process using the same store, with an audit log.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FlagStore: Send + Sync {
    /// Every stored runtime value.
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError>;
    /// Applies a change and appends it to the audit log in one step; returns the old value.
    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError>;
    /// The newest `limit` audit entries, newest first.
    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError>;
    /// A number that grows with every committed flag change, in commit order (cheap change
    /// detection: a poller that sees the same number has missed nothing).
    async fn version(&self) -> Result<u64, StoreError>;
    /// Notifications of flag changes committed by any process, when the store can push them
    /// (PostgreSQL `LISTEN`/`NOTIFY`); `None` when it cannot (poll [`Self::version`]).
    /// Notifications only wake a reader early: polling stays the safety net.
    async fn subscribe(&self) -> Result<Option<Box<dyn FlagNotifications>>, StoreError> {
        Ok(None)
    }
}

/// A live subscription to flag changes (see [`FlagStore::subscribe`]).
#[async_trait]
pub trait FlagNotifications: Send {
    /// Waits until a flag change may have been committed. An error means the subscription is
    /// broken (e.g. the connection was lost); subscribe again later.
    async fn changed(&mut self) -> Result<(), StoreError>;
}
