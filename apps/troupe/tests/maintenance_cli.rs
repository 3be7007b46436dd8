//! The maintenance commands as an operator runs them: the real binary against a SQLite data
//! directory, the store damaged with the `sqlite3` command-line client (an external tool).

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn troupe(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_troupe"));
    cmd.args(args)
        .env_clear()
        .env("TROUPE_DATA_DIR", dir)
        .env("TROUPE_LOG", "off")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("troupe runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs SQL with the `sqlite3` client (installed by `.ci/run`).
fn sqlite3(db: &Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line client is installed (.ci/run installs it)");
    assert!(out.status.success(), "sqlite3: {}", text(&out.stderr));
}

const PERSONALITY: &str = "INSERT INTO personalities (name_key, name, owner_id, display_name, \
     display_key, avatar_url, error_message, prompt, model, fetched_at, created_at, updated_at) \
     VALUES ('einstein', 'Einstein', 7, 'Albert', 'albert', NULL, 'Oops', 'You are Einstein.', \
     NULL, NULL, 1, 1);";

#[test]
fn check_names_a_row_with_invalid_utf8_written_by_sqlite3_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = troupe(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let db = dir.path().join("troupe.db");
    sqlite3(&db, PERSONALITY);

    let sound = troupe(dir.path(), &["check"], &[]);
    assert_eq!(sound.status.code(), Some(0), "{}", text(&sound.stdout));
    assert!(text(&sound.stdout).starts_with("check passed"));

    sqlite3(
        &db,
        "UPDATE personalities SET error_message = CAST(X'4F6F707320C328' AS TEXT);",
    );
    let out = troupe(dir.path(), &["check"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "unreadable row: table personalities, key name_key=\"einstein\", column error_message: invalid UTF-8"
        ),
        "{stdout}"
    );

    let json = troupe(dir.path(), &["check", "--json"], &[]);
    assert_eq!(json.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["violations"][0]["table"], "personalities");
    assert_eq!(report["violations"][0]["column"], "error_message");
}

#[test]
fn check_reports_a_missing_index_entry_with_exit_3_and_never_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = troupe(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let db = dir.path().join("troupe.db");
    sqlite3(&db, PERSONALITY);
    sqlite3(
        &db,
        "DROP INDEX personalities_display; \
         CREATE INDEX personalities_display ON personalities (display_key, name_key) \
         WHERE name_key <> 'einstein'; \
         PRAGMA writable_schema = ON; \
         UPDATE sqlite_schema SET sql = \
         'CREATE INDEX personalities_display ON personalities (display_key, name_key)' \
         WHERE name = 'personalities_display';",
    );
    let out = troupe(dir.path(), &["check"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("database integrity: row 1 missing from index personalities_display"),
        "{stdout}"
    );
    assert!(!text(&out.stderr).contains("unexpected store error"));

    // A fresh data directory: check names the missing schema and leaves the file unmigrated.
    let empty = tempfile::tempdir().unwrap();
    let out = troupe(empty.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("troupe migrate"));
    let version = troupe(empty.path(), &["check"], &[]);
    assert!(text(&version.stdout).contains("schema version 0"));
}
