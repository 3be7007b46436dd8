//! End to end: the real wiring (and, in one test, the real `troupe run` binary) against the
//! fake Discord from troupe-testkit and SQLite in a temporary directory.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use troupe::config::Config;
use troupe::run::{RunOptions, run_until};
use troupe_testkit::discord::{
    ChannelKind, ChannelModel, FakeDiscord, Fault, FaultKind, MessageModel, Overwrite, TOKEN, perms,
};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const MEMBER: u64 = 200_000_000_000_000_002;
const MODERATOR: u64 = 200_000_000_000_000_003;
const NSFW: u64 = 300_000_000_000_000_001;
const SFW: u64 = 300_000_000_000_000_002;
const THREAD: u64 = 300_000_000_000_000_003;
const FORUM: u64 = 300_000_000_000_000_004;
const FORUM_POST: u64 = 300_000_000_000_000_005;
const LOCKED: u64 = 300_000_000_000_000_006;
const DM: u64 = 300_000_000_000_000_100;
const MOD_ROLE: u64 = 400_000_000_000_000_001;
const WAIT: Duration = Duration::from_secs(10);

/// A guild with an age-restricted channel (with a thread), a forum (age-restricted, with a
/// post), an ordinary channel, and a channel where the moderator role's Manage Messages is
/// denied by an overwrite.
fn populate(fake: &FakeDiscord) {
    fake.add_guild(GUILD, OWNER);
    fake.add_role(GUILD, MOD_ROLE, perms::MEMBER | perms::MANAGE_MESSAGES);
    fake.add_member(GUILD, OWNER, &[]);
    fake.add_member(GUILD, MEMBER, &[]);
    fake.add_member(GUILD, MODERATOR, &[MOD_ROLE]);
    fake.add_text_channel(GUILD, NSFW, "after-dark", true);
    fake.add_text_channel(GUILD, SFW, "general", false);
    fake.add_text_channel(GUILD, LOCKED, "locked-nsfw", true);
    fake.add_overwrite(
        LOCKED,
        Overwrite {
            id: MOD_ROLE,
            role: true,
            allow: 0,
            deny: perms::MANAGE_MESSAGES,
        },
    );
    fake.add_thread(GUILD, NSFW, THREAD, "a thread");
    fake.add_channel(ChannelModel {
        id: FORUM,
        guild: Some(GUILD),
        kind: ChannelKind::Forum,
        name: "stories".into(),
        nsfw: true,
        parent: None,
        overwrites: Vec::new(),
    });
    fake.add_thread(GUILD, FORUM, FORUM_POST, "a post");
}

fn env(fake: &FakeDiscord, dir: &std::path::Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = vec![
        ("DISCORD_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TROUPE_DATA_DIR".to_owned(), dir.display().to_string()),
        ("TROUPE_DISCORD_GATEWAY_URL".to_owned(), fake.gateway_url()),
        ("TROUPE_DISCORD_API_PROXY".to_owned(), fake.api_proxy()),
        ("TROUPE_BOT_OWNERS".to_owned(), OWNER.to_string()),
        ("TROUPE_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    vars
}

/// A bot running in-process against a fake Discord.
struct Running {
    fake: FakeDiscord,
    stop: Option<oneshot::Sender<()>>,
    bot: tokio::task::JoinHandle<anyhow::Result<ExitCode>>,
    dir: tempfile::TempDir,
}

impl Running {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let fake = FakeDiscord::start().await.unwrap();
        populate(&fake);
        Self::start_with(fake, extra).await
    }

    async fn start_with(fake: FakeDiscord, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_sources(&BTreeMap::new(), env(&fake, dir.path(), extra)).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let options = RunOptions {
            shutdown_grace: Some(Duration::from_secs(5)),
            ..RunOptions::default()
        };
        let bot = tokio::spawn(run_until(config, options, async {
            let _ = stopped.await;
        }));
        let me = Self {
            fake,
            stop: Some(stop),
            bot,
            dir,
        };
        me.wait_ready().await;
        me
    }

    async fn wait_ready(&self) {
        assert!(
            self.fake
                .wait_until(WAIT, |f| f.live_sessions() >= 1
                    && !f.requests_to("PUT", "/commands").is_empty())
                .await,
            "the bot never identified"
        );
    }

    /// Sends a message and waits for the bot's reply to it; returns the reply's embed.
    async fn prefix(&self, channel: u64, author: u64, content: &str) -> Value {
        self.reply(channel, author, content).await.embeds[0].clone()
    }

    /// Sends a message and waits for the bot's reply to it; returns the reply.
    async fn reply(&self, channel: u64, author: u64, content: &str) -> MessageModel {
        let id = self.fake.send_message(channel, author, content);
        assert!(
            self.fake
                .wait_until(WAIT, |f| !f.replies_to(id).is_empty())
                .await,
            "no reply to {content:?}"
        );
        self.fake.replies_to(id).swap_remove(0)
    }

    /// Sends a slash command and waits for its response (initial or edited); returns the
    /// response data.
    async fn slash(
        &self,
        channel: u64,
        user: u64,
        command: &str,
        options: &[(&str, Value)],
    ) -> Value {
        let id = self.fake.send_slash(channel, user, command, options);
        assert!(
            self.fake
                .wait_until(WAIT, |f| {
                    !f.interaction_edits(id).is_empty()
                        || f.interaction_responses(id).iter().any(|r| r["type"] == 4)
                })
                .await,
            "no response to /{command}"
        );
        match self
            .fake
            .interaction_responses(id)
            .into_iter()
            .find(|r| r["type"] == 4)
        {
            Some(response) => response["data"].clone(),
            None => self.fake.interaction_edits(id)[0].clone(),
        }
    }

    async fn stop(mut self) -> (FakeDiscord, ExitCode) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let code = tokio::time::timeout(Duration::from_secs(15), self.bot)
            .await
            .expect("the bot stopped in time")
            .unwrap()
            .unwrap();
        (self.fake, code)
    }
}

fn text_of(embed: &Value) -> String {
    let mut out = format!(
        "{} {}",
        embed["title"].as_str().unwrap_or_default(),
        embed["description"].as_str().unwrap_or_default()
    );
    for field in embed["fields"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            " {} {}",
            field["name"].as_str().unwrap_or_default(),
            field["value"].as_str().unwrap_or_default()
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_by_prefix_command() {
    let bot = Running::start(&[]).await;
    let cases: &[(u64, u64, &str, &str)] = &[
        (NSFW, OWNER, "!tz ping", "latency"),
        (NSFW, OWNER, "!tz status", "servers"),
        (NSFW, OWNER, "!tz help", "ping"),
        (NSFW, OWNER, "!tz notifications", ""),
        (NSFW, OWNER, "!tz debug stats", ""),
        (DM, OWNER, "!tz purgbot", ""),
        (NSFW, OWNER, "!tz volumetest", ""),
        (NSFW, OWNER, "!tz auth status", ""),
        (NSFW, OWNER, "!tz verify", "verified"),
        (NSFW, OWNER, "!tz add einstein", "einstein"),
        (NSFW, OWNER, "!tz activate einstein", "einstein"),
        (NSFW, OWNER, "!tz deactivate", ""),
        (NSFW, OWNER, "!tz reset einstein", ""),
        (NSFW, OWNER, "!tz autorespond status", ""),
        (NSFW, OWNER, "!tz info einstein", "einstein"),
        (NSFW, OWNER, "!tz alias einstein albert", "albert"),
        (NSFW, OWNER, "!tz list", "einstein"),
        (NSFW, OWNER, "!tz remove einstein", "einstein"),
    ];
    for (channel, author, content, expect) in cases {
        let embed = bot.prefix(*channel, *author, content).await;
        let text = text_of(&embed).to_lowercase();
        assert!(text.contains(expect), "{content}: {text}");
        assert!(!text.contains("something went wrong"), "{content}: {text}");
    }
    assert_eq!(
        bot.fake.requests_to("PUT", "/commands")[0]
            .body
            .as_array()
            .map(Vec::len),
        Some(18),
        "all 18 slash commands registered"
    );
    let (fake, code) = bot.stop().await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(
        fake.client_close_codes().contains(&4000),
        "the session was closed so that the next process can resume it"
    );
}

/// (channel, command, options, a word the reply must contain).
type SlashCase = (u64, &'static str, Vec<(&'static str, Value)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_by_slash_command() {
    let bot = Running::start(&[]).await;
    let s = |v: &str| json!(v);
    let cases: Vec<SlashCase> = vec![
        (NSFW, "ping", vec![], "latency"),
        (NSFW, "status", vec![], "servers"),
        (NSFW, "help", vec![("command", s("add"))], "add"),
        (NSFW, "notifications", vec![], ""),
        (NSFW, "debug", vec![("subcommand", s("stats"))], ""),
        (DM, "purgbot", vec![], ""),
        (NSFW, "volumetest", vec![], ""),
        (NSFW, "auth", vec![("subcommand", s("status"))], ""),
        (NSFW, "verify", vec![], "verified"),
        (
            NSFW,
            "add",
            vec![
                ("name", s("curie")),
                ("alias", s("marie c")),
                ("prompt", s("You are Marie Curie.")),
            ],
            "curie",
        ),
        (NSFW, "activate", vec![("personality", s("curie"))], "curie"),
        (NSFW, "deactivate", vec![], ""),
        (NSFW, "reset", vec![("personality", s("curie"))], ""),
        (NSFW, "autorespond", vec![("setting", s("status"))], ""),
        (NSFW, "info", vec![("personality", s("marie c"))], "curie"),
        (
            NSFW,
            "alias",
            vec![("personality", s("curie")), ("alias", s("radium"))],
            "radium",
        ),
        (NSFW, "list", vec![], "curie"),
        (NSFW, "remove", vec![("personality", s("curie"))], "curie"),
    ];
    for (channel, command, options, expect) in &cases {
        let data = bot.slash(*channel, OWNER, command, options).await;
        let text = text_of(&data["embeds"][0]).to_lowercase();
        assert!(text.contains(expect), "/{command}: {text}");
        assert!(!text.contains("something went wrong"), "/{command}: {text}");
        if *command == "verify" {
            assert_eq!(data["flags"], 64, "verify answers ephemerally");
        }
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_permissions_come_from_roles_and_channel_overwrites() {
    let bot = Running::start(&[]).await;
    bot.prefix(NSFW, OWNER, "!tz add tesla").await;
    let allowed = text_of(&bot.prefix(NSFW, MODERATOR, "!tz activate tesla").await);
    assert!(!allowed.contains("Manage Messages"), "{allowed}");
    let denied = text_of(&bot.prefix(NSFW, MEMBER, "!tz activate tesla").await);
    assert!(denied.contains("Manage Messages"), "{denied}");
    let overwritten = text_of(&bot.prefix(LOCKED, MODERATOR, "!tz activate tesla").await);
    assert!(
        overwritten.contains("Manage Messages"),
        "the overwrite denies it: {overwritten}"
    );
    // The same command in the same channel within 3 s would be ignored: another personality.
    bot.prefix(NSFW, OWNER, "!tz add edison").await;
    let slash = text_of(
        &bot.slash(
            LOCKED,
            MODERATOR,
            "activate",
            &[("personality", json!("edison"))],
        )
        .await["embeds"][0],
    );
    assert!(slash.contains("Manage Messages"), "{slash}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_forum_posts_inherit_the_age_restriction_and_verify_lists_visible_channels() {
    let bot = Running::start(&[]).await;
    let in_post = text_of(&bot.prefix(FORUM_POST, MEMBER, "!tz verify").await);
    assert!(in_post.contains("now age-verified"), "{in_post}");
    let from_general = text_of(&bot.prefix(SFW, MODERATOR, "!tz verify").await);
    assert!(
        from_general.contains(&format!("<#{NSFW}>")),
        "{from_general}"
    );
    bot.prefix(THREAD, OWNER, "!tz add bohr").await;
    let in_thread = text_of(&bot.prefix(THREAD, OWNER, "!tz activate bohr").await);
    assert!(
        in_thread.to_lowercase().contains("bohr")
            && !in_thread.contains("age-restricted channel only"),
        "{in_thread}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_disconnect_with_resume_neither_duplicates_nor_loses_a_reply() {
    let bot = Running::start(&[]).await;
    let before = bot.fake.send_message(NSFW, OWNER, "!tz ping");
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.replies_to(before).is_empty())
            .await
    );
    // Drop the connection, and send while the bot is away: the resume must replay it.
    bot.fake.drop_connections();
    let during = bot.fake.send_message(NSFW, OWNER, "!tz status");
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.replies_to(during).is_empty())
            .await,
        "lost"
    );
    // A resumable close right after a message.
    let racing = bot.fake.send_message(NSFW, OWNER, "!tz help");
    bot.fake.close_connections(4000);
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.replies_to(racing).is_empty()
                && f.resumes() >= 2)
            .await
    );
    bot.fake.request_reconnect();
    let after = bot.fake.send_message(NSFW, OWNER, "!tz list");
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.replies_to(after).is_empty()
                && f.resumes() >= 3)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in [before, during, racing, after] {
        assert_eq!(
            bot.fake.replies_to(id).len(),
            1,
            "exactly one reply to {id}"
        );
    }
    assert_eq!(
        bot.fake.identifies().len(),
        1,
        "resumed, never re-identified"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_session_makes_the_bot_identify_again_and_keep_answering() {
    let bot = Running::start(&[]).await;
    bot.fake.invalidate_sessions(false);
    assert!(
        bot.fake
            .wait_until(WAIT, |f| f.identifies().len() == 2
                && f.live_sessions() == 1)
            .await
    );
    bot.prefix(NSFW, OWNER, "!tz ping").await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_server_errors_and_rate_limits_are_retried_and_never_crash_the_bot() {
    let bot = Running::start(&[]).await;
    bot.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/messages".into(),
        times: 2,
        kind: FaultKind::ServerError(502),
    });
    bot.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/messages".into(),
        times: 1,
        kind: FaultKind::RateLimited { retry_after: 0.3 },
    });
    let started = std::time::Instant::now();
    let embed = bot.prefix(NSFW, OWNER, "!tz ping").await;
    assert!(text_of(&embed).contains("atency"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the 429's wait was honoured"
    );
    assert_eq!(
        bot.fake.requests_to("POST", "/messages").len(),
        4,
        "2 × 502, 1 × 429, then success"
    );
    // A failure that outlives the retries loses that reply, not the bot.
    bot.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/messages".into(),
        times: 4,
        kind: FaultKind::ServerError(500),
    });
    let lost = bot.fake.send_message(NSFW, OWNER, "!tz status");
    assert!(
        bot.fake
            .wait_until(WAIT, |f| f.requests_to("POST", "/messages").len() == 8)
            .await,
        "1 try + 3 retries"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(bot.fake.replies_to(lost).is_empty());
    bot.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/callback".into(),
        times: 1,
        kind: FaultKind::Discord {
            status: 400,
            code: 50_035,
            message: "Invalid Form Body".into(),
        },
    });
    let _ = bot.fake.send_slash(NSFW, OWNER, "ping", &[]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The bot is still there and answers.
    bot.prefix(NSFW, OWNER, "!tz help").await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_the_same_for_every_caller_of_an_audience_and_differs_between_audiences() {
    // help's overview is long enough that its embed is written once and kept
    // (render::ReplyEmbeds); every caller must still get their audience's groups, in a reply to
    // their own message.
    let bot = Running::start(&[]).await;
    // (Three users: the same user's identical command within 3 s is not run again.)
    let member = bot.prefix(NSFW, MEMBER, "!tz help").await;
    let owner = bot.prefix(NSFW, OWNER, "!tz help").await;
    // A moderator is not an administrator: the member's audience, the kept overview.
    let moderator = bot.prefix(THREAD, MODERATOR, "!tz help").await;
    assert_eq!(member, moderator);
    assert_ne!(member, owner);
    let groups = |embed: &Value| -> Vec<String> {
        embed["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!groups(&member).iter().any(|g| g == "Admin" || g == "Owner"));
    assert!(groups(&owner).iter().any(|g| g == "Admin"));
    assert!(groups(&owner).iter().any(|g| g == "Owner"));
    assert!(text_of(&member).contains("ping"), "{}", text_of(&member));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_gateway_payload_is_logged_and_skipped() {
    let bot = Running::start(&[]).await;
    bot.fake.inject_raw("{this is not json");
    bot.fake
        .inject_raw(r#"{"op":0,"s":null,"t":"MESSAGE_CREATE","d":{}}"#);
    bot.fake.inject(
        Some(GUILD),
        "MESSAGE_CREATE",
        json!({"id": "not a snowflake", "content": 5}),
    );
    bot.fake.inject(
        Some(GUILD),
        "INTERACTION_CREATE",
        json!({"type": 2, "data": null}),
    );
    bot.prefix(NSFW, OWNER, "!tz ping").await;
    assert_eq!(bot.fake.identifies().len(), 1, "no reconnect needed");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_work_finishes_the_in_flight_reply() {
    let bot = Running::start(&[]).await;
    // The reply's first attempt is rate limited for a second: the work is in flight when
    // shutdown begins.
    bot.fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/messages".into(),
        times: 1,
        kind: FaultKind::RateLimited { retry_after: 1.0 },
    });
    let id = bot.fake.send_message(NSFW, OWNER, "!tz ping");
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.requests_to("POST", "/messages").is_empty())
            .await
    );
    let (fake, code) = bot.stop().await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(
        fake.replies_to(id).len(),
        1,
        "the in-flight reply was delivered"
    );
    assert_eq!(fake.client_close_codes(), [4000], "a resumable close");
}

/// The one command reply whose id the bot reads back from Discord's answer (other replies'
/// answers are not decoded): the purge report, deleted after its ten seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_report_is_deleted_after_its_lifetime() {
    let bot = Running::start(&[]).await;
    let report = bot.reply(DM, OWNER, "!tz purgbot").await.id;
    let deleted = format!("/channels/{DM}/messages/{report}");
    assert!(
        bot.fake
            .wait_until(Duration::from_secs(20), |f| !f
                .requests_to("DELETE", &deleted)
                .is_empty())
            .await,
        "the report was deleted by the id Discord gave it"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_slash_command_is_deferred_then_edited() {
    let bot = Running::start(&[]).await;
    // purgbot pages through the DM history: a rate-limited first page makes it slow.
    bot.prefix(DM, OWNER, "!tz ping").await;
    bot.fake.fail(Fault {
        method: Some("GET".into()),
        path_contains: "/messages".into(),
        times: 1,
        kind: FaultKind::RateLimited { retry_after: 2.0 },
    });
    let id = bot.fake.send_slash(DM, OWNER, "purgbot", &[]);
    assert!(
        bot.fake
            .wait_until(WAIT, |f| !f.interaction_edits(id).is_empty())
            .await
    );
    let responses = bot.fake.interaction_responses(id);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["type"], 5, "deferred first");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_split_the_shards_between_them() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    // A second guild that lands on shard 1 of 2.
    let other_guild = (1u64 << 22) | 0x0163_4578_5D8A_0000;
    assert_eq!((other_guild >> 22) % 2, 1);
    fake.add_guild(other_guild, OWNER);
    fake.add_text_channel(other_guild, 300_000_000_000_000_200, "elsewhere", true);
    let first = Running::start_with(
        fake,
        &[("TROUPE_SHARDS", "2"), ("TROUPE_SHARD_RANGE", "0..1")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = env(
        &first.fake,
        first.dir.path(),
        &[("TROUPE_SHARDS", "2"), ("TROUPE_SHARD_RANGE", "1..2")],
    );
    vars.retain(|(k, _)| k != "TROUPE_DATA_DIR");
    vars.push(("TROUPE_DATA_DIR".into(), dir.path().display().to_string()));
    vars.push((
        "TROUPE_DATABASE_URL".into(),
        format!("sqlite://{}", first.dir.path().join("troupe.db").display()),
    ));
    let config = Config::from_sources(&BTreeMap::new(), vars).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let second = tokio::spawn(run_until(config, RunOptions::default(), async {
        let _ = stopped.await;
    }));
    assert!(
        first
            .fake
            .wait_until(WAIT, |f| f.live_sessions() == 2)
            .await
    );
    let mut shards = first.fake.identifies();
    shards.sort_unstable();
    assert_eq!(shards, [[0, 2], [1, 2]]);
    first.prefix(NSFW, OWNER, "!tz ping").await;
    first
        .prefix(300_000_000_000_000_200, OWNER, "!tz ping")
        .await;
    let _ = stop.send(());
    assert_eq!(second.await.unwrap().unwrap(), ExitCode::SUCCESS);
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_troupe_run_binary_answers_through_the_fake_and_stops_cleanly_on_sigterm() {
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env(&fake, dir.path(), &[("TROUPE_LOG_FORMAT", "json")]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        fake.wait_until(Duration::from_secs(20), |f| f.live_sessions() == 1)
            .await,
        "the binary never connected"
    );
    let id = fake.send_message(NSFW, OWNER, "!tz ping");
    assert!(
        fake.wait_until(WAIT, |f| !f.replies_to(id).is_empty())
            .await
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.status.success(), "{exit:?}");
    let logs = String::from_utf8_lossy(&exit.stderr);
    assert!(!logs.contains(TOKEN), "the token never reaches the logs");
    assert!(logs.contains("gateway closed"), "{logs}");
    assert_eq!(fake.client_close_codes(), [4000], "a resumable close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_sources(
        &BTreeMap::new(),
        [(
            "TROUPE_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )],
    )
    .unwrap();
    let err = run_until(config, RunOptions::default(), async {})
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("DISCORD_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personality_messages_go_through_one_webhook_per_channel_threads_use_the_parent_and_dms_get_a_name_prefix()
 {
    use troupe_domain::ChannelId;
    use troupe_ports::{ChatPlatform, PersonaIdentity};
    let fake = FakeDiscord::start().await.unwrap();
    populate(&fake);
    troupe_discord::install_crypto_provider();
    let mut config = troupe_discord::DiscordConfig::new(TOKEN);
    config.api_proxy = Some(fake.api_proxy());
    let platform = troupe_discord::DiscordPlatform::new(&config);
    let persona = PersonaIdentity {
        display_name: "Discord Clyde Einstein".into(),
        avatar_url: Some("https://example.invalid/a.png".into()),
    };
    let channel = |id: u64| ChannelId::new(id).unwrap();

    let first = platform
        .send_as_personality(channel(NSFW), &persona, "hello")
        .await
        .unwrap();
    platform
        .send_as_personality(channel(NSFW), &persona, "again")
        .await
        .unwrap();
    assert_eq!(
        fake.requests_to("POST", &format!("/channels/{NSFW}/webhooks"))
            .len(),
        1,
        "created once, then cached"
    );
    let sent = fake.message(first.get()).unwrap();
    let name = sent.username.unwrap().to_lowercase();
    assert!(
        !name.contains("discord") && !name.contains("clyde"),
        "{name}"
    );

    // Threads and forum posts: the parent's webhook with the thread id.
    let in_thread = platform
        .send_as_personality(channel(THREAD), &persona, "in a thread")
        .await
        .unwrap();
    assert_eq!(fake.message(in_thread.get()).unwrap().thread, Some(THREAD));
    let in_post = platform
        .send_as_personality(channel(FORUM_POST), &persona, "in a post")
        .await
        .unwrap();
    assert_eq!(
        fake.message(in_post.get()).unwrap().thread,
        Some(FORUM_POST)
    );
    assert_eq!(
        fake.requests_to("POST", "/webhooks")
            .iter()
            .filter(|r| r.path.starts_with("/channels/"))
            .count(),
        2,
        "NSFW and the forum"
    );
    assert!(
        fake.requests_to("POST", &format!("/channels/{THREAD}/webhooks"))
            .is_empty()
    );

    // Deleted by an admin: recreated on the next message.
    let webhook = fake
        .webhooks()
        .into_iter()
        .find(|w| w.channel == NSFW)
        .unwrap();
    fake.delete_webhook(webhook.id);
    platform
        .send_as_personality(channel(NSFW), &persona, "still here")
        .await
        .unwrap();
    assert!(
        fake.webhooks()
            .iter()
            .any(|w| w.channel == NSFW && w.id != webhook.id)
    );

    // Long text is split on boundaries, code fences balanced, in order.
    let code: String = (0..150).fold(String::new(), |mut out, i| {
        use std::fmt::Write as _;
        let _ = writeln!(out, "let x{i} = {i};");
        out
    });
    let long = format!("{}\n\n```rust\n{code}```", "word ".repeat(300));
    let before = fake.messages_in(NSFW).len();
    platform
        .send_as_personality(channel(NSFW), &persona, &long)
        .await
        .unwrap();
    let chunks: Vec<_> = fake.messages_in(NSFW).into_iter().skip(before).collect();
    assert!(chunks.len() >= 2);
    for chunk in &chunks {
        assert!(chunk.content.chars().count() <= 2000);
        assert_eq!(
            chunk.content.matches("```").count() % 2,
            0,
            "balanced fences"
        );
    }

    // A DM: a plain bot message prefixed with the name.
    fake.send_message(DM, MEMBER, "hi");
    let in_dm = platform
        .send_as_personality(
            channel(DM),
            &PersonaIdentity {
                display_name: "Einstein".into(),
                avatar_url: None,
            },
            "hello",
        )
        .await
        .unwrap();
    assert_eq!(
        fake.message(in_dm.get()).unwrap().content,
        "**Einstein:** hello"
    );
    assert_eq!(platform.webhook_cache_size().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_rest_rate_limiter_on_no_second_holds_more_than_50_requests() {
    let bot = Running::start(&[]).await;
    let first_user = 700_000_000_000_000_000u64;
    let ids: Vec<u64> = (0..110)
        .map(|i| bot.fake.send_message(NSFW, first_user + i, "!tz ping"))
        .collect();
    assert!(
        bot.fake
            .wait_until(Duration::from_secs(20), |f| ids
                .iter()
                .all(|id| !f.replies_to(*id).is_empty()))
            .await,
        "every command answered"
    );
    let peak = bot.fake.max_requests_per_second();
    assert!(peak <= 50, "{peak} requests in one second");
    assert!(peak >= 40, "the limit is used, not starved: {peak}");
    bot.stop().await;
}
