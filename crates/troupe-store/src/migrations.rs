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
        16,
        "flag version",
        include_str!("../../../migrations/sqlite/0016_flag_version.sql"),
        include_str!("../../../migrations/postgres/0016_flag_version.sql"),
    ),
    (
        20,
        "maintenance leases",
        include_str!("../../../migrations/sqlite/0020_maintenance_leases.sql"),
        include_str!("../../../migrations/postgres/0020_maintenance_leases.sql"),
    ),
    (
        30,
        "history user",
        include_str!("../../../migrations/sqlite/0030_history_user.sql"),
        include_str!("../../../migrations/postgres/0030_history_user.sql"),
    ),
    (
        50,
        "fleet processes",
        include_str!("../../../migrations/sqlite/0050_fleet_processes.sql"),
        include_str!("../../../migrations/postgres/0050_fleet_processes.sql"),
    ),
    (
        60,
        "read model version",
        include_str!("../../../migrations/sqlite/0060_read_model_version.sql"),
        include_str!("../../../migrations/postgres/0060_read_model_version.sql"),
    ),
    (
        70,
        "read model auth",
        include_str!("../../../migrations/sqlite/0070_read_model_auth.sql"),
        include_str!("../../../migrations/postgres/0070_read_model_auth.sql"),
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

/// Where a database's schema stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The newest migration applied to the database (0: none).
    pub applied: i64,
    /// The newest migration this build knows.
    pub latest: i64,
    /// Migrations this build knows that the database does not have yet (version, description),
    /// oldest first.
    pub pending: Vec<(i64, &'static str)>,
    /// The newest migration the database has that this build does not know (a newer release
    /// migrated it), if any.
    pub unknown: Option<i64>,
}

impl SchemaStatus {
    /// Whether the database has a migration this build does not know: this build must not use
    /// it (deploy the newer build, or restore the backup taken before the upgrade).
    pub fn is_newer(&self) -> bool {
        self.unknown.is_some()
    }

    /// Whether the schema is exactly what this build expects.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_none()
    }

    /// The one-line message for a schema newer than this build; `database` names it.
    pub fn newer_message(&self, database: Option<&str>) -> Option<String> {
        let database = database.map_or_else(String::new, |d| format!(" {d}"));
        self.unknown.map(|found| {
            format!(
                "the database{database} has schema version {found}, newer than this troupe {} \
                 knows (up to {}): deploy the newer troupe binary, or restore the backup taken \
                 before the upgrade (`troupe restore <file>`)",
                env!("CARGO_PKG_VERSION"),
                self.latest
            )
        })
    }
}

/// Reads the applied migrations (`_sqlx_migrations`; none when the table is missing).
pub(crate) async fn status(backend: &Backend) -> Result<SchemaStatus, StoreError> {
    const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let found: Result<Vec<i64>, sqlx::Error> = on_pool!(backend, |pool| sqlx::query_scalar(SQL)
        .fetch_all(pool)
        .await);
    let applied = match found {
        Ok(v) => v,
        Err(sqlx::Error::Database(_)) => Vec::new(),
        Err(e) => return Err(db(e)),
    };
    let known = |v: i64| MIGRATIONS.iter().any(|m| m.0 == v);
    Ok(SchemaStatus {
        applied: applied.iter().copied().max().unwrap_or(0),
        latest: LATEST,
        pending: MIGRATIONS
            .iter()
            .filter(|m| !applied.contains(&m.0))
            .map(|m| (m.0, m.1))
            .collect(),
        unknown: applied.iter().copied().filter(|v| !known(*v)).max(),
    })
}

pub(crate) async fn run(backend: &Backend) -> Result<(), StoreError> {
    // sqlx's own error for this case ("migration N was previously applied but is missing in the
    // resolved migrations") does not say what to do.
    if let Some(message) = status(backend).await?.newer_message(None) {
        return Err(StoreError::Unexpected(message));
    }
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
