//! Strict configuration and one exit-code table, driven through the real binary as an operator
//! would: every unknown `TROUPE_*`/`FEATURE_FLAG_*` variable, bad value or bad usage ends any
//! subcommand with exit code 2 and a message naming the setting (with a did-you-mean for a
//! typo); a closed stdout ends a command quietly.

mod support;

use std::path::Path;
use std::process::{Output, Stdio};

use support::{stderr, stdout, troupe};

/// Asserts exit code 2, a message naming `setting` (and `also`, when given), nothing on stdout.
fn refused(out: &Output, setting: &str, also: Option<&str>, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains(setting), "{what}: names {setting}: {err}");
    if let Some(also) = also {
        assert!(err.contains(also), "{what}: says {also:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// A data directory with a migrated store.
fn migrated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = troupe(dir.path(), &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

const SUBCOMMANDS: [&[&str]; 6] = [
    &["flags", "list"],
    &["console"],
    &["check"],
    &["backup"],
    &["migrate", "--check"],
    &["run"],
];

#[test]
fn a_misspelled_variable_stops_every_subcommand_with_exit_2_and_a_did_you_mean() {
    let dir = migrated();
    let cases = [
        (
            "TROUPE_ROLLOUT_UTILTY_PERCENT",
            "10",
            "TROUPE_ROLLOUT_UTILITY_PERCENT",
        ),
        ("TROUPE_PREFX", "!t", "TROUPE_PREFIX"),
        (
            "TROUPE_TOKEN_KEYS_PREVIOUS",
            "x",
            "TROUPE_TOKEN_KEY_PREVIOUS",
        ),
        (
            "FEATURE_FLAG_DDD_COMMANDS_UTILTY",
            "true",
            "FEATURE_FLAG_DDD_COMMANDS_UTILITY",
        ),
    ];
    for (var, value, suggestion) in cases {
        for args in SUBCOMMANDS {
            let out = troupe(dir.path(), args, &[(var, value)]);
            refused(
                &out,
                var,
                Some(&format!("did you mean {suggestion}?")),
                &format!("{var} {args:?}"),
            );
        }
    }
    // An unknown name far from every known one: named, without a guess.
    let out = troupe(
        dir.path(),
        &["flags", "list"],
        &[("TROUPE_WHATEVER_ELSE", "1")],
    );
    refused(&out, "TROUPE_WHATEVER_ELSE", Some("unknown setting"), "far");
}

#[test]
fn bad_values_exit_2_naming_the_setting_in_every_subcommand() {
    let dir = migrated();
    let cases: [(&str, &str, &str); 7] = [
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "yes", "expected true"),
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "no", "expected true"),
        ("TROUPE_PREFIX", "   ", "only whitespace"),
        ("TROUPE_TOKEN_KEY", "not-a-key", "TROUPE_TOKEN_KEY"),
        ("TROUPE_ADMIN_TOKEN", "short-token", "at least 32"),
        ("TROUPE_DATABASE_URL", "sqlite://", "needs a file path"),
        ("TROUPE_BACKUP_KEEP", "0", "from 1 to 10000"),
    ];
    for (var, value, says) in cases {
        for args in SUBCOMMANDS {
            let out = troupe(dir.path(), args, &[(var, value)]);
            refused(&out, var, Some(says), &format!("{var}={value:?} {args:?}"));
        }
    }
}

#[test]
fn test_harness_variables_do_not_stop_the_binary() {
    let dir = migrated();
    let out = troupe(
        dir.path(),
        &["flags", "list"],
        &[
            ("TROUPE_TEST_POSTGRES_URL", "postgres://x@127.0.0.1/test"),
            ("TROUPE_BENCH_POSTGRES_URL", "postgres://x@127.0.0.1/bench"),
            ("TROUPE_URL", "http://127.0.0.1:3000"),
            ("TROUPE_LOG", "warn"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Every `TROUPE_OAUTH_*` setting, valid, pointing at a port nothing listens on.
const OAUTH: [(&str, &str); 5] = [
    ("TROUPE_OAUTH_AUTHORIZE_URL", "http://127.0.0.1:9/authorize"),
    ("TROUPE_OAUTH_TOKEN_URL", "http://127.0.0.1:9/token"),
    ("TROUPE_OAUTH_CLIENT_ID", "troupe"),
    ("TROUPE_OAUTH_CLIENT_SECRET", "client-secret-never-shown"),
    ("TROUPE_OAUTH_REDIRECT_URL", "http://127.0.0.1:9/callback"),
];

#[test]
fn oauth_without_a_token_key_is_refused_at_start_with_exit_2_and_keygen_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = OAUTH.to_vec();
    env.push(("DISCORD_TOKEN", "not-a-real-token"));
    for args in [&["console"][..], &["run"][..]] {
        let out = troupe(dir.path(), args, &env);
        refused(
            &out,
            "TROUPE_TOKEN_KEY",
            Some("troupe keygen"),
            &format!("{args:?}"),
        );
        assert!(!stderr(&out).contains("client-secret-never-shown"));
    }
    assert!(
        !dir.path().join("troupe.db").exists(),
        "refused before the store was created"
    );
    // The way out works with the same settings.
    let keygen = troupe(dir.path(), &["keygen"], &env);
    assert_eq!(keygen.status.code(), Some(0), "{}", stderr(&keygen));
    let key = stdout(&keygen).trim().to_owned();
    env.push(("TROUPE_TOKEN_KEY", &key));
    let console = troupe(dir.path(), &["console"], &env);
    assert_eq!(console.status.code(), Some(0), "{}", stderr(&console));
}

#[test]
fn usage_errors_of_subcommands_exit_2() {
    let dir = migrated();
    let run = troupe(dir.path(), &["run"], &[]);
    refused(
        &run,
        "DISCORD_TOKEN",
        Some("required"),
        "run without a token",
    );

    let set = |args: &[&str]| {
        let mut all = vec!["flags", "set", "ddd.commands.utility", "true"];
        all.extend_from_slice(args);
        troupe(dir.path(), &all, &[])
    };
    refused(
        &set(&["--reason", ""]),
        "--reason",
        Some("empty"),
        "empty reason",
    );
    refused(
        &set(&["--reason", "  "]),
        "--reason",
        Some("empty"),
        "blank reason",
    );
    refused(
        &set(&[
            "--reason",
            "ok\nddd.commands.enabled true -> false by ops: forged",
        ]),
        "--reason",
        Some("control character"),
        "newline",
    );
    refused(
        &set(&["--reason", "\u{1b}[2Jcleared"]),
        "--reason",
        Some("control character"),
        "escape sequence",
    );
    let long = "r".repeat(100_000);
    refused(
        &set(&["--reason", &long]),
        "--reason",
        Some("at most 500"),
        "long",
    );
    let actor = "a".repeat(201);
    refused(
        &set(&["--reason", "ok", "--actor", &actor]),
        "--actor",
        Some("at most 200"),
        "long actor",
    );
    // The default actor (the OS user) is held to the same rules.
    let user = "u".repeat(201);
    let by_user = troupe(
        dir.path(),
        &[
            "flags",
            "set",
            "ddd.commands.utility",
            "true",
            "--reason",
            "ok",
        ],
        &[("USER", &user)],
    );
    refused(&by_user, "the actor", Some("at most 200"), "long $USER");
    // Nothing of the refused changes was stored.
    let audit = troupe(dir.path(), &["flags", "audit"], &[]);
    assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
    assert!(stdout(&audit).is_empty(), "{}", stdout(&audit));

    let keep = troupe(dir.path(), &["backup", "--keep", "0"], &[]);
    assert_eq!(keep.status.code(), Some(2), "{}", stderr(&keep));
    assert!(stderr(&keep).contains("1 to 10000"), "{}", stderr(&keep));
    assert!(
        !dir.path().join("backups").exists()
            || std::fs::read_dir(dir.path().join("backups"))
                .unwrap()
                .next()
                .is_none(),
        "no backup was taken"
    );

    let import = troupe(dir.path(), &["import-legacy", "/no/such/dir"], &[]);
    refused(&import, "/no/such/dir", Some("not a directory"), "import");
}

#[test]
fn help_lists_one_exit_code_table_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let help = troupe(dir.path(), &["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for line in [
        "Exit codes (every subcommand):",
        "0  success",
        "1  the operation failed",
        "2  invalid configuration or usage",
        "3  a problem found in the data",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

/// Runs `args` with stdout connected to a pipe whose reading end is already closed.
fn into_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = support::command(dir, args, &[])
        .stdout(Stdio::from(writer))
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let dir = migrated();
    let list = into_closed_pipe(dir.path(), &["flags", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(stderr(&list).is_empty(), "quiet: {}", stderr(&list));

    let legacy = tempfile::tempdir().unwrap();
    std::fs::write(legacy.path().join("personalities.json"), PERSONALITIES).unwrap();
    let import = into_closed_pipe(
        dir.path(),
        &["import-legacy", legacy.path().to_str().unwrap()],
    );
    assert_eq!(import.status.code(), Some(0), "{}", stderr(&import));
    assert!(!stderr(&import).contains("panicked"), "{}", stderr(&import));
    // The import was committed although its report could not be printed.
    let check = troupe(dir.path(), &["check", "--json"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let report: serde_json::Value = serde_json::from_str(&stdout(&check)).unwrap();
    assert_eq!(report["rows"]["personalities"], 1, "{report}");
}

/// One personality in the original bot's format.
const PERSONALITIES: &str = r#"{
  "albert-einstein": {
    "fullName": "albert-einstein",
    "addedBy": "123456789012345678",
    "addedAt": "2024-03-01T12:00:00.000Z",
    "displayName": "Albert Einstein",
    "avatarUrl": "https://cdn.example/einstein.png",
    "errorMessage": "My brain hurts",
    "lastUpdated": "2024-03-02T08:30:00.123Z"
  }
}"#;
