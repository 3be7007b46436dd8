//! The shared harness of the command-line tests (flags_cli, maintenance_cli, migrate_cli,
//! strict_config): the real binary run as an operator runs it, with a clean environment, a
//! data directory, and the `sqlite3` client standing in for an external tool.
#![allow(dead_code, unreachable_pub)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `troupe <args>` with only `TROUPE_DATA_DIR=dir`, `TROUPE_LOG=off` and `env` set, in `dir`,
/// stdout and stderr captured, stdin empty.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
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
    cmd
}

/// Runs `troupe <args>` (see [`command`]) to its end.
pub fn troupe(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("troupe runs")
}

/// Like [`troupe`], with `input` on stdin. The input is written from a thread, so a child that
/// answers while reading cannot fill its stdout pipe and block; a child that exits before
/// reading (a refused configuration) closes the pipe, which is for the caller to judge by the
/// exit code.
pub fn troupe_with_input(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut child = command(dir, args, env)
        .stdin(Stdio::piped())
        .spawn()
        .expect("troupe starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let bytes = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        if let Err(e) = stdin.write_all(&bytes) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "input written: {e}"
            );
        }
    });
    let out = child.wait_with_output().expect("troupe finishes");
    writer.join().expect("stdin writer");
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// Runs `sql` on the SQLite file `db` with the `sqlite3` client (as an external tool would;
/// `.ci/run` installs it). `false`, saying SKIPPED, when the client is not installed.
pub fn sqlite3(db: &Path, sql: &str) -> bool {
    let Ok(out) = Command::new("sqlite3").arg(db).arg(sql).output() else {
        eprintln!("SKIPPED: the sqlite3 command-line client is not installed");
        return false;
    };
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    true
}
