//! Gateway sessions left for the next process, and rate limits shared by every process.

use std::ops::Range;

use async_trait::async_trait;
use troupe_domain::{Duration, Timestamp};
use troupe_ports::{GatewaySessions, SharedRateLimit, StoreError, StoredSession};

use crate::Store;
use crate::backend::{Backend, WritePool as _, db, on_pool};

type SessionRow = (i64, i64, String, i64, Option<String>, i64);

#[async_trait]
impl GatewaySessions for Store {
    async fn save_session(&self, session: &StoredSession) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO gateway_sessions \
                 (shard_id, shard_total, session_id, sequence, resume_url, saved_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (shard_id, shard_total) DO UPDATE SET \
                 session_id = excluded.session_id, sequence = excluded.sequence, \
                 resume_url = excluded.resume_url, saved_at = excluded.saved_at",
            )
            .bind(i64::from(session.shard))
            .bind(i64::from(session.total))
            .bind(&session.session_id)
            .bind(i64::try_from(session.sequence).unwrap_or(i64::MAX))
            .bind(session.resume_url.as_deref())
            .bind(session.saved_at.as_millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db)
    }

    async fn take_sessions(
        &self,
        total: u32,
        shards: Range<u32>,
        not_before: Timestamp,
    ) -> Result<Vec<StoredSession>, StoreError> {
        let rows: Vec<SessionRow> = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query_as(
                "DELETE FROM gateway_sessions \
                 WHERE shard_total = $1 AND shard_id >= $2 AND shard_id < $3 \
                 RETURNING shard_id, shard_total, session_id, sequence, resume_url, saved_at",
            )
            .bind(i64::from(total))
            .bind(i64::from(shards.start))
            .bind(i64::from(shards.end))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok::<_, StoreError>(rows)
        })?;
        let mut sessions: Vec<StoredSession> = rows
            .into_iter()
            .filter(|row| row.5 >= not_before.as_millis())
            .map(
                |(shard, total, session_id, sequence, resume_url, saved_at)| StoredSession {
                    shard: u32::try_from(shard).unwrap_or(u32::MAX),
                    total: u32::try_from(total).unwrap_or(u32::MAX),
                    session_id,
                    sequence: u64::try_from(sequence).unwrap_or(0),
                    resume_url,
                    saved_at: Timestamp::from_millis(saved_at),
                },
            )
            .collect();
        sessions.sort_by_key(|s| s.shard);
        Ok(sessions)
    }
}

/// "Now" in microseconds of the database's clock (one clock for every process).
pub(crate) const NOW_SQLITE: &str =
    "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";
pub(crate) const NOW_POSTGRES: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT";

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Takes the free slot of `key` used longest ago, if one is free (`Some(slot)`).
async fn take_slot(
    backend: &Backend,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<i64>, StoreError> {
    let taken: Option<i64> = match backend {
        Backend::Sqlite(pool) => {
            // One statement: SQLite runs it under its write lock, so no two processes take the
            // same slot.
            let sql = format!(
                "UPDATE rate_limit_slots SET taken_at = {NOW_SQLITE} \
                 WHERE key = $1 AND slot = (SELECT slot FROM rate_limit_slots \
                 WHERE key = $1 AND slot < $2 AND taken_at <= {NOW_SQLITE} - $3 \
                 ORDER BY taken_at LIMIT 1) RETURNING slot"
            );
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(i64::from(limit))
                .bind(micros(window))
                .fetch_optional(pool)
                .await
                .map_err(db)?
        }
        Backend::Postgres(pool) => {
            // SKIP LOCKED: concurrent takers each get a different free slot without waiting.
            let sql = format!(
                "UPDATE rate_limit_slots SET taken_at = {NOW_POSTGRES} \
                 WHERE key = $1 AND slot = (SELECT slot FROM rate_limit_slots \
                 WHERE key = $1 AND slot < $2 AND taken_at <= {NOW_POSTGRES} - $3 \
                 ORDER BY taken_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot"
            );
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(i64::from(limit))
                .bind(micros(window))
                .fetch_optional(pool)
                .await
                .map_err(db)?
        }
    };
    Ok(taken)
}

/// How long until the oldest slot of `key` is free, `None` when the key has no slots yet.
async fn next_free(
    backend: &Backend,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>, StoreError> {
    let now = match backend {
        Backend::Sqlite(_) => NOW_SQLITE,
        Backend::Postgres(_) => NOW_POSTGRES,
    };
    let sql = format!(
        "SELECT MIN(taken_at) + $3 - {now} FROM rate_limit_slots WHERE key = $1 AND slot < $2"
    );
    let wait: Option<i64> = on_pool!(backend, |pool| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(key)
            .bind(i64::from(limit))
            .bind(micros(window))
            .fetch_one(pool)
            .await
    })
    .map_err(db)?;
    Ok(wait.map(|w| Duration::from_micros(u64::try_from(w).unwrap_or(0))))
}

/// Creates the slots `0..limit` of `key` that do not exist yet.
async fn create_slots(backend: &Backend, key: &str, limit: u32) -> Result<(), StoreError> {
    on_pool!(backend, |pool| {
        sqlx::query(
            "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < $2) \
             INSERT INTO rate_limit_slots (key, slot, taken_at) SELECT $1, n, 0 FROM s WHERE true \
             ON CONFLICT (key, slot) DO NOTHING",
        )
        .bind(key)
        .bind(i64::from(limit))
        .execute(pool)
        .await
        .map(|_| ())
    })
    .map_err(db)
}

#[async_trait]
impl SharedRateLimit for Store {
    async fn try_take(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        if limit == 0 {
            return Ok(Some(window));
        }
        let backend = self.backend();
        for _ in 0..2 {
            if take_slot(backend, key, limit, window).await?.is_some() {
                return Ok(None);
            }
            match next_free(backend, key, limit, window).await? {
                // Freed in between (or just now): try again at once.
                Some(wait) if wait.is_zero() => {}
                Some(wait) => return Ok(Some(wait)),
                None => create_slots(backend, key, limit).await?,
            }
        }
        Ok(Some(Duration::from_millis(1)))
    }
}
