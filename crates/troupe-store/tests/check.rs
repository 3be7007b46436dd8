//! `check` finds what breaks the bot: rows the bot cannot decode and database damage are named
//! violations (table, key, column, problem), never an error of the check itself.

mod common;

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use common::fill::fill;
use troupe_store::{Store, StoreOptions, Violation};

/// Runs SQL through a separate connection, as a careless external SQLite client would (no
/// foreign keys, CHECK constraints ignored, no Troupe code).
async fn external_sqlite(url: &str, sql: &str) {
    use sqlx::{ConnectOptions as _, Connection as _};
    use std::str::FromStr as _;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .unwrap()
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA ignore_check_constraints = ON; {sql}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

async fn filled_sqlite(dir: &Path) -> (String, Store) {
    let url = common::sqlite_url(dir, "c.db");
    let store = Store::open(&url, common::options()).await.unwrap();
    fill(&store).await;
    let report = store.check().await.unwrap();
    assert!(report.is_ok(), "a filled store is sound: {report}");
    (url, store)
}

fn find<'a>(violations: &'a [Violation], rule: &str, column: &str) -> Option<&'a Violation> {
    violations
        .iter()
        .find(|v| v.rule == rule && v.column == Some(column))
}

#[tokio::test]
async fn invalid_utf8_written_by_an_external_client_is_an_unreadable_row_naming_table_key_and_column()
 {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = filled_sqlite(dir.path()).await;
    // "Oops \xC3(" is not UTF-8; SQLite stores it as TEXT without complaint.
    external_sqlite(
        &url,
        "UPDATE personalities SET error_message = CAST(X'4F6F707320C328' AS TEXT) \
         WHERE name_key = 'einstein'",
    )
    .await;

    let report = store.check().await.unwrap();
    assert!(!report.is_ok());
    let v = find(&report.violations, "unreadable row", "error_message")
        .unwrap_or_else(|| panic!("the broken column is named:\n{report}"));
    assert_eq!(v.table, Some("personalities"));
    assert_eq!(v.key.as_deref(), Some("name_key=\"einstein\""));
    assert!(v.detail.contains("invalid UTF-8"), "{v}");
    let text = report.to_string();
    assert!(
        text.contains(
            "unreadable row: table personalities, key name_key=\"einstein\", column error_message: invalid UTF-8"
        ),
        "{text}"
    );
    // The bot indeed cannot read that personality.
    use troupe_ports::PersonalityRepository as _;
    assert!(
        store.get(&common::fill::name("einstein")).await.is_err(),
        "the check reports exactly what the bot fails on"
    );
}

#[tokio::test]
async fn values_the_domain_refuses_and_wrong_storage_classes_are_unreadable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = filled_sqlite(dir.path()).await;
    external_sqlite(
        &url,
        "UPDATE conversations SET mode = 'sometimes'; \
         UPDATE personalities SET owner_id = 'abc' WHERE name_key = 'zoë'; \
         UPDATE personalities SET prompt = '' WHERE name_key = 'einstein'; \
         UPDATE channel_activations SET activated_by = 0; \
         UPDATE history SET speaker = 'narrator' WHERE id = (SELECT MIN(id) FROM history);",
    )
    .await;
    let report = store.check().await.unwrap();
    let expect = [
        (
            "conversations",
            "mode",
            "\"sometimes\" is not a conversation mode",
        ),
        (
            "personalities",
            "owner_id",
            "stored as text, the bot reads an integer",
        ),
        ("personalities", "prompt", ""),
        ("channel_activations", "activated_by", "not a user id"),
        (
            "history",
            "speaker",
            "\"narrator\" is not a history speaker",
        ),
    ];
    for (table, column, detail) in expect {
        let v = find(&report.violations, "unreadable row", column)
            .unwrap_or_else(|| panic!("{table}.{column} is named:\n{report}"));
        assert_eq!(v.table, Some(table), "{v}");
        assert!(v.detail.contains(detail), "{v}");
        assert!(v.key.is_some(), "{v}");
    }
}

#[tokio::test]
async fn a_missing_index_entry_is_a_named_database_integrity_violation_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = filled_sqlite(dir.path()).await;
    // Rebuild an index without one row, then give it back its full definition: the index now
    // lacks the entry of that row (what page damage can leave behind).
    external_sqlite(
        &url,
        "DROP INDEX personalities_display; \
         CREATE INDEX personalities_display ON personalities (display_key, name_key) \
         WHERE name_key <> 'einstein'; \
         PRAGMA writable_schema = ON; \
         UPDATE sqlite_schema SET sql = \
         'CREATE INDEX personalities_display ON personalities (display_key, name_key)' \
         WHERE name = 'personalities_display'; \
         PRAGMA writable_schema = OFF;",
    )
    .await;
    store.close().await;
    let store = Store::connect(&url, common::options()).await.unwrap();
    let report = store
        .check()
        .await
        .expect("damage is a report, not an error");
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.rule == "database integrity"
                && v.detail
                    .contains("missing from index personalities_display")),
        "{report}"
    );
}

/// Overwrites `len` bytes at `at` with a pattern.
fn scribble(path: &Path, at: u64, len: usize) {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    let mut old = vec![0u8; len];
    file.read_exact(&mut old).unwrap();
    let new: Vec<u8> = old.iter().map(|b| !b ^ 0x5a).collect();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&new).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test]
async fn flipped_bytes_in_pages_are_named_database_integrity_violations_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = filled_sqlite(dir.path()).await;
    // Enough rows for several pages per table.
    external_sqlite(
        &url,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO history (channel_id, personality_key, speaker, author, content, at) \
         SELECT 5, 'zoë', 'user', 'ann', printf('line %d of a long enough text', i), i FROM n; \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .await;
    store.close().await;
    let path = dir.path().join("c.db");
    let size = std::fs::metadata(&path).unwrap().len();
    let page = 4096;
    assert!(
        size > 20 * page,
        "the store spans many pages ({size} bytes)"
    );
    // Flip bytes in the later part of the file (the history rows inserted last): page headers
    // and cells of several pages. Not the schema's pages (the first half of the file): a
    // damaged schema is a database SQLite cannot open at all.
    let pages = size / page;
    for p in [pages * 2 / 3, pages * 2 / 3 + 1, pages - 2] {
        scribble(&path, p * page, 64);
        scribble(&path, p * page + 1024, 256);
    }

    let store = Store::connect(&url, common::options()).await.unwrap();
    let report = store
        .check()
        .await
        .expect("damage is a report, not an error");
    assert!(!report.is_ok(), "{report}");
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.rule == "database integrity"),
        "{report}"
    );
}

#[tokio::test]
async fn check_does_not_migrate_a_store_and_names_a_schema_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "empty.db");
    let store = Store::connect(&url, StoreOptions::default()).await.unwrap();
    let report = store.check().await.unwrap();
    assert_eq!(report.schema_version, 0);
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.rule == "schema version" && v.detail.contains("troupe migrate")),
        "{report}"
    );
    assert_eq!(
        store.schema_version().await.unwrap(),
        0,
        "check never migrates"
    );
}

#[tokio::test]
async fn on_postgresql_values_the_domain_refuses_are_unreadable_rows() {
    common::with_postgres("check of refused values", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        fill(&store).await;
        assert!(store.check().await.unwrap().is_ok());
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "UPDATE channel_activations SET activated_by = 0; \
             UPDATE personalities SET display_name = '' WHERE name_key = 'einstein'; \
             UPDATE notification_preferences SET last_notified = 'banana';",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let report = store.check().await.unwrap();
        let by = find(&report.violations, "unreadable row", "activated_by")
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(by.table, Some("channel_activations"));
        assert!(
            by.key.as_deref().unwrap().starts_with("channel_id="),
            "{by}"
        );
        let version = find(&report.violations, "unreadable row", "last_notified")
            .unwrap_or_else(|| panic!("{report}"));
        assert!(
            version.detail.contains("\"banana\" is not a version"),
            "{version}"
        );
        let display = find(&report.violations, "unreadable row", "display_name")
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(display.key.as_deref(), Some("name_key=\"einstein\""));
        store.close().await;
    })
    .await;
}
