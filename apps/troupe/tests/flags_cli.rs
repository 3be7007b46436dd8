//! The runbook's flag commands, adapted to Troupe's names, behave as the runbook says: the real
//! binary against a SQLite data directory. Stage commands switch categories to the new system,
//! `troupe flags list` shows each value with its source, the emergency rollback
//! (`FEATURE_FLAG_DDD_COMMANDS_ENABLED=false`, or one `troupe flags set`) puts every command back
//! on legacy, and a mistyped variable stops the binary with exit code 2 naming it.

mod support;

use std::path::Path;

use support::{stderr, stdout, troupe_with_input as troupe};

/// The runbook's stage 1 (`export FEATURE_FLAG_...=true`).
const STAGE_1: &[(&str, &str)] = &[
    ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
];

/// `troupe flags <args>`, asserting exit 0; returns stdout.
fn flags(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["flags"];
    all.extend_from_slice(args);
    let out = troupe(dir, &all, env, "");
    assert_eq!(out.status.code(), Some(0), "{all:?}: {}", stderr(&out));
    stdout(&out)
}

/// The (value, source) `troupe flags list` shows for `flag`.
fn listed(list: &str, flag: &str) -> (String, String) {
    let line = list
        .lines()
        .find(|l| l.split_whitespace().next() == Some(flag))
        .unwrap_or_else(|| panic!("{flag} not listed:\n{list}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    (
        cols[1].to_owned(),
        cols[2].trim_matches(['(', ')']).to_owned(),
    )
}

/// Which command system served `!tz status` in the console.
fn status_system(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = troupe(dir, &["console"], env, "!tz status\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("Command system: "))
        .unwrap_or_else(|| panic!("no command system in:\n{text}"))
        .trim_matches('`')
        .to_owned()
}

#[test]
fn flags_set_stores_a_runtime_value_that_list_shows_with_its_source_and_the_audit_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let set = flags(
        dir.path(),
        &[
            "set",
            "ddd.commands.utility",
            "true",
            "--reason",
            "stage 1",
            "--actor",
            "ops",
        ],
        &[],
    );
    assert_eq!(set.trim(), "ddd.commands.utility false -> true (runtime)");

    let env = [("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true")];
    let list = flags(dir.path(), &["list"], &env);
    let flag = |name| listed(&list, name);
    assert_eq!(
        flag("ddd.commands.utility"),
        ("true".into(), "runtime".into())
    );
    assert_eq!(
        flag("ddd.commands.authentication"),
        ("true".into(), "environment".into())
    );
    assert_eq!(
        flag("ddd.commands.personality"),
        ("false".into(), "default".into())
    );
    assert_eq!(
        flag("ddd.commands.enabled"),
        ("false".into(), "default".into())
    );
    assert_eq!(
        flag("ddd.commands.fallbackOnError"),
        ("true".into(), "default".into())
    );

    let audit = flags(dir.path(), &["audit"], &[]);
    assert!(
        audit.contains("ddd.commands.utility unset -> true by ops: stage 1"),
        "{audit}"
    );

    let unset = flags(
        dir.path(),
        &["unset", "ddd.commands.utility", "--reason", "undo"],
        &[],
    );
    assert_eq!(unset.trim(), "ddd.commands.utility true -> false (default)");
}

#[test]
fn stage_1_moves_status_to_the_new_system_and_the_emergency_rollback_moves_it_back() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(status_system(dir.path(), &[]), "legacy", "the safe default");
    assert_eq!(status_system(dir.path(), STAGE_1), "ddd");

    // Emergency rollback: FEATURE_FLAG_DDD_COMMANDS_ENABLED=false, the rest unchanged.
    let mut rollback = STAGE_1.to_vec();
    rollback[0].1 = "false";
    assert_eq!(status_system(dir.path(), &rollback), "legacy");
    let list = flags(dir.path(), &["list"], &rollback);
    assert_eq!(
        listed(&list, "ddd.commands.enabled"),
        ("false".into(), "environment".into())
    );

    // Selective rollback of the category: FEATURE_FLAG_DDD_COMMANDS_UTILITY=false.
    let mut selective = STAGE_1.to_vec();
    selective[2].1 = "false";
    assert_eq!(status_system(dir.path(), &selective), "legacy");
}

#[test]
fn a_runtime_rollback_wins_over_the_environment_and_unset_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    flags(
        dir.path(),
        &[
            "set",
            "ddd.commands.enabled",
            "false",
            "--reason",
            "emergency rollback",
        ],
        STAGE_1,
    );
    assert_eq!(status_system(dir.path(), STAGE_1), "legacy");
    let list = flags(dir.path(), &["list"], STAGE_1);
    assert_eq!(
        listed(&list, "ddd.commands.enabled"),
        ("false".into(), "runtime".into())
    );
    assert_eq!(
        listed(&list, "ddd.commands.utility"),
        ("true".into(), "environment".into())
    );

    flags(
        dir.path(),
        &["unset", "ddd.commands.enabled", "--reason", "recovered"],
        STAGE_1,
    );
    assert_eq!(status_system(dir.path(), STAGE_1), "ddd");
}

#[test]
fn every_flag_is_settable_by_environment_in_any_case_including_camel_case_and_per_command() {
    let dir = tempfile::tempdir().unwrap();
    // `flags list` reads; it never creates the schema.
    let migrate = troupe(dir.path(), &["migrate"], &[], "");
    assert_eq!(migrate.status.code(), Some(0), "{}", stderr(&migrate));
    let env = [
        ("feature_flag_ddd_commands_ping", "on"),
        ("FEATURE_FLAG_DDD_COMMANDS_FALLBACK_ON_ERROR", "0"),
        ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "TRUE"),
    ];
    let list = flags(dir.path(), &["list"], &env);
    assert_eq!(
        listed(&list, "ddd.commands.ping"),
        ("true".into(), "environment".into())
    );
    assert_eq!(
        listed(&list, "ddd.commands.fallbackOnError"),
        ("false".into(), "environment".into())
    );
    assert_eq!(
        listed(&list, "ddd.commands.shadow.personality"),
        ("true".into(), "environment".into())
    );
}

#[test]
fn an_unknown_feature_flag_variable_or_a_bad_value_stops_the_binary_with_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("FEATURE_FLAG_DDD_COMMANDS_TELEPORT", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "maybe"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", ""),
    ] {
        for args in [&["flags", "list"][..], &["console"][..]] {
            let out = troupe(dir.path(), args, &[(var, value)], "!tz status\n");
            assert_eq!(out.status.code(), Some(2), "{var}={value:?} {args:?}");
            assert!(stderr(&out).contains(var), "{var}: {}", stderr(&out));
            assert!(stdout(&out).is_empty(), "nothing runs: {}", stdout(&out));
        }
    }
}

#[test]
fn flags_set_refuses_an_unknown_flag_or_value_with_exit_2_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = troupe(
        dir.path(),
        &[
            "flags",
            "set",
            "ddd.commands.teleport",
            "true",
            "--reason",
            "x",
        ],
        &[],
        "",
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("ddd.commands.teleport"),
        "{}",
        stderr(&unknown)
    );
    let bad = troupe(
        dir.path(),
        &[
            "flags",
            "set",
            "ddd.commands.utility",
            "maybe",
            "--reason",
            "x",
        ],
        &[],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("maybe"), "{}", stderr(&bad));
    let list = flags(dir.path(), &["list"], &[]);
    assert_eq!(
        listed(&list, "ddd.commands.utility"),
        ("false".into(), "default".into())
    );
}
