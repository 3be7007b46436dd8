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
    /// The event `id`, claimed earlier, has been answered. An implementation that writes its
    /// claims lazily makes this one durable now (a claim written before the answer left would
    /// leave an event unanswered forever if the process died in between). The default does
    /// nothing: claims that are durable when made.
    async fn settle(&self, id: MessageId) -> Result<(), StoreError> {
        let _ = id;
        Ok(())
    }
    /// Forgets every claim; returns how many there were.
    async fn clear(&self) -> Result<u64, StoreError>;
    /// Number of remembered claims.
    async fn count(&self) -> Result<u64, StoreError>;
}
