//! The maintenance commands as an operator runs them: the real binary against a SQLite data
//! directory, the store damaged with the `sqlite3` command-line client (an external tool).

mod support;

use std::path::Path;

use support::{text, troupe};

/// Runs SQL with the `sqlite3` client, which these tests need (`.ci/run` installs it).
fn sqlite3(db: &Path, sql: &str) {
    assert!(
        support::sqlite3(db, sql),
        "the sqlite3 command-line client is installed (.ci/run installs it)"
    );
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

/// The variable of the previous token keys, as this build's configuration names it.
fn previous_keys_variable() -> &'static str {
    if include_str!("../src/config.rs").contains("\"TROUPE_TOKEN_KEY_PREVIOUS\"") {
        "TROUPE_TOKEN_KEY_PREVIOUS"
    } else {
        "TROUPE_TOKEN_KEYS_PREVIOUS"
    }
}

fn keygen(dir: &Path) -> String {
    let out = troupe(dir, &["keygen"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();
    troupe_store::TokenKey::parse(&key).expect("keygen prints a usable key");
    key
}

fn token(user: u64) -> troupe_domain::auth::UserAuth {
    troupe_domain::auth::UserAuth {
        user: troupe_domain::UserId::new(user).unwrap(),
        token: troupe_domain::auth::AccessToken::parse("secret-access-token").unwrap(),
        created_at: troupe_domain::Timestamp::from_millis(1),
        expires_at: troupe_domain::Timestamp::from_millis(i64::MAX / 2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_with_keygen_and_tokens_reencrypt_leaves_every_token_under_the_new_key() {
    use troupe_ports::AuthRepository as _;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("troupe.db").display());
    let old = keygen(dir.path());
    let new = keygen(dir.path());
    assert_ne!(old, new, "every key is new");
    let options = |current: &str, previous: &[&str]| troupe_store::StoreOptions {
        token_key: Some(troupe_store::TokenKey::parse(current).unwrap()),
        previous_token_keys: previous
            .iter()
            .map(|k| troupe_store::TokenKey::parse(k).unwrap())
            .collect(),
        ..troupe_store::StoreOptions::default()
    };
    let store = troupe_store::Store::open(&url, options(&old, &[]))
        .await
        .unwrap();
    for user in 1..=5 {
        store.save_token(&token(user)).await.unwrap();
    }
    store.close().await;

    // Without a current key the command refuses with exit 2.
    let refused = troupe(dir.path(), &["tokens", "reencrypt"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));

    let previous = previous_keys_variable();
    let env = [("TROUPE_TOKEN_KEY", new.as_str()), (previous, old.as_str())];
    let out = troupe(dir.path(), &["tokens", "reencrypt", "--batch", "2"], &env);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("5 token(s): 5 rewritten"), "{stdout}");
    assert!(
        stderr.contains("re-encrypting tokens: 2/5"),
        "progress: {stderr}"
    );
    assert!(
        stderr.contains("re-encrypting tokens: 5/5"),
        "progress: {stderr}"
    );
    for output in [&stdout, &stderr] {
        assert!(!output.contains("secret-access-token") && !output.contains(&new));
    }

    // Again: nothing to do (idempotent).
    let again = troupe(dir.path(), &["tokens", "reencrypt"], &env);
    assert!(text(&again.stdout).contains("0 rewritten under the current key, 5 already"));

    // The new key alone now reads every token, and check agrees.
    let store = troupe_store::Store::open(&url, options(&new, &[]))
        .await
        .unwrap();
    assert_eq!(store.token(token(3).user).await.unwrap(), Some(token(3)));
    store.close().await;
    let check = troupe(
        dir.path(),
        &["check"],
        &[("TROUPE_TOKEN_KEY", new.as_str())],
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));

    // A token sealed with a key that is no longer configured is reported, exit 3.
    let lost = keygen(dir.path());
    let store = troupe_store::Store::open(&url, options(&lost, &[]))
        .await
        .unwrap();
    store.save_token(&token(9)).await.unwrap();
    store.close().await;
    let out = troupe(dir.path(), &["tokens", "reencrypt"], &env);
    let lost_id = troupe_store::TokenKey::parse(&lost).unwrap().id();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains(&format!("1 token(s) sealed with key id {lost_id:02x}")),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn restore_of_a_missing_file_says_so_and_a_refused_restore_never_announces_the_safety_backup() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = troupe(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));

    let out = troupe(dir.path(), &["restore", "missing.sqlite"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("refusing to restore missing.sqlite: the file does not exist"),
        "{stderr}"
    );
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("troupe:") && l.contains("manifest")),
        "{stderr}"
    );
    assert!(!stderr.contains("[3/3]"), "{stderr}");

    // A file that is not a backup: refused after verification, before any safety backup.
    std::fs::write(dir.path().join("junk.sqlite"), b"not a database").unwrap();
    let out = troupe(dir.path(), &["restore", "junk.sqlite"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("[2/3] verifying"), "{stderr}");
    assert!(!stderr.contains("[3/3]"), "{stderr}");
    assert!(stderr.contains("the store was not touched"), "{stderr}");
}

#[test]
fn a_restore_failing_on_a_foreign_key_says_the_store_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = troupe(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let db = dir.path().join("troupe.db");
    sqlite3(&db, PERSONALITY);
    // An alias of a personality that does not exist, written with foreign keys off (sqlite3's
    // default): the backup copies it, the restore's foreign keys refuse it.
    sqlite3(
        &db,
        "INSERT INTO aliases VALUES ('ghosty', 'ghosty', 'ghost', 0);",
    );
    let backup = troupe(dir.path(), &["backup", "--dir", "b"], &[]);
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    let file = std::fs::read_dir(dir.path().join("b"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .unwrap();
    sqlite3(
        &db,
        "DELETE FROM aliases; UPDATE personalities SET prompt = 'Still here.';",
    );

    let out = troupe(
        dir.path(),
        &["restore", file.to_str().unwrap(), "--safety-dir", "s"],
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the store is unchanged"), "{stderr}");
    assert!(!stderr.contains("unexpected store error"), "{stderr}");
    let still = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT prompt FROM personalities")
        .output()
        .unwrap();
    assert_eq!(text(&still.stdout).trim(), "Still here.");
}

#[test]
fn a_failing_backup_says_backup_not_restore() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = troupe(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let db = dir.path().join("troupe.db");
    sqlite3(&db, PERSONALITY);
    sqlite3(
        &db,
        "UPDATE personalities SET error_message = CAST(X'4F6F707320C328' AS TEXT);",
    );
    let out = troupe(
        dir.path(),
        &["backup", "--dir", "b", "--format", "portable"],
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("backup failed, no backup was published"),
        "{stderr}"
    );
    assert!(!stderr.contains("restore"), "{stderr}");
    // The default snapshot copies the file as it is (check names the row).
    let snapshot = troupe(dir.path(), &["backup", "--dir", "b"], &[]);
    assert!(snapshot.status.success(), "{}", text(&snapshot.stderr));
}
