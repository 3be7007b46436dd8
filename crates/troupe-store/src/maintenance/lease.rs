//! Leases of maintenance work shared by every process of a store: one backup scheduler per
//! store, whatever the number of processes.

use std::time::Duration;

use troupe_domain::Timestamp;
use troupe_ports::StoreError;

use crate::Store;
use crate::backend::{db, on_pool, to_sql_int};

impl Store {
    /// Takes the lease `name` for `holder` until `now + ttl`, or renews it when `holder` holds
    /// it already; `false` when another holder's lease has not expired. Times are the callers'
    /// clocks: processes of one store need clocks within a fraction of `ttl`.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let until = now
            .as_millis()
            .saturating_add(to_sql_int(ttl.as_millis() as u64));
        let taken = on_pool!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE maintenance_leases.holder = excluded.holder \
                 OR maintenance_leases.expires_at <= $4",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now.as_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(db)?;
        Ok(taken == 1)
    }

    /// Gives the lease `name` up when `holder` holds it (a stopping process).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM maintenance_leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(db)
    }
}
