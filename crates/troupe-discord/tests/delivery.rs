//! The platform's posts against the fake Discord: personality webhooks never posted twice
//! after an ambiguous failure, one webhook creation per channel without holding up the others,
//! and exempt routes that the global limit never slows.

use std::sync::Arc;
use std::time::Duration;

use troupe_discord::{DiscordConfig, DiscordPlatform, RestLimit};
use troupe_domain::ChannelId;
use troupe_ports::{ChatPlatform, OutgoingMessage, PersonaIdentity};
use troupe_testkit::discord::{FakeDiscord, Fault, FaultKind, TOKEN};

const GUILD: u64 = 100_000_000_000_000_001;
const OWNER: u64 = 200_000_000_000_000_001;
const SLOW: u64 = 300_000_000_000_000_001;
const OTHER: u64 = 300_000_000_000_000_002;

async fn fake() -> FakeDiscord {
    let fake = FakeDiscord::start().await.unwrap();
    fake.add_guild(GUILD, OWNER);
    fake.add_text_channel(GUILD, SLOW, "slow", false);
    fake.add_text_channel(GUILD, OTHER, "other", false);
    fake
}

fn platform(fake: &FakeDiscord, limit: Option<RestLimit>, timeout_ms: u64) -> Arc<DiscordPlatform> {
    troupe_discord::install_crypto_provider();
    let mut config = DiscordConfig::new(TOKEN);
    config.api_proxy = Some(fake.api_proxy());
    config.rest_timeout = Duration::from_millis(timeout_ms);
    config.rest_limit = limit;
    Arc::new(DiscordPlatform::new(&config))
}

fn channel(id: u64) -> ChannelId {
    ChannelId::new(id).unwrap()
}

fn persona() -> PersonaIdentity {
    PersonaIdentity {
        display_name: "Einstein".into(),
        avatar_url: None,
    }
}

fn posted(fake: &FakeDiscord, channel: u64, content: &str) -> usize {
    fake.messages_in(channel)
        .iter()
        .filter(|m| m.webhook.is_some() && m.content == content)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_message_accepted_before_a_502_or_a_timeout_is_posted_exactly_once() {
    let fake = fake().await;
    let platform = platform(&fake, None, 800);
    // The webhook exists first.
    platform
        .send_as_personality(channel(SLOW), &persona(), "warm up")
        .await
        .unwrap();
    for (i, kind) in [
        FaultKind::AcceptThenFail(502),
        FaultKind::AcceptThenHang(Duration::from_secs(2)),
    ]
    .into_iter()
    .enumerate()
    {
        fake.fail(Fault {
            method: Some("POST".into()),
            path_contains: "/webhooks/".into(),
            times: 1,
            kind,
        });
        let text = format!("only once {i}");
        let id = platform
            .send_as_personality(channel(SLOW), &persona(), &text)
            .await
            .expect("delivered: the check found the message");
        assert_eq!(
            posted(&fake, SLOW, &text),
            1,
            "exactly one message (case {i})"
        );
        assert_eq!(fake.message(id.get()).unwrap().content, text);
    }
    // A failure Discord did not act on is tried again.
    fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: "/webhooks/".into(),
        times: 1,
        kind: FaultKind::ServerError(503),
    });
    platform
        .send_as_personality(channel(SLOW), &persona(), "after a 503")
        .await
        .unwrap();
    assert_eq!(posted(&fake, SLOW, "after a 503"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_creation_in_one_channel_does_not_delay_sends_elsewhere() {
    let fake = fake().await;
    let platform = platform(&fake, None, 10_000);
    fake.fail(Fault {
        method: Some("POST".into()),
        path_contains: format!("/channels/{SLOW}/webhooks"),
        times: 1,
        kind: FaultKind::Delay(Duration::from_secs(3)),
    });
    let slow: Vec<_> = (0..3)
        .map(|i| {
            let platform = Arc::clone(&platform);
            tokio::spawn(async move {
                platform
                    .send_as_personality(channel(SLOW), &persona(), &format!("slow {i}"))
                    .await
            })
        })
        .collect();
    assert!(
        fake.wait_until(Duration::from_secs(10), |f| !f
            .requests_to("POST", &format!("/channels/{SLOW}/webhooks"))
            .is_empty())
            .await
    );
    platform
        .send_as_personality(channel(OTHER), &persona(), "elsewhere")
        .await
        .unwrap();
    assert!(
        slow.iter().all(|t| !t.is_finished()),
        "sent elsewhere while the slow channel's webhook was still being created"
    );
    for task in slow {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        fake.requests_to("POST", &format!("/channels/{SLOW}/webhooks"))
            .len(),
        1,
        "three concurrent sends, one creation"
    );
    assert_eq!(fake.messages_in(SLOW).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_global_limit_saturated_webhook_messages_go_straight_through() {
    let fake = fake().await;
    let platform = platform(
        &fake,
        Some(RestLimit {
            per_window: 5,
            window: Duration::from_millis(1250),
            max_wait: Duration::from_secs(30),
            shared: None,
        }),
        10_000,
    );
    platform
        .send_as_personality(channel(SLOW), &persona(), "warm up")
        .await
        .unwrap();
    // 20 bot messages need 4 windows of the global limit.
    let backlog: Vec<_> = (0..20)
        .map(|i| {
            let platform = Arc::clone(&platform);
            tokio::spawn(async move {
                platform
                    .send_message(channel(OTHER), OutgoingMessage::text(format!("bot {i}")))
                    .await
            })
        })
        .collect();
    assert!(
        fake.wait_until(Duration::from_secs(10), |f| f.messages_in(OTHER).len() >= 5)
            .await
    );
    for i in 0..5 {
        platform
            .send_as_personality(channel(SLOW), &persona(), &format!("exempt {i}"))
            .await
            .unwrap();
    }
    let bot_messages = fake.messages_in(OTHER).len();
    assert!(
        bot_messages < 20,
        "the webhook messages went out while the global backlog waited ({bot_messages} of 20 sent)"
    );
    for task in backlog {
        task.await.unwrap().unwrap();
    }
    assert!(fake.max_global_requests_per_second() <= 5);
}

const DM: u64 = 300_000_000_000_000_100;
const MEMBER: u64 = 200_000_000_000_000_002;

/// The fence lines of a message: each toggles a code block; balanced when even.
fn fences_balanced(content: &str) -> bool {
    content
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count()
        .is_multiple_of(2)
}

/// Issue 15: long DM replies were cut twice (the prefix added after splitting): a message
/// ending inside ```` ```python ````, a 30-character `def …` tail, a prefix-less fragment and a
/// message that was only `**name:** ```` `.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_code_answer_in_a_dm_arrives_in_prefixed_balanced_messages_that_fit() {
    let fake = fake().await;
    let platform = platform(&fake, None, 5_000);
    fake.send_message(DM, MEMBER, "hi");
    let code = (0..60).fold(String::new(), |mut out, i| {
        use std::fmt::Write as _;
        let _ = writeln!(out, "def function_number_{i}(x):\n    return x * {i}");
        out
    });
    let answer = format!("```python\n{code}```");
    platform
        .send_as_personality(channel(DM), &persona(), &answer)
        .await
        .unwrap();
    let sent: Vec<String> = fake
        .messages_in(DM)
        .into_iter()
        .filter(|m| m.author != MEMBER)
        .map(|m| m.content)
        .collect();
    assert!(sent.len() >= 2, "{sent:#?}");
    for (i, content) in sent.iter().enumerate() {
        assert!(content.encode_utf16().count() <= 2000, "message {i}");
        assert!(
            content.starts_with("**Einstein:** \n```python\ndef "),
            "message {i}: {content:.60}"
        );
        assert!(fences_balanced(content), "message {i}: {content}");
        assert!(
            content.len() > 200,
            "no fragment: message {i} is {content:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_thousand_character_dm_answer_has_the_prefix_on_every_message() {
    let fake = fake().await;
    let platform = platform(&fake, None, 5_000);
    fake.send_message(DM, MEMBER, "hi");
    let answer: String = "Sentence is here. "
        .repeat(120)
        .chars()
        .take(2000)
        .collect();
    platform
        .send_as_personality(channel(DM), &persona(), &answer)
        .await
        .unwrap();
    let sent: Vec<String> = fake
        .messages_in(DM)
        .into_iter()
        .filter(|m| m.author != MEMBER)
        .map(|m| m.content)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().all(|c| c.starts_with("**Einstein:** ")));
    assert!(sent.iter().all(|c| c.encode_utf16().count() <= 2000));
    assert!(sent[0].len() > 1000, "the first message is full");
}

/// Issue 15: a URL longer than a message left a first message of just "See".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_with_an_over_long_url_never_sends_a_lone_word() {
    let fake = fake().await;
    let platform = platform(&fake, None, 5_000);
    let url = format!("https://example.com/{}", "a".repeat(2500));
    let answer = format!("See {url} for details.");
    platform
        .send_as_personality(channel(OTHER), &persona(), &answer)
        .await
        .unwrap();
    let sent: Vec<String> = fake
        .messages_in(OTHER)
        .into_iter()
        .filter(|m| m.webhook.is_some())
        .map(|m| m.content)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].starts_with("See https://example.com/aaa"));
    assert!(sent.iter().all(|c| c.encode_utf16().count() <= 2000));
    assert_eq!(sent.concat().replace(' ', ""), answer.replace(' ', ""));
}
