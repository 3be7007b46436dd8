//! Message and interaction ids already handled.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use troupe_domain::{Duration, MessageId, Timestamp};
use troupe_ports::{ProcessedMessages, StoreError};

use crate::Store;
use crate::backend::{db, from_sql_count, on_pool};

/// Every this many claims, claims older than their TTL are forgotten.
const PURGE_EVERY: u64 = 512;

#[async_trait]
impl ProcessedMessages for Store {
    async fn claim(
        &self,
        id: MessageId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let cutoff = now.minus(ttl).as_millis();
        let claimed: Option<i64> = on_pool!(self.backend(), |pool| {
            // Inserted, or re-claimed because the earlier claim is older than the TTL: a row
            // comes back. Claimed within the TTL: the update is skipped and nothing comes back.
            sqlx::query_scalar(
                "INSERT INTO processed_messages (message_id, claimed_at) VALUES ($1, $2) \
                 ON CONFLICT (message_id) DO UPDATE SET claimed_at = excluded.claimed_at \
                 WHERE processed_messages.claimed_at < $3 RETURNING message_id",
            )
            .bind(id.to_i64())
            .bind(now.as_millis())
            .bind(cutoff)
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        if self.inner.claims.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            on_pool!(self.backend(), |pool| {
                sqlx::query("DELETE FROM processed_messages WHERE claimed_at < $1")
                    .bind(cutoff)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .map_err(db)?;
        }
        Ok(claimed.is_some())
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM processed_messages")
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self.backend(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM processed_messages")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }
}
