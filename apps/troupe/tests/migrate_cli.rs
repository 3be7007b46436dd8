//! Explicit schema changes through the real binary (issue 11): `troupe migrate --check`
//! reports pending migrations (exit 3) and `troupe migrate` applies them after a verified
//! backup; read-only and maintenance commands never change the schema; and a binary that finds
//! a newer schema says so in one line naming both versions and what to do, with exit code 2.

mod support;

use std::path::Path;
use std::process::Output;

use support::text;

fn troupe(dir: &Path, args: &[&str]) -> Output {
    support::troupe(dir, args, &[])
}

/// Runs `sql` on the data directory's SQLite file with the sqlite3 shell (as an operator or a
/// newer release would); `false` when sqlite3 is not installed.
fn sqlite3(dir: &Path, sql: &str) -> bool {
    support::sqlite3(&dir.join("troupe.db"), sql)
}

fn backups(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("backups")).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.json"))
            .count()
    })
}

#[test]
fn read_only_commands_never_create_or_change_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["flags", "list"][..],
        &["flags", "audit"][..],
        &["backup"][..],
    ] {
        let out = troupe(dir.path(), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("troupe migrate"),
            "{args:?} says what to do: {err}"
        );
    }
    // `troupe check` looks at the store as it is: no schema is a finding, not a reason to create it.
    let integrity = troupe(dir.path(), &["check"]);
    assert_ne!(
        integrity.status.code(),
        Some(0),
        "{}",
        text(&integrity.stdout)
    );
    let check = troupe(dir.path(), &["migrate", "--check"]);
    assert_eq!(check.status.code(), Some(3), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("pending: 0001 initial"),
        "nothing was applied: {}",
        text(&check.stdout)
    );
}

#[test]
fn migrate_applies_pending_migrations_and_check_then_reports_the_schema_current() {
    let dir = tempfile::tempdir().unwrap();
    let check = troupe(dir.path(), &["migrate", "--check"]);
    assert_eq!(check.status.code(), Some(3));
    assert!(text(&check.stdout).contains("pending: 0016 flag version"));

    let migrate = troupe(dir.path(), &["migrate"]);
    assert_eq!(migrate.status.code(), Some(0), "{}", text(&migrate.stderr));
    assert!(text(&migrate.stdout).contains("migrated from schema version 0"));
    assert_eq!(backups(dir.path()), 0, "a new store has nothing to back up");

    let again = troupe(dir.path(), &["migrate", "--check"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("(current)"),
        "{}",
        text(&again.stdout)
    );
    let list = troupe(dir.path(), &["flags", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
}

#[test]
fn migrate_takes_a_verified_backup_before_changing_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(troupe(dir.path(), &["migrate"]).status.code(), Some(0));
    // Pretend the store predates migration 16: forget it and drop what it created.
    if !sqlite3(
        dir.path(),
        "DELETE FROM _sqlx_migrations WHERE version = 16; \
         DROP TRIGGER flag_audit_bumps_version; DROP TABLE flag_version;",
    ) {
        return;
    }
    let pending = troupe(dir.path(), &["flags", "list"]);
    assert_eq!(pending.status.code(), Some(2));
    assert!(text(&pending.stderr).contains("pending migrations: 16"));

    let migrate = troupe(dir.path(), &["migrate"]);
    assert_eq!(migrate.status.code(), Some(0), "{}", text(&migrate.stderr));
    let out = text(&migrate.stdout);
    assert!(out.contains("verified backup before migrating"), "{out}");
    let latest = troupe_store::Store::latest_schema_version();
    assert!(out.contains(&format!(" to {latest}")), "{out}");
    assert_eq!(backups(dir.path()), 1);
}

#[test]
fn a_newer_schema_is_refused_in_one_line_with_both_versions_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(troupe(dir.path(), &["migrate"]).status.code(), Some(0));
    if !sqlite3(
        dir.path(),
        "INSERT INTO _sqlx_migrations \
         (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, X'00', 0);",
    ) {
        return;
    }
    for args in [
        &["migrate"][..],
        &["migrate", "--check"][..],
        &["flags", "list"][..],
        &["check"][..],
        &["console"][..],
    ] {
        let out = troupe(dir.path(), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        // Progress lines aside (`check` says what it checks), the error is one line.
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("troupe:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one line: {err}");
        let latest = format!("up to {}", troupe_store::Store::latest_schema_version());
        for part in [
            "schema version 9999",
            &latest,
            "deploy the newer troupe binary",
            "restore the backup taken before the upgrade",
        ] {
            assert!(errors[0].contains(part), "{args:?} {part}: {err}");
        }
    }
}
