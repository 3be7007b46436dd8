//! The communication plan against a fake ops webhook: a flag change posts the deployment
//! announcement once per store (two processes), an alert posts the incident message (Rolling
//! back with the automatic rollback's actions), and a refused post is retried.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use troupe::comms::{Announcer, OpsPoster, post_incidents};
use troupe::config::Config;
use troupe::console::ConsolePlatform;
use troupe::wiring::App;
use troupe_application::alerts::{Alert, AlertRule, Severity};
use troupe_application::command::Category;
use troupe_application::flags::FlagName;

/// A fake webhook: answers each request with the next status of `statuses` (then 204) and
/// sends every JSON body's `text` to the channel.
async fn receiver(statuses: Vec<u16>) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/ops", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Arc::new(std::sync::Mutex::new(statuses.into_iter()));
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let statuses = Arc::clone(&statuses);
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    received.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&received).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    let status = statuses.lock().unwrap().next().unwrap_or(204);
                    let json: serde_json::Value = serde_json::from_str(body).unwrap();
                    tx.send(json["text"].as_str().unwrap().to_owned()).unwrap();
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    return;
                }
            });
        }
    });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a message reaches the webhook in time")
        .expect("the receiver runs")
}

async fn app(dir: &std::path::Path) -> App {
    let env: Vec<(String, String)> = vec![("TROUPE_DATA_DIR".into(), dir.display().to_string())];
    let config = Config::from_sources(&BTreeMap::new(), env).unwrap();
    App::build(config, Arc::new(ConsolePlatform::new()), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_start_is_announced_once_per_store_with_the_runbook_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (url, mut rx) = receiver(vec![]).await;
    let first = app(dir.path()).await;
    let second = app(dir.path()).await;
    let poster = OpsPoster::new(url).with_retries(3, Duration::from_millis(50));
    let lease = Duration::from_secs(60);
    let mut a = Announcer::new(
        first.store.clone(),
        Arc::clone(&first.flags),
        None,
        poster.clone(),
        lease,
    )
    .await;
    let mut b = Announcer::new(
        second.store.clone(),
        Arc::clone(&second.flags),
        None,
        poster,
        lease,
    )
    .await;
    let now = first.deps.clock.now();
    assert!(a.tick(now).await.is_empty(), "nothing changed yet");

    first
        .flags
        .change("ddd.commands.utility", Some(true), "ops", "stage 1", now)
        .await
        .unwrap();
    let posted = a.tick(now).await;
    assert_eq!(posted.len(), 1);
    assert!(
        b.tick(now).await.is_empty(),
        "the other process stays quiet"
    );
    let text = next(&mut rx).await;
    for part in [
        "stage start",
        "ddd.commands.utility = true by ops (stage 1)",
        "commands affected: ",
        "monitoring active",
        "rollback ready",
        "next update",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert!(a.tick(now).await.is_empty(), "announced once");

    // The emergency kill switch.
    first
        .flags
        .change("ddd.commands.enabled", Some(false), "ops", "errors", now)
        .await
        .unwrap();
    assert_eq!(a.tick(now).await.len(), 1);
    let text = next(&mut rx).await;
    assert!(text.contains("EMERGENCY rollback"), "{text}");
    assert!(text.contains("every command"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_with_an_automatic_rollback_posts_the_incident_message_and_a_refused_post_is_retried()
 {
    let (url, mut rx) = receiver(vec![500, 503]).await;
    let poster = OpsPoster::new(url).with_retries(4, Duration::from_millis(20));
    let alert = Alert {
        rule: AlertRule::CategoryErrorRate(Category::Utility),
        severity: Severity::Critical,
        value: 0.2,
        threshold: 0.05,
        since: troupe_domain::Timestamp::from_millis(0),
        message: "error rate of utility 20% > 5%".into(),
    };
    post_incidents(
        &poster,
        std::slice::from_ref(&alert),
        &[],
        &[(FlagName::Category(Category::Utility), true)],
    );
    // Refused twice, accepted the third time: the same message three times.
    let attempts = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    assert!(attempts.iter().all(|t| t == &attempts[0]));
    let text = &attempts[0];
    for part in [
        "incident",
        "impact: [critical] error rate of utility 20% > 5%",
        "commands affected: ",
        "status: Rolling back",
        "actions taken: automatic rollback: ddd.commands.utility set off",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }

    post_incidents(&poster, &[], std::slice::from_ref(&alert), &[]);
    let resolved = next(&mut rx).await;
    assert!(resolved.contains("status: Resolved"), "{resolved}");
}
