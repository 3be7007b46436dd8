use async_trait::async_trait;
use troupe_domain::{Duration, MessageId, Timestamp};

use crate::StoreError;

/// Message and interaction ids already handled, so a duplicate never gets a second reply
/// (also across reconnects and restarts when the implementation is persistent).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ProcessedMessages: Send + Sync {
    /// Claims `id` at `now`: `true` the first time, `false` when it was claimed within `ttl`.
    /// Claims older than `ttl` may be forgotten.
    async fn claim(&self, id: MessageId, now: Timestamp, ttl: Duration)
    -> Result<bool, StoreError>;
    /// Forgets every claim; returns how many there were.
    async fn clear(&self) -> Result<u64, StoreError>;
    /// Number of remembered claims.
    async fn count(&self) -> Result<u64, StoreError>;
}
