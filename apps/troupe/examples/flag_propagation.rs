//! Cross-process flag propagation (issue 11, docs/PERFORMANCE.md "Flag propagation"): process A
//! (this one) changes `ddd.commands.enabled` through `Flags::change`; process B (a child of the
//! same executable) runs the bot's flag watcher (`troupe::wiring::watch_flags`) and reports the
//! moment its snapshot shows the new value. Both read the same clock (one host).
//!
//! Run: `TROUPE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/troupe_bench \
//!       cargo run --release -p troupe --example flag_propagation [rounds]`
//! (the database must exist; its flags are changed). Prints the propagation with LISTEN/NOTIFY
//! and, for comparison, with polling only (the SQLite path and the safety net).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use troupe_application::flags::{EnvFlags, FlagName, Flags};
use troupe_domain::Timestamp;
use troupe_ports::{
    FlagAuditEntry, FlagChange, FlagNotifications, FlagStore, StoreError, StoredFlag,
};
use troupe_store::{Store, StoreOptions};

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// The store without push notifications: the watcher polls only.
struct PollOnly(Store);

#[async_trait]
impl FlagStore for PollOnly {
    async fn values(&self) -> Result<Vec<StoredFlag>, StoreError> {
        self.0.values().await
    }
    async fn apply(&self, change: &FlagChange) -> Result<Option<bool>, StoreError> {
        self.0.apply(change).await
    }
    async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        self.0.audit(limit).await
    }
    async fn version(&self) -> Result<u64, StoreError> {
        self.0.version().await
    }
    async fn subscribe(&self) -> Result<Option<Box<dyn FlagNotifications>>, StoreError> {
        Ok(None)
    }
}

async fn open(url: &str) -> Store {
    Store::open(url, StoreOptions::default())
        .await
        .expect("the bench database opens")
}

/// Process B: watch, and print `<micros> <value>` whenever the kill switch changes.
async fn watch(url: &str, poll_only: bool) {
    let store = open(url).await;
    let port: Arc<dyn FlagStore> = if poll_only {
        Arc::new(PollOnly(store))
    } else {
        Arc::new(store)
    };
    let flags = Arc::new(
        Flags::load(EnvFlags::default(), BTreeMap::new(), Arc::clone(&port))
            .await
            .expect("flags load"),
    );
    tokio::spawn(troupe::wiring::watch_flags(
        Arc::clone(&flags),
        port,
        Duration::from_millis(250),
    ));
    let mut last = flags.snapshot().get(FlagName::Enabled);
    println!("ready {last}");
    loop {
        let now = flags.snapshot().get(FlagName::Enabled);
        if now != last {
            println!("{} {now}", now_micros());
            last = now;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Process A: `rounds` changes, each timed until B reports it.
async fn drive(url: &str, rounds: usize, poll_only: bool) -> Vec<f64> {
    let store = Arc::new(open(url).await);
    let flags = Flags::load(EnvFlags::default(), BTreeMap::new(), store)
        .await
        .expect("flags load");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--watch", url])
        .args(poll_only.then_some("--poll-only"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("process B starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("B is ready").expect("line");
    let mut value = ready.ends_with("true");
    // Let B's listener subscribe before the first change.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut took = Vec::new();
    for _ in 0..rounds {
        value = !value;
        let started = now_micros();
        flags
            .change(
                "ddd.commands.enabled",
                Some(value),
                "bench",
                "propagation bench",
                Timestamp::from_millis(0),
            )
            .await
            .expect("change");
        let line = lines.next().expect("B reports").expect("line");
        let seen: u128 = line
            .split_whitespace()
            .next()
            .and_then(|t| t.parse().ok())
            .expect("a timestamp");
        #[allow(clippy::cast_precision_loss)]
        took.push(seen.saturating_sub(started) as f64 / 1000.0);
        // Changes spaced out so each is measured on its own.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    took.sort_by(f64::total_cmp);
    took
}

fn report(label: &str, took: &[f64]) {
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((took.len() - 1) as f64 * q).round() as usize;
        took[i]
    };
    println!(
        "{label}: {} changes, A's change -> B applied: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        took.len(),
        at(0.5),
        at(0.95),
        took.last().copied().unwrap_or_default()
    );
    let _ = std::io::stdout().flush();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--watch") {
        let url = args.get(1).expect("url");
        watch(url, args.iter().any(|a| a == "--poll-only")).await;
        return;
    }
    let Ok(url) = std::env::var("TROUPE_BENCH_POSTGRES_URL") else {
        println!("skipped: set TROUPE_BENCH_POSTGRES_URL to an existing PostgreSQL database");
        return;
    };
    let rounds = args.first().and_then(|r| r.parse().ok()).unwrap_or(50);
    report(
        "PostgreSQL, LISTEN/NOTIFY",
        &drive(&url, rounds, false).await,
    );
    report(
        "PostgreSQL, polling only (250 ms)",
        &drive(&url, rounds.min(20), true).await,
    );
}
