//! `GET /health/fleet` and the fleet-wide confirmation of flag changes (issue 16): the fleet
//! document names every process and flags one behind a change older than 1 s and shard
//! overlaps or gaps; `?confirm=` on the rollback and flag routes waits for every live process
//! and answers 200 when all applied it, 202 naming those that did not.

mod support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use troupe_domain::Timestamp;
use troupe_ports::{FlagStore as _, LiveProcess, ProcessRecord, ShardSpan};

use support::{TOKEN, World, call, get, world};

fn process(id: &str, shards: Option<(u32, std::ops::Range<u32>)>, flags: u64) -> LiveProcess {
    LiveProcess {
        record: ProcessRecord {
            id: id.into(),
            host: format!("host-{id}"),
            version: "0.1.0".into(),
            role: "run".into(),
            shards: shards.map(|(total, range)| ShardSpan { total, range }),
            gateway: "connected".into(),
            flag_version: flags,
            started_at: Timestamp::from_millis(1_750_000_000_000),
        },
        last_seen_ago: Duration::from_millis(700),
    }
}

fn set_processes(w: &World, processes: Vec<LiveProcess>) {
    *w.fleet.processes.lock().unwrap() = processes;
}

#[tokio::test]
async fn the_fleet_document_lists_every_process_and_flags_lag_and_shard_gaps() {
    let w = world(&[], None).await;
    let version = w.store.version().await.unwrap();
    set_processes(
        &w,
        vec![
            process("a", Some((4, 0..2)), version),
            process("b", Some((4, 2..4)), version),
        ],
    );
    let a = get(&w, "/health/fleet").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert_eq!(doc["status"], "healthy");
    assert_eq!(doc["count"], 2);
    assert_eq!(doc["processes"][0]["id"], "a");
    assert_eq!(doc["processes"][0]["host"], "host-a");
    assert_eq!(
        doc["processes"][1]["shards"],
        json!({"total": 4, "start": 2, "end": 4})
    );
    assert_eq!(doc["processes"][0]["gateway"], "connected");
    assert_eq!(doc["processes"][0]["flags_current"], true);
    assert_eq!(doc["processes"][0]["last_seen_ms_ago"], 700.0);

    // One behind (the fake says the change is 5 s old) and a gap where it ran.
    set_processes(
        &w,
        vec![
            process("a", Some((4, 0..2)), version),
            process("c", Some((4, 3..4)), version.saturating_sub(1)),
        ],
    );
    w.store
        .apply(&troupe_ports::FlagChange {
            name: "ddd.commands.utility".into(),
            value: Some(true),
            actor: "t".into(),
            reason: "stage".into(),
            at: Timestamp::from_millis(1),
        })
        .await
        .unwrap();
    let doc = get(&w, "/health/fleet").await.json();
    assert_eq!(doc["status"], "degraded");
    assert_eq!(doc["lagging"], json!(["a", "c"]));
    assert_eq!(doc["processes"][1]["lagging"], true);
    assert_eq!(
        doc["shard_problems"],
        json!(["shards 2..3 of 4 are run by no live process"])
    );
}

#[tokio::test]
async fn a_confirmed_rollback_answers_200_when_every_process_applied_it_and_202_naming_the_rest() {
    let w = world(&[], Some(TOKEN)).await;
    set_processes(&w, vec![process("a", None, u64::MAX)]);
    let a = call(
        &w,
        Method::POST,
        "/admin/rollback?confirm=800",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let doc = a.json();
    assert_eq!(doc["value"], false);
    assert_eq!(doc["confirmation"]["confirmed"], true);
    assert_eq!(doc["confirmation"]["processes"], 1);
    assert_eq!(
        w.fleet.waits.lock().unwrap().as_slice(),
        [Duration::from_millis(800)]
    );

    set_processes(
        &w,
        vec![process("a", None, u64::MAX), process("slow", None, 0)],
    );
    let a = call(
        &w,
        Method::PUT,
        "/admin/flags/ddd.commands.utility?confirm=true",
        Some(TOKEN),
        Some(json!({"value": false, "reason": "stage 2 rollback"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let doc = a.json();
    assert_eq!(doc["confirmation"]["confirmed"], false);
    assert_eq!(doc["confirmation"]["pending"], json!(["slow"]));
    assert_eq!(
        doc["value"], false,
        "the change is made even when not confirmed"
    );
    assert_eq!(w.fleet.waits.lock().unwrap()[1], Duration::from_secs(5));

    // Without `confirm` nothing waits; a bad wait is refused before anything changes.
    let before = w.store.version().await.unwrap();
    let a = call(&w, Method::POST, "/admin/rollback", Some(TOKEN), None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.json().get("confirmation").is_none());
    assert_eq!(w.fleet.waits.lock().unwrap().len(), 2);
    let a = call(
        &w,
        Method::POST,
        "/admin/rollback?confirm=forever",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        w.store.version().await.unwrap(),
        before + 1,
        "only the unconfirmed one"
    );
}
