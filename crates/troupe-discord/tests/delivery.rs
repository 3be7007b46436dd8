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
