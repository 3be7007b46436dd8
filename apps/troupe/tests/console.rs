//! `troupe console` driven like a newcomer drives it: lines on standard input, answers on
//! standard output, SQLite in a fresh data directory, no other configuration.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the console with `input` in a fresh data directory and returns (stdout, exit code).
fn console(data_dir: &std::path::Path, input: &str, env: &[(&str, &str)]) -> (String, Option<i32>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_troupe"));
    cmd.arg("console")
        .env_clear()
        .env("TROUPE_DATA_DIR", data_dir)
        .env("TROUPE_BOT_OWNERS", "42")
        .current_dir(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("troupe starts");
    // Written from a thread so a child that answers while reading cannot fill its stdout
    // pipe and block; a child that exits before reading (a refused configuration)
    // closes the pipe, which is for the caller to judge by the exit code.
    let mut stdin_pipe = child.stdin.take().expect("stdin");
    let bytes: Vec<u8> = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        if let Err(e) = stdin_pipe.write_all(&bytes) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "input written: {e}"
            );
        }
    });
    let out = child.wait_with_output().expect("troupe finishes");
    writer.join().expect("stdin writer");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// Every command once, with the heading each answer must carry.
const SCRIPT: &[(&str, &str)] = &[
    ("!tz help", "Troupe commands"),
    ("!tz ping", "Pong"),
    (
        "!tz add einstein \"albert e\" | You are Albert Einstein.",
        "Personality created",
    ),
    ("!tz info albert e", "Personality info"),
    ("!tz alias einstein ae", "Alias added"),
    ("!tz list", "Your personalities"),
    ("!tz activate einstein", "Personality activated"),
    ("!tz deactivate", "Personality deactivated"),
    ("!tz reset einstein", "einstein"),
    ("!tz autorespond on", "Autorespond"),
    ("!tz verify", "Verified"),
    ("!tz notifications level patch", "Notifications"),
    ("!tz debug stats", "Debug stats"),
    ("!tz auth status", "Authenticat"),
    ("!tz volumetest", "Volume test"),
    ("!tz status", "Troupe status"),
    (":dm", "direct message"),
    ("!tz purgbot", "deleted"),
    (":guild", "server channel"),
    ("!tz remove einstein", "Personality removed"),
];

#[test]
fn the_console_answers_every_one_of_the_18_commands() {
    let dir = tempfile::tempdir().unwrap();
    let input: String = SCRIPT.iter().flat_map(|(line, _)| [*line, "\n"]).collect();
    let (out, code) = console(dir.path(), &input, &[]);
    assert_eq!(code, Some(0), "exits 0 at end of input:\n{out}");
    let mut rest = out.as_str();
    for (line, expected) in SCRIPT {
        let at = rest
            .find(expected)
            .unwrap_or_else(|| panic!("no {expected:?} after {line:?} in:\n{rest}"));
        rest = &rest[at + expected.len()..];
    }
    let commands: std::collections::BTreeSet<&str> = SCRIPT
        .iter()
        .filter_map(|(line, _)| {
            line.strip_prefix("!tz ")
                .and_then(|l| l.split_whitespace().next())
        })
        .collect();
    assert_eq!(commands.len(), 18, "{commands:?}");
}

#[test]
fn the_console_keeps_its_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, code) = console(dir.path(), "!tz add newton\n", &[]);
    assert_eq!(code, Some(0));
    let (_, _) = console(dir.path(), "!tz volumetest\n", &[]);
    let (out, _) = console(dir.path(), "!tz info newton\n!tz volumetest\n", &[]);
    assert!(out.contains("Personality info"), "{out}");
    assert!(out.contains("Earlier entries: 1"), "{out}");
}

#[test]
fn unknown_commands_and_non_commands_get_a_clear_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (out, code) = console(
        dir.path(),
        "!tz frobnicate\n!tzping\n:as 7\n!tz volumetest\n:nonsense\n",
        &[],
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("Unknown command `frobnicate`"), "{out}");
    assert!(out.contains("Now speaking as 7"), "{out}");
    assert!(
        !out.contains("Volume test\n"),
        "user 7 is no bot owner:\n{out}"
    );
}

#[test]
fn a_broken_configuration_stops_the_console_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, code) = console(
        dir.path(),
        "",
        &[("FEATURE_FLAG_DDD_COMMANDS_WARP", "true")],
    );
    assert_eq!(code, Some(2));
    let (_, code) = console(dir.path(), "", &[("TROUPE_HTTP_ADDR", "nowhere")]);
    assert_eq!(code, Some(2));
}

#[test]
fn the_emergency_rollback_flag_keeps_every_command_on_legacy_and_full_rollout_moves_them() {
    let dir = tempfile::tempdir().unwrap();
    let rolled_out = [
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ];
    let (out, _) = console(dir.path(), "!tz status\n", &rolled_out);
    assert!(out.contains("Command system: ddd"), "{out}");
    let mut rollback = rolled_out.to_vec();
    rollback[0] = ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "false");
    let (out, _) = console(dir.path(), "!tz status\n", &rollback);
    assert!(out.contains("Command system: legacy"), "{out}");
}

#[test]
fn corrections_run_and_an_identical_command_that_just_succeeded_gets_a_one_line_note() {
    let dir = tempfile::tempdir().unwrap();
    let script = [
        "!tz add tab al",
        "!tz add beta \"al\"",
        "!tz add beta \"be\"",
        "!tz add admin",
        "!tz add ADMIN",
        "!tz add gamma",
        "!tz remove gamma",
        "!tz add gamma",
        "!tz info beta",
        "!tz info beta",
    ];
    let input: String = script.iter().flat_map(|l| [*l, "\n"]).collect();
    let (out, code) = console(dir.path(), &input, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Aliases: `be`"),
        "the corrected add ran:\n{out}"
    );
    assert_eq!(
        out.matches("Personality created").count(),
        4,
        "tab, beta, gamma twice:\n{out}"
    );
    assert_eq!(
        out.matches("reserved").count(),
        2,
        "both reserved-name attempts answered:\n{out}"
    );
    assert_eq!(out.matches("Personality info").count(), 1, "{out}");
    assert!(
        out.contains("(Not run again: the identical command succeeded less than 3 seconds ago.)"),
        "{out}"
    );
}

/// Runs the console with raw bytes as input.
fn console_bytes(data_dir: &std::path::Path, input: &[u8]) -> (String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("console")
        .env_clear()
        .env("TROUPE_DATA_DIR", data_dir)
        .env("TROUPE_BOT_OWNERS", "42")
        .current_dir(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("troupe starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("troupe finishes");
    writer.join().unwrap().expect("input written");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn a_line_that_is_not_utf8_gets_one_error_line_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = b"!tz add alpha\n!tz info \xff\xfe bad\n".to_vec();
    input.extend_from_slice(b"!tz info alpha\n");
    let (out, code) = console_bytes(dir.path(), &input);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("not valid UTF-8").count(), 1, "{out}");
    assert!(out.contains("Line 2 skipped"), "{out}");
    assert!(
        out.contains("Personality info"),
        "the line after it ran:\n{out}"
    );
}

#[test]
fn unknown_console_directives_are_refused_not_sent_as_chat() {
    let dir = tempfile::tempdir().unwrap();
    let (out, code) = console(dir.path(), ":bogus\n:DM\n:Guild\n", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Unknown console command `:bogus`") && out.contains("`:help`"),
        "{out}"
    );
    // Directives are case-insensitive.
    assert!(out.contains("Now talking in a direct message."), "{out}");
    assert!(out.contains("Now talking in the server channel"), "{out}");
    assert!(!out.contains("Not a command"), "{out}");
}

#[test]
fn replies_are_plain_terminal_text_without_markdown_escapes_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let (out, code) = console(
        dir.path(),
        "!tz add alpha\n!tz add beta\n!tz alias alpha al\n!tz alias beta al\n",
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("moved from alpha to beta"), "{out}");
    assert!(!out.contains("**"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "no terminal styles when piped:\n{out}"
    );
}

#[test]
fn two_consoles_started_at_once_on_one_store_lose_no_command() {
    let dir = tempfile::tempdir().unwrap();
    // Create the store once, so both consoles start on a migrated database.
    let (_, code) = console(dir.path(), "!tz ping\n", &[]);
    assert_eq!(code, Some(0));
    const LINES: usize = 400;
    let script = |who: &str| -> String {
        (0..LINES).fold(String::new(), |mut s, i| {
            s.push_str(&format!("!tz info {who}-{i}\n"));
            s
        })
    };
    let (a, b) = (script("a"), script("b"));
    let (dir_a, dir_b) = (dir.path().to_owned(), dir.path().to_owned());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (ba, bb) = (barrier.clone(), barrier);
    let first = std::thread::spawn(move || {
        ba.wait();
        console(&dir_a, &a, &[])
    });
    let second = std::thread::spawn(move || {
        bb.wait();
        console(&dir_b, &b, &[])
    });
    for (who, (out, code)) in [("a", first.join().unwrap()), ("b", second.join().unwrap())] {
        assert_eq!(code, Some(0), "{who}: {out}");
        assert_eq!(
            out.matches("Personality not found").count(),
            LINES,
            "console {who} answered every line"
        );
    }
}
