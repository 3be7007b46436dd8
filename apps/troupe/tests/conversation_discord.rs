//! Talking to personalities end to end: the real wiring (`troupe run`) against the fake
//! Discord, the fake OpenAI-compatible provider (with its profile source) and the fake OAuth
//! server, SQLite in a temporary directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use troupe::config::Config;
use troupe::run::{RunOptions, run_until};
use troupe_testkit::ai::{AiReply, FakeAiServer, FakeOAuthServer, FakeProfile};
use troupe_testkit::discord::{FakeDiscord, TOKEN, perms};
use troupe_testkit::pluralkit::{FakePluralKit, PluralKitMode};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const MEMBER: u64 = 200_000_000_000_000_002;
const NSFW: u64 = 300_000_000_000_000_001;
const DM: u64 = 300_000_000_000_000_100;
const WAIT: Duration = Duration::from_secs(15);
const AI_KEY: &str = "sk-e2e-SECRET-key";

/// Everything the bot logs in this test binary (debug level).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A bot running in-process against the fakes.
struct Bot {
    discord: FakeDiscord,
    ai: FakeAiServer,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<ExitCode>>,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn start(extra: &[(&str, String)]) -> Self {
        logs();
        let discord = FakeDiscord::start().await.unwrap();
        discord.add_guild(GUILD, OWNER);
        discord.add_member(GUILD, OWNER, &[]);
        discord.add_member(GUILD, MEMBER, &[]);
        discord.add_text_channel(GUILD, NSFW, "after-dark", true);
        let _ = perms::MEMBER;
        let ai = FakeAiServer::start().await;
        ai.set_profile(
            "bob",
            FakeProfile {
                display_name: "Bobby Tables".into(),
                avatar_url: Some("https://cdn.example/bob.png".into()),
                error_message: None,
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let mut vars: Vec<(String, String)> = [
            ("DISCORD_TOKEN", TOKEN.to_owned()),
            ("TROUPE_DATA_DIR", dir.path().display().to_string()),
            ("TROUPE_DISCORD_GATEWAY_URL", discord.gateway_url()),
            ("TROUPE_DISCORD_API_PROXY", discord.api_proxy()),
            ("TROUPE_BOT_OWNERS", OWNER.to_string()),
            ("TROUPE_HTTP_ADDR", "127.0.0.1:0".to_owned()),
            ("TROUPE_AI_BASE_URL", ai.base_url()),
            ("TROUPE_AI_API_KEY", AI_KEY.to_owned()),
            ("TROUPE_AI_MODEL", "e2e-model".to_owned()),
            ("TROUPE_PROFILE_URL", ai.profile_url()),
            ("TROUPE_PROXY_WAIT_MS", "20".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if !extra.iter().any(|(k, _)| *k == "TROUPE_PLURALKIT_URL") {
            // Never PluralKit's public API from a test.
            vars.push(("TROUPE_PLURALKIT_URL".to_owned(), "off".to_owned()));
        }
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let config = Config::from_sources(&BTreeMap::new(), vars).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let options = RunOptions {
            no_rest_ratelimit: true,
            shutdown_grace: Some(Duration::from_secs(5)),
            ..RunOptions::default()
        };
        let task = tokio::spawn(run_until(config, options, async {
            let _ = stopped.await;
        }));
        assert!(
            discord
                .wait_until(WAIT, |f| f.live_sessions() >= 1
                    && !f.requests_to("PUT", "/commands").is_empty())
                .await,
            "the bot never identified"
        );
        let bot = Self {
            discord,
            ai,
            stop: Some(stop),
            task,
            _dir: dir,
        };
        let reply = bot.command(NSFW, OWNER, "!tz add bob").await;
        assert!(reply.to_string().contains("Bobby Tables"), "{reply}");
        bot
    }

    /// Sends a command and returns the embed of the bot's reply.
    async fn command(&self, channel: u64, author: u64, content: &str) -> Value {
        let id = self.discord.send_message(channel, author, content);
        assert!(
            self.discord
                .wait_until(WAIT, |f| !f.replies_to(id).is_empty())
                .await,
            "no reply to {content:?}"
        );
        self.discord.replies_to(id)[0].embeds[0].clone()
    }

    /// Messages in `channel` sent by the bot or through its webhooks (the fake gives the bot
    /// user an id from 900,000,000,000,000,000).
    fn bot_messages(&self, channel: u64) -> Vec<troupe_testkit::discord::MessageModel> {
        self.discord
            .messages_in(channel)
            .into_iter()
            .filter(|m| {
                (m.webhook.is_some() && m.webhook != Some(PK_WEBHOOK))
                    || m.author >= 900_000_000_000_000_000
            })
            .collect()
    }

    /// Sends `content` and waits until `count` more bot messages are in `channel`.
    async fn talk(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        count: usize,
    ) -> Vec<troupe_testkit::discord::MessageModel> {
        let before = self.bot_messages(channel).len();
        self.discord.send_message(channel, author, content);
        assert!(
            self.discord
                .wait_until(WAIT, |_| self.bot_messages(channel).len() >= before + count)
                .await,
            "no answer to {content:?}: {:?}",
            self.discord.messages_in(channel)
        );
        self.bot_messages(channel)[before..].to_vec()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.task).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_gets_a_webhook_reply_with_the_name_and_avatar_and_a_reply_continues() {
    let bot = Bot::start(&[]).await;
    bot.ai.push(AiReply::answer("Hi, I am Bobby."));
    let answer = bot.talk(NSFW, MEMBER, "hello @bob", 1).await;
    assert_eq!(answer[0].content, "Hi, I am Bobby.");
    assert!(answer[0].webhook.is_some(), "sent through a webhook");
    assert_eq!(answer[0].username.as_deref(), Some("Bobby Tables"));
    let executed = bot.discord.requests_to("POST", "/webhooks/");
    assert!(
        executed
            .iter()
            .any(|r| r.body["avatar_url"] == "https://cdn.example/bob.png"),
        "{executed:?}"
    );
    let chat = &bot.ai.chats()[0];
    assert_eq!(chat.model(), Some("e2e-model"));
    assert!(
        chat.messages().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .ends_with("hello @bob")
    );

    // Replied to at once, while the first exchange may still be recording its answer: the
    // reply waits for it (same user and channel) and reaches the personality.
    bot.ai.push(AiReply::answer("Glad you asked."));
    bot.discord
        .send_message_replying(NSFW, MEMBER, "tell me more", Some(answer[0].id));
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot
                .bot_messages(NSFW)
                .iter()
                .any(|m| m.content == "Glad you asked."))
            .await
    );
    let second = bot.ai.chats().pop().unwrap();
    let messages = second.messages();
    assert_eq!(
        messages.len(),
        1 + 2 + 1,
        "the prompt, the first exchange, the reply"
    );
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .contains("[Replying to: Hi, I am Bobby.]")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_during_the_same_user_s_exchange_is_answered_after_it_not_dropped() {
    let bot = Bot::start(&[]).await;
    bot.ai
        .push(AiReply::delayed(400, AiReply::answer("answer one")));
    bot.ai.push(AiReply::answer("answer two"));
    let before = bot.bot_messages(NSFW).len();
    bot.discord.send_message(NSFW, MEMBER, "@bob one");
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot.ai.chat_count() == 1)
            .await,
        "the first exchange reached the AI"
    );
    // The first exchange is in flight: the second message is queued behind it.
    bot.discord.send_message(NSFW, MEMBER, "@bob two");
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot.bot_messages(NSFW).len() >= before + 2)
            .await,
        "both messages answered: {:?}",
        bot.discord.messages_in(NSFW)
    );
    let answers: Vec<String> = bot.bot_messages(NSFW)[before..]
        .iter()
        .map(|m| m.content.clone())
        .collect();
    assert_eq!(answers, ["answer one", "answer two"], "in order");
    let second = bot.ai.chats().pop().unwrap();
    let messages = second.messages();
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "assistant" && m["content"] == "answer one"),
        "the second exchange sees the first: {messages:?}"
    );
    assert!(
        messages.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .ends_with("@bob two")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activated_channel_answers_everyone_and_autorespond_continues_without_a_mention() {
    let bot = Bot::start(&[]).await;
    let reply = bot.command(NSFW, OWNER, "!tz activate bob").await;
    assert!(reply.to_string().contains("bob"), "{reply}");
    let a = bot.talk(NSFW, MEMBER, "anyone here?", 1).await;
    assert!(a[0].content.contains("anyone here?"), "{}", a[0].content);
    let b = bot.talk(NSFW, OWNER, "me too", 1).await;
    assert!(b[0].content.contains("me too"));
    bot.command(NSFW, OWNER, "!tz deactivate").await;

    bot.command(NSFW, MEMBER, "!tz autorespond on").await;
    bot.talk(NSFW, MEMBER, "@bob start", 1).await;
    let continued = bot.talk(NSFW, MEMBER, "no mention needed", 1).await;
    assert!(
        continued[0].content.ends_with("no mention needed"),
        "{}",
        continued[0].content
    );
    let before = bot.ai.chat_count();
    bot.discord
        .send_message(NSFW, OWNER, "owner has autorespond off");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bot.ai.chat_count(),
        before,
        "not a conversation of the owner"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dms_need_age_verification_and_then_continue_as_prefixed_bot_messages() {
    let bot = Bot::start(&[]).await;
    let refusal = bot.talk(DM, MEMBER, "@bob hi", 1).await;
    assert!(
        refusal[0].content.contains("verify"),
        "{}",
        refusal[0].content
    );
    assert_eq!(bot.ai.chat_count(), 0);
    bot.talk(NSFW, MEMBER, "@bob hi from the channel", 1).await;
    let answer = bot.talk(DM, MEMBER, "@bob hi again", 1).await;
    assert!(
        answer[0].content.starts_with("**Bobby Tables:**"),
        "{}",
        answer[0].content
    );
    let continued = bot.talk(DM, MEMBER, "and without a mention", 1).await;
    assert!(continued[0].content.contains("and without a mention"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_timeout_rate_limit_server_error_and_garbage_each_give_a_clear_message() {
    let bot = Bot::start(&[("TROUPE_AI_TIMEOUT_MS", "300".into())]).await;
    let cases = [
        (
            vec![AiReply::delayed(1_500, AiReply::answer("late"))],
            "too long",
        ),
        (
            vec![AiReply::TooManyRequests {
                retry_after_secs: Some(3_600),
            }],
            "too many requests",
        ),
        (
            // The 300 ms budget leaves no time for a retry after the 500 ms backoff.
            vec![AiReply::Status(500)],
            "unavailable",
        ),
        (vec![AiReply::Malformed], "cannot read"),
    ];
    for (replies, words) in cases {
        for r in replies {
            bot.ai.push(r);
        }
        let said = bot.talk(NSFW, MEMBER, "@bob hi", 1).await;
        assert!(
            said[0].webhook.is_none(),
            "a bot message, not the personality"
        );
        assert!(
            said[0].content.contains(words),
            "{words}: {}",
            said[0].content
        );
        let reference = said[0].content.rsplit('`').nth(1).unwrap().to_owned();
        assert_eq!(reference.len(), 8);
        let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        assert!(
            logged.contains(&reference),
            "the reference {reference} is logged"
        );
    }
    bot.ai.push(AiReply::answer("fine now"));
    bot.talk(NSFW, MEMBER, "@bob hi", 1).await;
    let last = bot.ai.chats().pop().unwrap();
    assert_eq!(last.messages().len(), 2, "failed exchanges left no history");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_six_thousand_character_answer_arrives_in_ordered_balanced_chunks() {
    let bot = Bot::start(&[]).await;
    let mut long = String::new();
    let mut n = 0;
    while long.chars().count() < 6_000 {
        long.push_str(&format!("Sentence {n} of the long answer. "));
        if n % 25 == 24 {
            long.push_str("\n```python\nprint('hello')\n```\n\n");
        }
        n += 1;
    }
    bot.ai.push(AiReply::answer(long.clone()));
    bot.talk(NSFW, MEMBER, "@bob a long one please", 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let parts: Vec<_> = bot
        .bot_messages(NSFW)
        .into_iter()
        .filter(|m| m.webhook.is_some())
        .collect();
    assert!(parts.len() >= 4, "{}", parts.len());
    for p in &parts {
        assert!(p.content.chars().count() <= 2_000);
        assert_eq!(
            p.content
                .lines()
                .filter(|l| l.trim().starts_with("```"))
                .count()
                % 2,
            0
        );
    }
    assert!(parts[0].content.starts_with("Sentence 0 "));
    assert!(
        parts
            .last()
            .unwrap()
            .content
            .ends_with(&format!("Sentence {} of the long answer.", n - 1))
    );
    let joined: String = parts
        .iter()
        .map(|p| p.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut at = 0;
    for i in 0..n {
        let needle = format!("Sentence {i} ");
        let found = joined[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("sentence {i} missing or out of order"));
        at += found;
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_messages_from_different_users_are_each_answered_once() {
    let bot = Bot::start(&[]).await;
    let users: Vec<u64> = (0..200).map(|i| 210_000_000_000_000_000 + i).collect();
    for (i, user) in users.iter().enumerate() {
        bot.discord.add_member(GUILD, *user, &[]);
        bot.discord
            .send_message(NSFW, *user, &format!("@bob number {i}"));
    }
    assert!(
        bot.discord
            .wait_until(Duration::from_secs(60), |_| bot
                .bot_messages(NSFW)
                .iter()
                .filter(|m| m.webhook.is_some())
                .count()
                >= 200)
            .await,
        "only {} answers",
        bot.bot_messages(NSFW).len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers: Vec<String> = bot
        .bot_messages(NSFW)
        .into_iter()
        .filter(|m| m.webhook.is_some())
        .map(|m| m.content)
        .collect();
    assert_eq!(answers.len(), 200);
    for i in 0..200 {
        let suffix = format!("@bob number {i}");
        assert_eq!(
            answers.iter().filter(|a| a.ends_with(&suffix)).count(),
            1,
            "{suffix}"
        );
    }
    assert_eq!(bot.ai.chat_count(), 200);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_user_is_sent_to_auth_start_and_the_oauth_flow_unlocks_talking() {
    let oauth = FakeOAuthServer::start("troupe-e2e", "client-SECRET-e2e").await;
    let bot = Bot::start(&[
        ("TROUPE_OAUTH_AUTHORIZE_URL", oauth.authorize_url()),
        ("TROUPE_OAUTH_TOKEN_URL", oauth.token_url()),
        ("TROUPE_OAUTH_CLIENT_ID", "troupe-e2e".into()),
        ("TROUPE_OAUTH_CLIENT_SECRET", "client-SECRET-e2e".into()),
        (
            "TROUPE_OAUTH_REDIRECT_URL",
            "http://127.0.0.1/show-code".into(),
        ),
        (
            "TROUPE_TOKEN_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
        ),
    ])
    .await;
    let refusal = bot.talk(NSFW, MEMBER, "@bob hi", 1).await;
    assert!(
        refusal[0].content.contains("auth start"),
        "{}",
        refusal[0].content
    );
    assert_eq!(bot.ai.chat_count(), 0);

    let reply = bot.command(NSFW, MEMBER, "!tz auth start").await;
    assert!(reply.to_string().contains("DM"), "{reply}");
    let dm = bot.discord.dm_channel_of(MEMBER).expect("a DM was opened");
    let link: String = bot
        .discord
        .messages_in(dm)
        .iter()
        .map(|m| [m.content.clone(), m.embeds.to_string()].join(" "))
        .collect();
    let state = link
        .split("state=")
        .nth(1)
        .and_then(|rest| rest.split(['&', '\\', '"', ' ']).next())
        .unwrap_or_else(|| panic!("the link carries a state: {link}"))
        .to_owned();
    assert!(
        link.contains(&oauth.authorize_url()) && link.contains("client_id=troupe-e2e"),
        "{link}"
    );
    let code = oauth.approve(&state);
    let stored = bot
        .command(dm, MEMBER, &format!("!tz auth code ||{code}||"))
        .await;
    assert!(stored.to_string().contains("30 days"), "{stored}");
    let status = bot.command(dm, MEMBER, "!tz auth status").await.to_string();
    assert!(
        status.contains("30") || status.contains("29"),
        "days left: {status}"
    );

    bot.talk(NSFW, MEMBER, "@bob now?", 1).await;
    let token = oauth.issued_tokens().pop().unwrap();
    assert_eq!(
        bot.ai.chats().pop().unwrap().authorization,
        Some(format!("Bearer {token}")),
        "the user's token is used"
    );
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    let sent: String = bot
        .discord
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    for secret in [token.as_str(), code.as_str(), "client-SECRET-e2e", AI_KEY] {
        assert!(!logged.contains(secret), "{secret} in the logs");
        assert!(!sent.contains(secret), "{secret} sent to Discord");
    }
    bot.stop().await;
}

/// PluralKit's webhook in the age-restricted channel (not one of the bot's).
const PK_WEBHOOK: u64 = 400_000_000_000_000_001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pluralkit_message_is_its_real_author_s_and_continues_their_conversation() {
    let pk = FakePluralKit::start().await;
    pk.all_from(MEMBER);
    let bot = Bot::start(&[("TROUPE_PLURALKIT_URL", pk.base_url())]).await;
    bot.command(NSFW, MEMBER, "!tz autorespond on").await;
    let before = bot.bot_messages(NSFW).len();
    let id = bot
        .discord
        .send_proxied(NSFW, PK_WEBHOOK, "Annie [system]", "@bob hi from a system");
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot.bot_messages(NSFW).len() > before)
            .await,
        "the proxied message is answered"
    );
    assert_eq!(pk.lookups(), [id.to_string()], "PluralKit was asked once");
    assert!(
        bot.ai.chats()[0].messages().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .starts_with("Annie [system]: "),
        "the AI sees the member's name"
    );
    // The conversation is MEMBER's (autorespond on): their own next message, without a
    // mention, continues it. Were the webhook the author, nobody would answer.
    let continued = bot.talk(NSFW, MEMBER, "and without a mention", 1).await;
    assert!(
        continued[0].content.ends_with("and without a mention"),
        "{}",
        continued[0].content
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pluralkit_down_or_hanging_still_gets_the_proxied_message_answered() {
    let pk = FakePluralKit::start().await;
    pk.set_mode(PluralKitMode::Down);
    let bot = Bot::start(&[
        ("TROUPE_PLURALKIT_URL", pk.base_url()),
        ("TROUPE_PLURALKIT_TIMEOUT_MS", "300".into()),
    ])
    .await;
    let before = bot.bot_messages(NSFW).len();
    bot.discord
        .send_proxied(NSFW, PK_WEBHOOK, "Annie [system]", "@bob are you there");
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot.bot_messages(NSFW).len() > before)
            .await,
        "answered with the webhook as the author"
    );
    pk.set_mode(PluralKitMode::Hang);
    bot.discord
        .send_proxied(NSFW, PK_WEBHOOK, "Annie [system]", "@bob still there");
    assert!(
        bot.discord
            .wait_until(WAIT, |_| bot.bot_messages(NSFW).len() > before + 1)
            .await,
        "a hanging PluralKit delays the answer by its bound only"
    );
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(
        logs.contains("the webhook counts as its author"),
        "the fallback is logged"
    );
    bot.stop().await;
}
