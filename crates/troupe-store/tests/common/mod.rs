//! Shared helpers of the integration tests: fresh SQLite files and fresh PostgreSQL databases.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::Path;

pub mod fill;

use troupe_store::{Store, StoreOptions, TokenKey};

/// Options with a fixed token key (tests need tokens to work).
pub fn options() -> StoreOptions {
    StoreOptions {
        token_key: Some(TokenKey::from_bytes([7; 32])),
        ..StoreOptions::default()
    }
}

/// The URL of a SQLite file in `dir`.
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// A migrated store on a new SQLite file in `dir`.
pub async fn sqlite_store(dir: &Path, file: &str) -> Store {
    Store::open(&sqlite_url(dir, file), options())
        .await
        .expect("a SQLite store opens")
}

/// The PostgreSQL server the tests may use: `TROUPE_TEST_POSTGRES_URL`, else `DATABASE_URL`
/// when it names PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    ["TROUPE_TEST_POSTGRES_URL", "DATABASE_URL"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// Says visibly that a PostgreSQL test was skipped.
pub fn report_postgres_skipped(what: &str) {
    eprintln!(
        "PostgreSQL {what} SKIPPED: set TROUPE_TEST_POSTGRES_URL (or DATABASE_URL) to a \
         postgres:// URL whose user may create databases"
    );
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("random bytes");
    u64::from_le_bytes(bytes).to_string()
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A freshly created PostgreSQL database with a random name.
#[derive(Debug)]
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!("troupe_test_{}", random_suffix());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("the PostgreSQL test server is reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("a test database can be created");
        admin.close().await.ok();
        Self {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Store {
        Store::open(&self.url, options())
            .await
            .expect("a PostgreSQL store opens")
    }

    pub async fn drop_database(self) {
        use sqlx::Connection as _;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await;
            admin.close().await.ok();
        }
    }
}

/// Runs `test` with a fresh PostgreSQL database that is dropped afterwards, even when the test
/// panics (the panic is then resumed). Returns `false` (and says so) when no server is
/// configured.
pub async fn with_postgres<F, Fut>(what: &str, test: F) -> bool
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = postgres_admin_url() else {
        report_postgres_skipped(what);
        return false;
    };
    let db = PgDatabase::create(&admin).await;
    let outcome = tokio::spawn(test(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the test task failed: {e}");
    }
    true
}
