//! Operations wired around a real App (SQLite in a temporary directory): the HTTP server with
//! the admin API reaching the dispatcher, backups through the admin API and the scheduler's
//! policy on a real store, the smoke test against a live server, and no secret in any answer.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use troupe::backups::{BackupPolicy, BackupScheduler, Tick, last_backup};
use troupe::config::Config;
use troupe::console::ConsolePlatform;
use troupe::http_wiring::{NoGateway, Operations, ServeOptions, serve_with};
use troupe::wiring::App;
use troupe_application::{Invoker, Location, Permissions, RequestSource, SystemKind};
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_http::Activity;

const TOKEN: &str = "ops-test-admin-token-0123456789abcdef";

fn config(dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut env: Vec<(String, String)> = vec![
        ("TROUPE_DATA_DIR".into(), dir.display().to_string()),
        ("TROUPE_HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("TROUPE_ADMIN_TOKEN".into(), TOKEN.into()),
        (
            "TROUPE_TOKEN_KEY".into(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        ),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Config::from_sources(&BTreeMap::new(), env).unwrap()
}

async fn app(dir: &std::path::Path, extra: &[(&str, &str)]) -> (App, Operations) {
    let config = config(dir, extra);
    let ops = Operations::new(&config).unwrap();
    let app = App::build(
        config,
        Arc::new(ConsolePlatform::new()),
        Some(ops.observer()),
    )
    .await
    .unwrap();
    (app, ops)
}

async fn ping(app: &App, n: u64) -> Option<SystemKind> {
    let d = app
        .dispatcher
        .dispatch_text(
            "!tz ping",
            Invoker {
                id: UserId::new(5_000 + n).unwrap(),
                display_name: "tester".into(),
                is_bot_owner: false,
                permissions: Permissions::default(),
                via_proxy: false,
            },
            Location::Dm {
                channel: ChannelId::new(9).unwrap(),
            },
            RequestSource::Message(MessageId::new(70_000 + n).unwrap()),
            app.deps.clock.now(),
        )
        .await?;
    d.served_by
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_of_a_running_troupe_rolls_back_backs_up_and_passes_the_smoke_test() {
    let dir = tempfile::tempdir().unwrap();
    let (app, ops) = app(
        dir.path(),
        &[
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ],
    )
    .await;
    let http = serve_with(
        &app,
        &ops,
        Arc::new(NoGateway),
        ServeOptions {
            schedule_backups: true,
            backup_check_every: Duration::from_secs(3600),
            backup_worker: troupe::backups::BackupWorker::InProcess,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", http.local_addr());
    let c = client();
    assert_eq!(ping(&app, 1).await, Some(SystemKind::New));

    // The scheduler's first tick takes a backup at start: /health shows its age once it is done
    // (waited for with a deadline, not a fixed sleep: a loaded machine may take longer).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let health: serde_json::Value = loop {
        let health: serde_json::Value = c
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        if health["checks"]["backups"]["status"] == "ok" || std::time::Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["checks"]["backups"]["status"], "ok", "{health}");
    assert_eq!(health["checks"]["discord"]["state"], "not_applicable");

    let rollback = c
        .post(format!("{base}/admin/rollback"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(rollback.status(), 200);
    assert_eq!(ping(&app, 2).await, Some(SystemKind::Legacy), "at once");

    let backup: serde_json::Value = c
        .post(format!("{base}/admin/backup"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let file = backup["backup"]["file"].as_str().unwrap();
    assert!(std::path::Path::new(file).exists(), "{file}");
    assert!(app.store.check().await.unwrap().is_ok());

    let args = troupe::commands::smoke::SmokeArgs {
        url: base.clone(),
        admin_token: Some(TOKEN.into()),
        prefix: None,
        timeout: 10,
        strict: true,
    };
    assert_eq!(
        troupe::commands::smoke::run(args, "!tz").await.unwrap(),
        ExitCode::SUCCESS
    );

    for path in [
        "/health",
        "/health/features",
        "/health/commands",
        "/health/ready",
        "/metrics",
    ] {
        let text = c
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(TOKEN), "{path} shows the admin token");
        assert!(
            !text.contains("AAAAAAAAAAAAAAAA"),
            "{path} shows the token key"
        );
    }
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(
        r#"troupe_commands_total{command="ping",category="utility",system="ddd",outcome="success"}"#
    ));
    assert!(metrics.contains(r#"troupe_flag_changes_total{flag="ddd.commands.enabled"} 1"#));
    http.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_test_fails_against_a_server_that_does_not_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let args = troupe::commands::smoke::SmokeArgs {
        url: format!("http://{addr}"),
        admin_token: None,
        prefix: None,
        timeout: 2,
        strict: false,
    };
    assert_eq!(
        troupe::commands::smoke::run(args, "!tz").await.unwrap(),
        ExitCode::from(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_backs_up_when_due_after_a_flag_change_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _ops) = app(dir.path(), &[]).await;
    let backups = dir.path().join("backups");
    let activity = Arc::new(Activity::default());
    let policy = BackupPolicy {
        keep: 2,
        ..BackupPolicy::default()
    };
    let scheduler = BackupScheduler::new(
        app.store.clone(),
        Arc::clone(&app.flags),
        backups.clone(),
        policy,
        Arc::clone(&activity),
    );
    let now = app.deps.clock.now();
    assert!(
        matches!(scheduler.tick(now).await, Tick::Taken { .. }),
        "none yet"
    );
    assert_eq!(
        scheduler.tick(now.plus(Duration::from_secs(60))).await,
        Tick::NotDue
    );
    assert!(activity.last_success().is_some());
    assert!(last_backup(&backups).is_some());

    app.flags
        .change(
            "ddd.commands.utility",
            Some(true),
            "test",
            "stage 1",
            now.plus(Duration::from_secs(120)),
        )
        .await
        .unwrap();
    let after_change = now.plus(Duration::from_secs(180));
    assert!(matches!(
        scheduler.tick(after_change).await,
        Tick::Taken { pruned: 0, .. }
    ));
    // Hourly for a day after the change: not due after 30 minutes, due after an hour.
    assert_eq!(
        scheduler
            .tick(after_change.plus(Duration::from_secs(1_800)))
            .await,
        Tick::NotDue
    );
    let third = scheduler
        .tick(after_change.plus(Duration::from_secs(3_600)))
        .await;
    assert!(matches!(third, Tick::Taken { pruned: 1, .. }), "{third:?}");
    let kept = std::fs::read_dir(&backups)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.json"))
        .count();
    assert_eq!(kept, 2, "retention keeps the newest two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_and_resolved_alerts_are_posted_to_the_ops_webhook_as_json() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use troupe_application::alerts::{AlertEngine, AlertSettings};
    use troupe_application::dispatch::CommandRecord;
    use troupe_application::{CommandName, OutcomeClass};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/secret-path",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    socket
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    return (head.to_owned(), body.to_owned());
                }
            }
        }
    });

    let mut engine = AlertEngine::new(AlertSettings::default());
    let now = troupe_domain::Timestamp::from_millis(1_750_000_020_000);
    for _ in 0..6 {
        engine.record(
            &CommandRecord {
                command: CommandName::Info,
                category: CommandName::Info.category(),
                system: SystemKind::Legacy,
                class: OutcomeClass::InternalError,
                fell_back: false,
                elapsed: Duration::from_millis(4),
            },
            now,
        );
    }
    let evaluation = engine.evaluate(now);
    assert_eq!(evaluation.fired.len(), 1);
    troupe::http_wiring::Webhook::new(url)
        .post(&evaluation.fired, &[])
        .await;
    let (head, body) = server.await.unwrap();
    assert!(
        head.starts_with("POST /hooks/secret-path HTTP/1.1"),
        "{head}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert_eq!(json["content"], json["text"], "Slack and Discord keys");
    assert!(
        text.contains("[warning] failed_commands: 6 failed commands"),
        "{text}"
    );
    assert_eq!(
        troupe::http_wiring::Webhook::message(&[], &[]),
        None,
        "nothing to say, nothing posted"
    );
}
