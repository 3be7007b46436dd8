//! The communication plan against a fake ops webhook and the fake Discord: a flag change posts
//! the deployment announcement once per store (two processes), an alert posts the incident
//! message (Rolling back with the automatic rollback's actions), and a refused post is
//! retried; `troupe run` posts the edited templates to the webhook, the ops channel and (for a
//! change users notice) the maintenance channel through the bot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use troupe::comms::{Announcer, OpsPoster, Outlets, post_incidents};
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
    let poster = Outlets::webhook(Some(
        OpsPoster::new(url).with_retries(3, Duration::from_millis(50)),
    ));
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
    let poster = Outlets::webhook(Some(
        OpsPoster::new(url).with_retries(4, Duration::from_millis(20)),
    ));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_message_reaches_the_discord_ops_channel_through_the_bot() {
    let platform = Arc::new(troupe_testkit::FakePlatform::new());
    let ops = troupe_domain::ChannelId::new(4242).unwrap();
    let outlets = Outlets::webhook(None)
        .with_channels(
            Arc::clone(&platform) as Arc<dyn troupe_ports::ChatPlatform>,
            Some(ops),
            None,
        )
        .with_retries(3, Duration::from_millis(20));
    let alert = Alert {
        rule: AlertRule::FailedCommands,
        severity: Severity::Warning,
        value: 6.0,
        threshold: 5.0,
        since: troupe_domain::Timestamp::from_millis(0),
        message: "6 failed commands in the last 1h > 5".into(),
    };
    post_incidents(&outlets, std::slice::from_ref(&alert), &[], &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let sent = loop {
        let sent = platform.sent_messages();
        if !sent.is_empty() || std::time::Instant::now() > deadline {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, ops);
    assert!(
        sent[0].1.content.contains("status: Investigating"),
        "{}",
        sent[0].1.content
    );
}

/// `troupe run` against the fake Discord: the guild's channels and the binary's environment.
mod run {
    use std::process::{Child, Command, Stdio};

    pub const OWNER: u64 = 200_000_000_000_000_001;
    pub const GUILD: u64 = 100_000_000_000_000_001;
    pub const OPS: u64 = 300_000_000_000_000_010;
    pub const NEWS: u64 = 300_000_000_000_000_011;

    /// Stops the bot with SIGTERM when dropped.
    pub struct Bot(pub Child);

    impl Drop for Bot {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }

    pub fn troupe(dir: &std::path::Path, env: &[(&str, String)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_troupe"));
        cmd.env_clear()
            .env("TROUPE_DATA_DIR", dir)
            .env("TROUPE_LOG", "warn")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_change_posts_the_edited_texts_to_the_webhook_the_ops_channel_and_users() {
    use run::{GUILD, NEWS, OPS, OWNER};
    use troupe_testkit::discord::{FakeDiscord, TOKEN};

    let fake = FakeDiscord::start().await.unwrap();
    fake.add_guild(GUILD, OWNER);
    fake.add_text_channel(GUILD, OPS, "ops", false);
    fake.add_text_channel(GUILD, NEWS, "news", false);
    let (url, mut rx) = receiver(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let migrate = run::troupe(dir.path(), &[])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let env = [
        ("DISCORD_TOKEN", TOKEN.to_owned()),
        ("TROUPE_DISCORD_GATEWAY_URL", fake.gateway_url()),
        ("TROUPE_DISCORD_API_PROXY", fake.api_proxy()),
        ("TROUPE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
        ("TROUPE_BACKUP_SCHEDULE", "off".to_owned()),
        ("TROUPE_OPS_WEBHOOK_URL", url),
        ("TROUPE_OPS_CHANNEL", OPS.to_string()),
        ("TROUPE_MAINTENANCE_CHANNEL", NEWS.to_string()),
        (
            "TROUPE_COMMS_ANNOUNCEMENT_TEMPLATE",
            "[rollout] {step}: {flag}={value} ({reason})\\n{commands}".to_owned(),
        ),
        (
            "TROUPE_COMMS_MAINTENANCE_TEMPLATE",
            "Heads-up: {notice}. Affected: {commands}".to_owned(),
        ),
    ];
    let bot = run::Bot(
        run::troupe(dir.path(), &env)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        fake.wait_until(Duration::from_secs(60), |f| f.live_sessions() == 1)
            .await,
        "the bot connected"
    );

    let set = run::troupe(dir.path(), &[])
        .args([
            "flags",
            "set",
            "ddd.commands.utility",
            "true",
            "--reason",
            "stage 1",
        ])
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let announcement = next(&mut rx).await;
    assert!(
        announcement.starts_with("[rollout] stage start: ddd.commands.utility=true (stage 1)\n"),
        "{announcement:?}"
    );
    assert!(announcement.contains("ping"), "{announcement}");
    let posted = |channel: u64, text: &str| {
        let text = text.to_owned();
        move |f: &FakeDiscord| f.messages_in(channel).iter().any(|m| m.content == text)
    };
    assert!(
        fake.wait_until(Duration::from_secs(30), posted(OPS, &announcement))
            .await,
        "the announcement in the ops channel: {:?}",
        fake.messages_in(OPS)
    );
    let notice = "Heads-up: we are switching these commands to their new version; if anything \
                  looks wrong, tell the moderators. Affected: ";
    assert!(
        fake.wait_until(Duration::from_secs(30), |f| f
            .messages_in(NEWS)
            .iter()
            .any(|m| m.content.starts_with(notice) && m.content.contains("ping")))
            .await,
        "the maintenance notice: {:?}",
        fake.messages_in(NEWS)
    );
    drop(bot);
}
