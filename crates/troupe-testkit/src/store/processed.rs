//! `ProcessedMessages` over the in-memory state.

use async_trait::async_trait;
use troupe_domain::{Duration, MessageId, Timestamp};
use troupe_ports::{ProcessedMessages, StoreError};

use super::InMemoryStore;

#[async_trait]
impl ProcessedMessages for InMemoryStore {
    /// A claim older than `ttl` counts as forgotten: claiming again succeeds and restarts it.
    /// Nothing is forgotten otherwise (only `clear` empties the store).
    async fn claim(
        &self,
        id: MessageId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.write(|s| {
            let within_ttl = s.claims.get(&id).is_some_and(|at| now.since(*at) <= ttl);
            if !within_ttl {
                s.claims.insert(id, now);
            }
            Ok(!within_ttl)
        })
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        self.write(|s| {
            let count = s.claims.len() as u64;
            s.claims.clear();
            Ok(count)
        })
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.read(|s| s.claims.len() as u64)
    }
}
