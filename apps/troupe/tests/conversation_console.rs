//! `troupe console` talking to personalities through an OpenAI-compatible endpoint given by
//! configuration (`TROUPE_AI_BASE_URL` pointing at the loopback fake provider).

use std::io::Write;
use std::process::{Command, Stdio};

use troupe_testkit::ai::{AiReply, FakeAiServer};

const KEY: &str = "sk-console-secret-1";

/// Runs the console with `input` and the AI settings of `server`; returns (stdout, stderr,
/// exit code).
async fn console(
    server: &FakeAiServer,
    input: &str,
    extra: &[(&str, &str)],
) -> (String, String, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_troupe"));
    cmd.arg("console")
        .env_clear()
        .env("TROUPE_DATA_DIR", dir.path())
        .env("TROUPE_BOT_OWNERS", "42")
        .env("TROUPE_AI_BASE_URL", server.base_url())
        .env("TROUPE_AI_API_KEY", KEY)
        .env("TROUPE_AI_MODEL", "fake-model-1")
        .env("TROUPE_LOG", "debug")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let input = input.to_owned();
    let out = tokio::task::spawn_blocking(move || {
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
        drop(dir);
        out
    })
    .await
    .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_talks_to_a_personality_through_the_configured_endpoint() {
    let server = FakeAiServer::start().await;
    server.push(AiReply::answer("Hello, I am Bob."));
    server.push(AiReply::answer("Still Bob."));
    let (out, err, code) = console(
        &server,
        "!tz add bob | You are Bob the builder.\n@bob hello there\n!tz autorespond on\n@bob again\nno mention needed now\n",
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("bob: Hello, I am Bob."), "{out}");
    assert!(out.contains("bob: Still Bob."), "{out}");
    assert!(
        out.contains("bob: echo: user-42: no mention needed now"),
        "autorespond continues:\n{out}"
    );
    let chats = server.chats();
    assert_eq!(chats.len(), 3);
    let first = &chats[0];
    assert_eq!(
        first.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(first.model(), Some("fake-model-1"));
    let messages = first.messages();
    assert_eq!(messages[0]["content"], "You are Bob the builder.");
    assert_eq!(
        messages.last().unwrap()["content"],
        "user-42: @bob hello there"
    );
    let third = chats[2].messages();
    assert_eq!(
        third.len(),
        1 + 4 + 1,
        "system, two earlier exchanges, the new message"
    );
    assert!(
        !out.contains(KEY) && !err.contains(KEY),
        "the key never shows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_trouble_gives_a_clear_message_with_a_reference_in_the_console() {
    let server = FakeAiServer::start().await;
    // With a 300 ms budget the first retry (500 ms backoff) cannot start in time: one 500 ends
    // the request at once.
    server.push(AiReply::Status(500));
    server.push(AiReply::delayed(2_000, AiReply::answer("too late")));
    server.push(AiReply::Malformed);
    server.push(AiReply::answer("back again"));
    let (out, err, code) = console(
        &server,
        "!tz add bob\n@bob one\n@bob two\n@bob three\n@bob four\n",
        &[("TROUPE_AI_TIMEOUT_MS", "300")],
    )
    .await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    let failures: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("could not answer"))
        .collect();
    assert_eq!(failures.len(), 3, "{out}");
    assert!(failures[0].contains("unavailable"), "{}", failures[0]);
    assert!(failures[1].contains("too long"), "{}", failures[1]);
    assert!(failures[2].contains("cannot read"), "{}", failures[2]);
    for line in &failures {
        let reference = line.rsplit('`').nth(1).unwrap();
        assert_eq!(reference.len(), 8, "{line}");
        assert!(
            err.contains(reference),
            "the reference {reference} is logged:\n{err}"
        );
    }
    assert!(out.contains("bob: back again"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_ai_endpoint_the_console_says_how_to_configure_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("console")
        .env_clear()
        .env("TROUPE_DATA_DIR", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello bob\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("TROUPE_AI_BASE_URL"), "{out}");
}
