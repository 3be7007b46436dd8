//! Schema changes that a rollout survives (issue 11): the previous release's statements still
//! prepare against the current schema (migrations expand first, contract later), on SQLite and
//! PostgreSQL; and a database with a migration this build does not know is refused with one
//! message naming both versions and what to do, before sqlx's migrator runs.

mod common;

use sqlx::Connection as _;
use sqlx::Executor as _;
use sqlx::SqlSafeStr as _;
use troupe_store::Store;

const PREVIOUS_RELEASE: &str = include_str!("fixtures/previous_release/queries.sql");

/// The statements of the fixture that run on `backend` (`sqlite` or `postgres`).
fn statements_for(backend: &str) -> Vec<String> {
    PREVIOUS_RELEASE
        .split("\n;\n")
        .filter_map(|block| {
            let tag = block.lines().rfind(|l| l.starts_with("-- "))?;
            let runs_here = tag.ends_with(" both") || tag.ends_with(&format!(" {backend}"));
            let sql = block
                .lines()
                .filter(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            (runs_here && !sql.trim().is_empty()).then_some(sql)
        })
        .collect()
}

fn previous_release_statements() -> Vec<String> {
    let mut all = statements_for("sqlite");
    all.extend(statements_for("postgres"));
    all.sort();
    all.dedup();
    all
}

#[test]
fn the_fixture_holds_the_previous_releases_statements() {
    let statements = previous_release_statements();
    assert!(statements.len() > 50, "{}", statements.len());
    assert!(
        statements
            .iter()
            .any(|s| s.contains("SELECT COALESCE(MAX(id), 0) FROM flag_audit")),
        "the previous release's flag version query is captured"
    );
}

#[tokio::test]
async fn the_previous_releases_statements_prepare_against_the_current_sqlite_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "current.db").await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        Store::latest_schema_version()
    );
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&common::sqlite_url(dir.path(), "current.db"))
        .await
        .unwrap();
    for sql in statements_for("sqlite") {
        if let Err(e) = conn
            .prepare(sqlx::AssertSqlSafe(sql.clone()).into_sql_str())
            .await
        {
            panic!("the previous release's statement no longer prepares: {e}\n{sql}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_releases_statements_prepare_against_the_current_postgres_schema() {
    common::with_postgres("expand/contract", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        for sql in statements_for("postgres") {
            if let Err(e) = conn
                .prepare(sqlx::AssertSqlSafe(sql.clone()).into_sql_str())
                .await
            {
                panic!("the previous release's statement no longer prepares: {e}\n{sql}");
            }
        }
    })
    .await;
}

/// Records migration 9999 as applied, as a newer release would.
const NEWER: &str = "INSERT INTO _sqlx_migrations \
    (version, description, installed_on, success, checksum, execution_time) \
    VALUES (9999, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)";

#[tokio::test]
async fn a_sqlite_schema_newer_than_this_build_is_refused_with_both_versions_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "newer.db");
    common::sqlite_store(dir.path(), "newer.db")
        .await
        .close()
        .await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(NEWER).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let store = Store::connect(&url, common::options()).await.unwrap();
    let status = store.schema_status().await.unwrap();
    assert!(status.is_newer());
    assert_eq!(status.unknown, Some(9999));
    assert!(status.pending.is_empty());
    let message = store.migrate().await.unwrap_err().to_string();
    for part in [
        "9999",
        &format!("up to {}", Store::latest_schema_version()),
        "deploy the newer troupe",
        "restore the backup taken before the upgrade",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_schema_newer_than_this_build_is_refused() {
    common::with_postgres("newer schema", |url| async move {
        Store::open(&url, common::options())
            .await
            .unwrap()
            .close()
            .await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(
            NEWER.replace("X'00'", "'\\x00'::bytea"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let store = Store::connect(&url, common::options()).await.unwrap();
        assert_eq!(store.schema_status().await.unwrap().unknown, Some(9999));
        let message = store.migrate().await.unwrap_err().to_string();
        assert!(message.contains("9999"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn a_new_database_reports_every_migration_pending_and_none_after_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "fresh.db");
    let store = Store::connect(&url, common::options()).await.unwrap();
    let before = store.schema_status().await.unwrap();
    assert_eq!(before.applied, 0);
    assert!(!before.pending.is_empty());
    assert_eq!(
        before.pending.last().map(|p| p.0),
        Some(Store::latest_schema_version())
    );
    store.migrate().await.unwrap();
    let after = store.schema_status().await.unwrap();
    assert!(after.is_current(), "{after:?}");
    assert_eq!(after.applied, Store::latest_schema_version());
}
