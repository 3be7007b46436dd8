//! The embedded migrations of both backends (built from the `migrations/` folders at compile
//! time; no proc macro needed).

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use troupe_ports::StoreError;

use crate::backend::{Backend, db, on_pool};

/// (version, description, SQLite SQL, PostgreSQL SQL), oldest first.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        15,
        "gateway sessions",
        include_str!("../../../migrations/sqlite/0015_gateway_sessions.sql"),
        include_str!("../../../migrations/postgres/0015_gateway_sessions.sql"),
    ),
    (
        20,
        "maintenance leases",
        include_str!("../../../migrations/sqlite/0020_maintenance_leases.sql"),
        include_str!("../../../migrations/postgres/0020_maintenance_leases.sql"),
    ),
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

fn migrator(postgres: bool) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, pg)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    if postgres { pg } else { sqlite }.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

pub(crate) async fn run(backend: &Backend) -> Result<(), StoreError> {
    let result = match backend {
        Backend::Sqlite(pool) => migrator(false).run(pool).await,
        Backend::Postgres(pool) => migrator(true).run(pool).await,
    };
    result.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(e) => db(e),
        other => StoreError::Unexpected(format!("migration failed: {other}")),
    })
}

pub(crate) async fn applied_version(backend: &Backend) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
    let version: Result<i64, sqlx::Error> = on_pool!(backend, |pool| sqlx::query_scalar(SQL)
        .fetch_one(pool)
        .await);
    match version {
        Ok(v) => Ok(v),
        // No migrations table: nothing applied yet.
        Err(sqlx::Error::Database(_)) => Ok(0),
        Err(e) => Err(db(e)),
    }
}
