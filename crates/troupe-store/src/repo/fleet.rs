//! The fleet registry (migration 0050, ADR 0040): one row per running process, refreshed by
//! its heartbeat, timed by the database's clock so every process agrees on "last seen".

use async_trait::async_trait;
use troupe_domain::{Duration, Timestamp};
use troupe_ports::{
    FleetRegistry, LiveProcess, PROCESS_EXPIRY, ProcessRecord, ShardSpan, StoreError,
};

use super::sessions::{NOW_POSTGRES, NOW_SQLITE};
use crate::Store;
use crate::backend::{Backend, db, from_sql_count, on_pool, to_sql_int};

fn now_sql(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite(_) => NOW_SQLITE,
        Backend::Postgres(_) => NOW_POSTGRES,
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

type ProcessRow = (
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
);

fn span(total: Option<i64>, start: Option<i64>, end: Option<i64>) -> Option<ShardSpan> {
    let n = |v: i64| u32::try_from(v).ok();
    Some(ShardSpan {
        total: n(total?)?,
        range: n(start?)?..n(end?)?,
    })
}

#[async_trait]
impl FleetRegistry for Store {
    async fn heartbeat(&self, process: &ProcessRecord) -> Result<(), StoreError> {
        let now = now_sql(self.backend());
        let upsert = format!(
            "INSERT INTO fleet_processes (id, host, version, role, shard_total, shard_start, \
             shard_end, gateway, flag_version, started_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {now}) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, version = excluded.version, \
             role = excluded.role, shard_total = excluded.shard_total, \
             shard_start = excluded.shard_start, shard_end = excluded.shard_end, \
             gateway = excluded.gateway, \
             flag_version = CASE WHEN fleet_processes.flag_version > excluded.flag_version \
             THEN fleet_processes.flag_version ELSE excluded.flag_version END, \
             started_at = excluded.started_at, last_seen = excluded.last_seen"
        );
        let purge = format!("DELETE FROM fleet_processes WHERE last_seen < {now} - $1");
        let shards = process.shards.as_ref();
        on_pool!(self.backend(), |pool| {
            sqlx::query(sqlx::AssertSqlSafe(upsert))
                .bind(&process.id)
                .bind(&process.host)
                .bind(&process.version)
                .bind(&process.role)
                .bind(shards.map(|s| i64::from(s.total)))
                .bind(shards.map(|s| i64::from(s.range.start)))
                .bind(shards.map(|s| i64::from(s.range.end)))
                .bind(&process.gateway)
                .bind(to_sql_int(process.flag_version))
                .bind(process.started_at.as_millis())
                .execute(pool)
                .await
                .map_err(db)?;
            sqlx::query(sqlx::AssertSqlSafe(purge))
                .bind(micros(PROCESS_EXPIRY * 20))
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(db)
        })
    }

    async fn report_flag_version(&self, id: &str, version: u64) -> Result<bool, StoreError> {
        let now = now_sql(self.backend());
        let sql = format!(
            "UPDATE fleet_processes SET last_seen = {now}, flag_version = CASE \
             WHEN flag_version > $2 THEN flag_version ELSE $2 END WHERE id = $1"
        );
        let updated = on_pool!(self.backend(), |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(to_sql_int(version))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)?;
        Ok(updated > 0)
    }

    async fn leave(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM fleet_processes WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(db)
    }

    async fn live(&self, within: Duration) -> Result<Vec<LiveProcess>, StoreError> {
        let now = now_sql(self.backend());
        let sql = format!(
            "SELECT id, host, version, role, shard_total, shard_start, shard_end, gateway, \
             flag_version, started_at, {now} - last_seen FROM fleet_processes \
             WHERE last_seen >= {now} - $1 ORDER BY id"
        );
        let rows: Vec<ProcessRow> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(micros(within))
                .fetch_all(pool)
                .await
        })
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, host, version, role, total, start, end, gateway, flags, started, ago)| {
                    LiveProcess {
                        record: ProcessRecord {
                            id,
                            host,
                            version,
                            role,
                            shards: span(total, start, end),
                            gateway,
                            flag_version: from_sql_count(flags),
                            started_at: Timestamp::from_millis(started),
                        },
                        last_seen_ago: Duration::from_micros(u64::try_from(ago).unwrap_or(0)),
                    }
                },
            )
            .collect())
    }
}
