//! The broker hop of the gateway/worker mode, measured against a local NATS server:
//!
//! - latency: one event at a time, from the gateway's publish call to the worker holding the
//!   delivery (what the hop adds to every answer), p50/p99/max;
//! - throughput: a burst published the way a gateway does (in order, each confirmed before the
//!   next) while a worker consumes and acknowledges, events per second end to end.
//!
//! Payloads are 1.5 KB, about a relayed MESSAGE_CREATE. Run (docs/PERFORMANCE.md):
//! `cargo run --release -p troupe-broker --example broker_hop` (NATS at 127.0.0.1:4222 with
//! JetStream, or `TROUPE_BENCH_NATS_URL`; `TROUPE_BENCH_EVENTS` sets the burst, default 20000).

use std::time::{Duration, Instant};

use troupe_broker::{Broker, BrokerConfig};
use troupe_ports::{EventRelay, RelayedEvent};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn event(n: u64, payload: &[u8]) -> RelayedEvent {
    RelayedEvent {
        id: format!("MESSAGE_CREATE-{n}"),
        kind: "MESSAGE_CREATE",
        payload: payload.to_vec(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("TROUPE_BENCH_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let burst: u64 = std::env::var("TROUPE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if !troupe_broker::reachable(&url, Duration::from_secs(2)).await {
        eprintln!("no NATS server at {url}");
        std::process::exit(1);
    }
    let config = BrokerConfig {
        stream: format!("TROUPE_BENCH_{}", std::process::id()),
        batch: 64,
        ..BrokerConfig::new(url)
    };
    let broker = Broker::connect(config).await.expect("JetStream");
    let relay = broker.relay();
    let mut deliveries = broker.deliveries().await.expect("consumer");
    let payload = vec![b'x'; 1500];

    // Latency: one at a time.
    let mut hops = Vec::new();
    for n in 0..2_000u64 {
        let start = Instant::now();
        relay.publish(event(n, &payload)).await.expect("published");
        let delivery = deliveries.next().await.expect("open").expect("delivered");
        hops.push(start.elapsed());
        delivery.ack().await;
    }
    hops.sort();
    println!(
        "hop latency (publish confirmed + delivered), {} events: p50 {:?}, p99 {:?}, max {:?}",
        hops.len(),
        percentile(&hops, 0.5),
        percentile(&hops, 0.99),
        hops[hops.len() - 1]
    );

    // Throughput: a burst, consumed and acknowledged while it is published.
    let consumer = tokio::spawn(async move {
        let mut received = 0u64;
        while received < burst {
            let delivery = deliveries.next().await.expect("open").expect("delivered");
            delivery.ack().await;
            received += 1;
        }
        Instant::now()
    });
    let start = Instant::now();
    for n in 0..burst {
        relay
            .publish(event(1_000_000 + n, &payload))
            .await
            .expect("published");
    }
    let published = start.elapsed();
    let consumed = consumer.await.expect("consumer").duration_since(start);
    println!(
        "burst of {burst}: published (each confirmed, in order) at {:.0}/s, consumed and acknowledged at {:.0}/s",
        burst as f64 / published.as_secs_f64(),
        burst as f64 / consumed.as_secs_f64()
    );
    broker.delete_stream().await.expect("cleaned up");
}
