//! Operations benchmarks (issue 8, docs/PERFORMANCE.md "Operations"):
//!
//! 1. one process: from the admin API call turning `ddd.commands.enabled` off to the first
//!    command served by legacy (target < 100 ms);
//! 2. two processes sharing PostgreSQL (`TROUPE_BENCH_POSTGRES_URL`): the call goes to a
//!    `troupe console --http` child, the command runs here, which LISTENs for flag changes
//!    (polling every 250 ms as the safety net; target < 50 ms);
//! 3. `/health` and `/metrics` at 2,000 requests/s on loopback for 10 s while commands run
//!    (target p99 < 10 ms).
//!
//! Run: `cargo run --release -p troupe --example ops_bench` (with
//! `TROUPE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/troupe_bench` for 2).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use troupe::config::Config;
use troupe::console::ConsolePlatform;
use troupe::http_wiring::{NoGateway, Operations, ServeOptions, serve_with};
use troupe::wiring::App;
use troupe_application::SystemKind;
use troupe_application::{Invoker, Location, Permissions, RequestSource};
use troupe_domain::{ChannelId, MessageId, UserId};

const TOKEN: &str = "bench-admin-token-0123456789abcdef";
const ON: &[(&str, &str)] = &[
    ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
];

fn config(database: &str, dir: &std::path::Path) -> Config {
    let mut env: Vec<(String, String)> = ON
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend([
        ("TROUPE_DATA_DIR".into(), dir.display().to_string()),
        ("TROUPE_DATABASE_URL".into(), database.to_owned()),
        ("TROUPE_HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("TROUPE_ADMIN_TOKEN".into(), TOKEN.into()),
        ("TROUPE_AUTO_MIGRATE".into(), "true".into()),
    ]);
    Config::from_sources(&BTreeMap::new(), env).expect("valid configuration")
}

static NEXT: AtomicU64 = AtomicU64::new(1 << 40);

/// Runs `!tz <command>` as a fresh user (no identical-command guard) and says who served it.
async fn command(app: &App, text: &str) -> Option<SystemKind> {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let user = UserId::new(n).ok()?;
    let invoker = Invoker {
        id: user,
        display_name: "bench".into(),
        is_bot_owner: false,
        permissions: Permissions::default(),
        via_proxy: false,
    };
    let location = Location::Dm {
        channel: ChannelId::new(7).ok()?,
    };
    let d = app
        .dispatcher
        .dispatch_text(
            text,
            invoker,
            location,
            RequestSource::Message(MessageId::new(n).ok()?),
            app.deps.clock.now(),
        )
        .await?;
    d.served_by
}

/// One HTTP/1.1 request on a kept-alive connection; returns the status.
async fn request(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<u16> {
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\
         {content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

async fn connect(addr: std::net::SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    BufReader::new(stream)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn reset(app: &App) {
    app.flags
        .change(
            "ddd.commands.enabled",
            None,
            "bench",
            "reset",
            app.deps.clock.now(),
        )
        .await
        .expect("reset");
}

async fn one_process(rounds: usize) {
    let dir = tempfile_dir();
    let url = format!("sqlite://{}", dir.join("troupe.db").display());
    let config = config(&url, &dir);
    let ops = Operations::new(&config).expect("ops");
    let app = App::build(
        config,
        Arc::new(ConsolePlatform::new()),
        Some(ops.observer()),
    )
    .await
    .expect("app");
    let _watcher = app.spawn_flag_watcher(Duration::from_millis(250));
    let http = serve_with(&app, &ops, Arc::new(NoGateway), no_backups())
        .await
        .expect("serve");
    let mut conn = connect(http.local_addr()).await;
    let mut took = Vec::new();
    for _ in 0..rounds {
        reset(&app).await;
        assert_eq!(command(&app, "!tz ping").await, Some(SystemKind::New));
        let started = Instant::now();
        let status = request(&mut conn, "POST", "/admin/rollback", "")
            .await
            .expect("rollback");
        assert_eq!(status, 200);
        while command(&app, "!tz ping").await != Some(SystemKind::Legacy) {}
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "1. one process, admin rollback -> first legacy command ({rounds} rounds): median {}, p99 {}, max {}",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        ms(*took.last().expect("rounds"))
    );
    http.shutdown().await;
}

async fn two_processes(pg: &str, rounds: usize) {
    let dir = tempfile_dir();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let exe = std::env::current_exe().expect("exe");
    let troupe = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("troupe"))
        .expect("target dir");
    let mut child = std::process::Command::new(troupe)
        .args(["console", "--http"])
        .env("TROUPE_DATA_DIR", &dir)
        .env("TROUPE_DATABASE_URL", pg)
        .env("TROUPE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("TROUPE_ADMIN_TOKEN", TOKEN)
        .env("TROUPE_BACKUP_SCHEDULE", "off")
        .env("TROUPE_AUTO_MIGRATE", "true")
        .envs(ON.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("troupe console --http (build it first: cargo build --release -p troupe)");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut conn = loop {
        if let Ok(s) = TcpStream::connect(addr).await {
            break BufReader::new(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let config = config(pg, &dir);
    let ops = Operations::new(&config).expect("ops");
    let app = App::build(
        config,
        Arc::new(ConsolePlatform::new()),
        Some(ops.observer()),
    )
    .await
    .expect("app");
    let _watcher = app.spawn_flag_watcher(Duration::from_millis(250));
    let mut took = Vec::new();
    for _ in 0..rounds {
        reset(&app).await;
        while command(&app, "!tz ping").await != Some(SystemKind::New) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = Instant::now();
        let status = request(&mut conn, "POST", "/admin/rollback", "")
            .await
            .expect("rollback");
        assert_eq!(status, 200);
        while command(&app, "!tz ping").await != Some(SystemKind::Legacy) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "2. two processes on PostgreSQL, admin rollback in A -> first legacy command in B ({rounds} rounds): median {}, p99 {}, max {}",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        ms(*took.last().expect("rounds"))
    );
    let _ = child.kill();
    let _ = child.wait();
}

async fn http_load(rate: u64, seconds: u64, command_rate: u64) {
    let dir = tempfile_dir();
    let url = format!("sqlite://{}", dir.join("troupe.db").display());
    let config = config(&url, &dir);
    let ops = Operations::new(&config).expect("ops");
    let app = Arc::new(
        App::build(
            config,
            Arc::new(ConsolePlatform::new()),
            Some(ops.observer()),
        )
        .await
        .expect("app"),
    );
    let http = serve_with(&app, &ops, Arc::new(NoGateway), no_backups())
        .await
        .expect("serve");
    let addr = http.local_addr();
    let deadline = Instant::now() + Duration::from_secs(seconds);

    // Command load beside the HTTP load.
    let commands = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / command_rate));
            let mut n = 0u64;
            let texts = [
                "!tz ping",
                "!tz list",
                "!tz status",
                "!tz help",
                "!tz info nobody",
            ];
            while Instant::now() < deadline {
                tick.tick().await;
                command(&app, texts[(n % 5) as usize]).await;
                n += 1;
            }
            n
        })
    };

    let connections = 16u64;
    let per = rate / connections;
    let mut tasks = Vec::new();
    for c in 0..connections {
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(addr).await;
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut lat = (Vec::new(), Vec::new());
            let mut service = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let scheduled = tick.tick().await;
                let metrics = i % 2 == 1;
                let path = if metrics { "/metrics" } else { "/health" };
                let sent = Instant::now();
                match request(&mut conn, "GET", path, "").await {
                    Ok(200) => {
                        // Latency from the scheduled send time (no coordinated omission).
                        let took = scheduled.elapsed();
                        service.push(sent.elapsed());
                        if metrics {
                            lat.1.push(took);
                        } else {
                            lat.0.push(took);
                        }
                    }
                    _ => errors += 1,
                }
                i += 1;
            }
            (lat, service, errors)
        }));
    }
    let (mut health, mut metrics, mut service, mut errors) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    for t in tasks {
        let ((h, m), s, e) = t.await.expect("load task");
        health.extend(h);
        metrics.extend(m);
        service.extend(s);
        errors += e;
    }
    service.sort();
    let ran = commands.await.expect("commands");
    health.sort();
    metrics.sort();
    let total = health.len() + metrics.len();
    println!(
        "3. {total} requests in {seconds} s ({:.0}/s) on {connections} connections, {ran} commands beside them, {errors} errors",
        total as f64 / seconds as f64
    );
    for (name, l) in [("/health", &health), ("/metrics", &metrics)] {
        println!(
            "   {name:<9} p50 {}, p99 {}, max {}",
            ms(percentile(l, 0.5)),
            ms(percentile(l, 0.99)),
            ms(*l.last().unwrap_or(&Duration::ZERO))
        );
    }
    println!(
        "   service time (from the actual send, both paths): p50 {}, p99 {}",
        ms(percentile(&service, 0.5)),
        ms(percentile(&service, 0.99))
    );
    http.shutdown().await;
}

fn no_backups() -> ServeOptions {
    ServeOptions {
        schedule_backups: false,
        backup_check_every: Duration::from_secs(3600),
        backup_worker: troupe::backups::BackupWorker::InProcess,
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "troupe-ops-bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds = 50;
    one_process(rounds).await;
    match std::env::var("TROUPE_BENCH_POSTGRES_URL") {
        Ok(pg) => two_processes(&pg, 20).await,
        Err(_) => println!("2. skipped: set TROUPE_BENCH_POSTGRES_URL"),
    }
    http_load(2_000, 10, 100).await;
}
