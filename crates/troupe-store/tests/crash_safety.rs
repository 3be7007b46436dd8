//! No acknowledged write is lost when the process is killed (SIGKILL): the test re-runs its own
//! binary as a child that writes in a loop and acknowledges each committed write on stdout,
//! kills it mid-flight, reopens the database and finds every acknowledged write.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use troupe_domain::conversation::ChannelActivation;
use troupe_domain::{ChannelId, UserId};
use troupe_ports::{ConversationRepository, PersonalityRepository};
use troupe_store::Store;

const CHILD_URL: &str = "TROUPE_CRASH_CHILD_URL";
const TEST_NAME: &str = "every_acknowledged_write_survives_a_sigkill_of_the_writing_process";

fn name(n: u64) -> String {
    format!("crash-{n}")
}

/// The child: writes until killed (or, as a safety net, for at most 60 s).
fn write_until_killed(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(url, common::options()).await.unwrap();
        let started = Instant::now();
        let mut out = std::io::stdout();
        for n in 1.. {
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let p =
                common::fill::personality(&name(n), n, &format!("Crash {n}"), &[&format!("c{n}")]);
            store.insert(&p).await.unwrap();
            store
                .activate(&ChannelActivation {
                    channel: ChannelId::new(n).unwrap(),
                    personality: p.name().clone(),
                    activated_by: UserId::new(n).unwrap(),
                    activated_at: common::fill::at(0),
                })
                .await
                .unwrap();
            writeln!(out, "ack {n}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn every_acknowledged_write_survives_a_sigkill_of_the_writing_process() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        write_until_killed(&url);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = 0u64;
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(n) = line.strip_prefix("ack ") {
            acked = n.trim().parse().unwrap();
        }
        if acked >= 150 || started.elapsed() > Duration::from_secs(30) {
            // SIGKILL on Unix: no destructor, no flush, no clean close.
            child.kill().unwrap();
            break;
        }
    }
    let _ = child.wait();
    assert!(acked >= 20, "the child acknowledged only {acked} writes");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&url, common::options()).await.unwrap();
        for n in 1..=acked {
            let p = store.lookup(&format!("c{n}")).await.unwrap();
            assert_eq!(
                p.map(|p| p.name().as_str().to_owned()),
                Some(name(n)),
                "acknowledged write {n} of {acked} is present"
            );
            assert!(
                store
                    .activation(ChannelId::new(n).unwrap())
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        let report = store.check().await.unwrap();
        assert!(report.is_ok(), "{report}");
    });
}
