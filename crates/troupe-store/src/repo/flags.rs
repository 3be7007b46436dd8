//! Runtime flag values with their audit log.

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use troupe_ports::{
    FlagAuditEntry, FlagChange, FlagNotifications, FlagStore, StoreError, StoredFlag,
};

use crate::Store;
use crate::backend::{Backend, WritePool as _, db, from_sql_count, on_pool, to_sql_int};
use crate::rows;

#[async_trait]
impl FlagStore for Store {
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError> {
        let found: Vec<(String, bool, String, i64)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as("SELECT name, value, updated_by, updated_at FROM flags ORDER BY name")
                .fetch_all(pool)
                .await
        })
        .map_err(db)?;
        Ok(found
            .into_iter()
            .map(|(name, value, updated_by, at)| StoredFlag {
                name,
                value,
                updated_by,
                updated_at: rows::ts(at),
            })
            .collect())
    }

    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError> {
        on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let old: Option<bool> = sqlx::query_scalar("SELECT value FROM flags WHERE name = $1")
                .bind(change.name.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            match change.value {
                Some(value) => sqlx::query(
                    "INSERT INTO flags (name, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                     updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                )
                .bind(change.name.as_str())
                .bind(value)
                .bind(change.actor.as_str())
                .bind(change.at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?,
                None => sqlx::query("DELETE FROM flags WHERE name = $1")
                    .bind(change.name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?,
            };
            sqlx::query(
                "INSERT INTO flag_audit (name, old_value, new_value, actor, reason, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(change.name.as_str())
            .bind(old)
            .bind(change.value)
            .bind(change.actor.as_str())
            .bind(change.reason.as_str())
            .bind(change.at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(old)
        })
    }

    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        let found: Vec<(String, Option<bool>, Option<bool>, String, String, i64)> =
            on_pool!(self.reader(), |pool| {
                sqlx::query_as(
                    "SELECT name, old_value, new_value, actor, reason, at FROM flag_audit \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(to_sql_int(limit))
                .fetch_all(pool)
                .await
            })
            .map_err(db)?;
        Ok(found
            .into_iter()
            .map(|(name, old, new, actor, reason, at)| FlagAuditEntry {
                name,
                old,
                new,
                actor,
                reason,
                at: rows::ts(at),
            })
            .collect())
    }

    /// The counter row of migration 0016: bumped by a trigger in the transaction that appends
    /// the audit entry, so committed values grow in commit order (not `MAX(id)`: ids are taken
    /// before commit, out of commit order).
    async fn version(&self) -> Result<u64, StoreError> {
        let v: i64 = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT version FROM flag_version WHERE id = 1")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(v))
    }

    /// PostgreSQL: `LISTEN troupe_flags` (the trigger of migration 0016 notifies it at commit)
    /// on a connection of the pool. SQLite: `None` (one host; polling the counter is cheap).
    async fn subscribe(&self) -> Result<Option<Box<dyn FlagNotifications>>, StoreError> {
        let Backend::Postgres(pool) = self.backend() else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool).await.map_err(db)?;
        listener.listen(FLAG_CHANNEL).await.map_err(db)?;
        Ok(Some(Box::new(PgFlagNotifications { listener })))
    }
}

/// The channel the flag trigger notifies (migration 0016).
const FLAG_CHANNEL: &str = "troupe_flags";

struct PgFlagNotifications {
    listener: PgListener,
}

#[async_trait]
impl FlagNotifications for PgFlagNotifications {
    async fn changed(&mut self) -> Result<(), StoreError> {
        // `None`: the connection was lost (and is re-established); a notification may have been
        // lost with it, so report a possible change and let the reader re-read the version.
        self.listener.try_recv().await.map(|_| ()).map_err(db)
    }
}
