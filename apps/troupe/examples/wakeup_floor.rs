//! The floor of a command's CPU on this machine: what a process pays, in the kernel and in
//! tokio, for the I/O pattern of one command when it does no work at all.
//!
//! A child process plays the bot with the bot's runtime (tokio's multi-thread scheduler with
//! one worker, ADR 0050): it wakes on a frame from one loopback socket (the gateway), spawns a
//! task per frame that writes a request on a second socket and wakes again on the response
//! (the reply's HTTP round trip). The parent sends the frames at `--rate` per second (0: as fast
//! as the child takes them) and answers the requests at once. It prints the child's CPU time
//! (`/proc/<pid>/stat`, user + system) per cycle: a bot that did no work of its own would cost
//! this per command. `loadgen`'s CPU per command is to be read against it (docs/PERFORMANCE.md).
//! `--current-thread` runs the child on tokio's current-thread scheduler instead.
//!
//! ```text
//! cargo build --release -p troupe --example wakeup_floor
//! target/x86_64-unknown-linux-gnu/release/examples/wakeup_floor --rate 300 --cycles 4500
//! target/x86_64-unknown-linux-gnu/release/examples/wakeup_floor --rate 0 --cycles 20000
//! target/x86_64-unknown-linux-gnu/release/examples/wakeup_floor --rate 300 --cycles 4500 --current-thread
//! ```
//!
//! Everything stays on 127.0.0.1.

#[path = "common/proc_stat.rs"]
mod proc_stat;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// About a MESSAGE_CREATE frame; a message create request; its response.
const FRAME: usize = 1_500;
const REQUEST: usize = 400;
const RESPONSE: usize = 800;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, child, gateway, rest, flavour] = args.as_slice()
        && child == "--child"
    {
        let (Ok(gateway), Ok(rest)) = (gateway.parse(), rest.parse()) else {
            eprintln!("wakeup_floor: bad ports");
            std::process::exit(2);
        };
        runtime(flavour == "current").block_on(async move {
            // The bot runs its shard loop and its work as spawned tasks, never on the thread
            // that called `block_on`.
            let _ = tokio::spawn(child_bot(gateway, rest)).await;
        });
        return;
    }
    let mut rate = 300u64;
    let mut cycles = 4_500u64;
    let mut current = false;
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--current-thread" {
            current = true;
            continue;
        }
        let value = it.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--rate", Some(v)) => rate = v,
            ("--cycles", Some(v)) => cycles = v.max(1),
            _ => {
                eprintln!(
                    "usage: wakeup_floor [--rate N (0: at once)] [--cycles N] [--current-thread]"
                );
                std::process::exit(2);
            }
        }
    }
    let exe = args.first().cloned().unwrap_or_default();
    runtime(false).block_on(drive(exe, rate, cycles, current));
}

fn runtime(current_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(1);
        builder
    };
    builder.enable_all().build().expect("a tokio runtime")
}

/// The load side: starts the child, sends the frames, answers the requests.
async fn drive(exe: String, rate: u64, cycles: u64, current_thread: bool) {
    let gateway = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let mut child = std::process::Command::new(exe)
        .args([
            "--child".to_owned(),
            port(&gateway).to_string(),
            port(&rest).to_string(),
            if current_thread { "current" } else { "multi" }.to_owned(),
        ])
        .spawn()
        .expect("start the child");
    let (mut frames, _) = gateway.accept().await.expect("the child connects");
    let (mut requests, _) = rest.accept().await.expect("the child connects");
    let _ = frames.set_nodelay(true);
    let _ = requests.set_nodelay(true);
    let (answered_tx, mut answered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let server = tokio::spawn(async move {
        let mut request = [0u8; REQUEST];
        let response = [b'r'; RESPONSE];
        while requests.read_exact(&mut request).await.is_ok() {
            if requests.write_all(&response).await.is_err() || answered_tx.send(()).is_err() {
                break;
            }
        }
    });
    let frame = [b'f'; FRAME];
    // A warm-up, then the measured cycles.
    for _ in 0..100 {
        frames.write_all(&frame).await.expect("send");
        answered.recv().await;
    }
    let before = proc_stat::CpuTime::of(child.id());
    let start = Instant::now();
    for i in 0..cycles {
        if rate > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        frames.write_all(&frame).await.expect("send");
        if rate == 0 {
            answered.recv().await;
        }
    }
    if rate > 0 {
        for _ in 0..cycles {
            answered.recv().await;
        }
    }
    let elapsed = start.elapsed();
    let cpu = proc_stat::CpuTime::of(child.id()).since(before).total();
    println!(
        "cycles: {cycles} at {} ({:.2} s)",
        if rate > 0 {
            format!("{rate}/s")
        } else {
            "full speed".to_owned()
        },
        elapsed.as_secs_f64()
    );
    println!(
        "child CPU: {:.3} s total, {:.3} ms per cycle",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e3 / cycles as f64
    );
    server.abort();
    let _ = child.kill();
    let _ = child.wait();
}

/// The child: the bot's I/O with no work in between.
async fn child_bot(gateway: u16, rest: u16) {
    let (Ok(mut frames), Ok(mut requests)) = (
        TcpStream::connect(("127.0.0.1", gateway)).await,
        TcpStream::connect(("127.0.0.1", rest)).await,
    ) else {
        return;
    };
    let _ = frames.set_nodelay(true);
    let _ = requests.set_nodelay(true);
    let mut frame = [0u8; FRAME];
    while frames.read_exact(&mut frame).await.is_ok() {
        // One task per event, as the bot runs its work; the connection goes back with it.
        let task = tokio::spawn(async move {
            let mut response = [0u8; RESPONSE];
            let ok = requests.write_all(&[b'q'; REQUEST]).await.is_ok()
                && requests.read_exact(&mut response).await.is_ok();
            ok.then_some(requests)
        });
        match task.await {
            Ok(Some(back)) => requests = back,
            _ => return,
        }
    }
}
