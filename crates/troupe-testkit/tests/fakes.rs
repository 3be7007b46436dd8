//! The controls of the other fakes: platform, clock, volume, profile source, auth provider.

use troupe_domain::auth::AccessToken;
use troupe_domain::personality::DisplayName;
use troupe_domain::{ChannelId, Duration, MessageId, Timestamp, UserId};
use troupe_ports::{
    AuthProvider, AuthProviderError, ChatPlatform, Clock, DataVolume, DmMessage, DmMessageKind,
    OutgoingMessage, PersonaIdentity, PlatformError, PlatformStatus, ProfileError, ProfileSource,
    SourceProfile,
};
use troupe_testkit::{FakeAuthProvider, FakeClock, FakePlatform, FakeProfileSource, FakeVolume};

fn dm(id: u64, kind: DmMessageKind) -> DmMessage {
    DmMessage {
        id: MessageId::new(id).unwrap(),
        kind,
    }
}

fn ids(page: &[DmMessage]) -> Vec<u64> {
    page.iter().map(|m| m.id.get()).collect()
}

fn persona(name: &str) -> PersonaIdentity {
    PersonaIdentity {
        display_name: name.into(),
        avatar_url: None,
    }
}

#[tokio::test]
async fn the_platform_records_what_was_sent_with_increasing_ids() {
    let platform = FakePlatform::new();
    let (user, channel) = (UserId::new(1).unwrap(), ChannelId::new(2).unwrap());
    let a = platform
        .send_dm(user, OutgoingMessage::text("hi"))
        .await
        .unwrap();
    let b = platform
        .send_message(channel, OutgoingMessage::text("yo"))
        .await
        .unwrap();
    let c = platform
        .send_as_personality(channel, &persona("Bob"), "hello")
        .await
        .unwrap();
    platform.trigger_typing(channel).await.unwrap();

    assert_eq!(a.get(), 900_000_000_000_000_000, "ids start high");
    assert!(a < b && b < c, "ids increase");
    assert_eq!(
        platform.sent_dms(),
        vec![(user, OutgoingMessage::text("hi"))]
    );
    assert_eq!(
        platform.sent_messages(),
        vec![(channel, OutgoingMessage::text("yo"))]
    );
    assert_eq!(
        platform.personality_messages(),
        vec![(channel, persona("Bob"), "hello".to_owned(), c)]
    );
    assert_eq!(platform.typing(), vec![channel]);
}

#[tokio::test]
async fn closed_dms_refuse_and_record_nothing() {
    let platform = FakePlatform::new();
    let user = UserId::new(1).unwrap();
    platform.close_dms(user);
    assert_eq!(
        platform.send_dm(user, OutgoingMessage::text("hi")).await,
        Err(PlatformError::DmClosed)
    );
    assert!(platform.sent_dms().is_empty());
    let other = UserId::new(2).unwrap();
    assert!(
        platform
            .send_dm(other, OutgoingMessage::text("hi"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn personality_text_over_two_thousand_characters_is_refused() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(2).unwrap();
    let ok = "é".repeat(2000);
    assert!(
        platform
            .send_as_personality(channel, &persona("B"), &ok)
            .await
            .is_ok()
    );
    let too_long = "é".repeat(2001);
    assert!(matches!(
        platform
            .send_as_personality(channel, &persona("B"), &too_long)
            .await,
        Err(PlatformError::Unexpected(_))
    ));
    assert_eq!(platform.personality_messages().len(), 1);
}

#[tokio::test]
async fn dm_history_pages_newest_first_strictly_before_the_cursor() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(5).unwrap();
    // Seeded out of order on purpose: the fake keeps newest first.
    let seeded: Vec<DmMessage> = [3, 10, 7, 1, 9, 5, 2, 8, 6, 4]
        .into_iter()
        .map(|id| dm(id, DmMessageKind::System))
        .collect();
    platform.seed_dm_history(channel, seeded);

    let first = platform.dm_history(channel, None, 4).await.unwrap();
    assert_eq!(ids(&first), [10, 9, 8, 7]);
    let second = platform
        .dm_history(channel, Some(first[3].id), 4)
        .await
        .unwrap();
    assert_eq!(ids(&second), [6, 5, 4, 3], "strictly older than the cursor");
    let third = platform
        .dm_history(channel, Some(second[3].id), 4)
        .await
        .unwrap();
    assert_eq!(ids(&third), [2, 1], "a short last page");
    let end = platform
        .dm_history(channel, Some(third[1].id), 4)
        .await
        .unwrap();
    assert!(end.is_empty(), "an empty page means the end");

    let unknown_cursor = MessageId::new(6_500).unwrap();
    let page = platform
        .dm_history(channel, Some(unknown_cursor), 2)
        .await
        .unwrap();
    assert_eq!(
        ids(&page),
        [10, 9],
        "a cursor that is not in the history still bounds by id"
    );
    let unknown = ChannelId::new(99).unwrap();
    assert!(
        platform
            .dm_history(unknown, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn dm_history_pages_hold_one_to_one_hundred_messages() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(5).unwrap();
    platform.seed_dm_history(
        channel,
        (1..=250)
            .rev()
            .map(|id| dm(id, DmMessageKind::User))
            .collect(),
    );
    assert_eq!(
        platform.dm_history(channel, None, 100).await.unwrap().len(),
        100
    );
    for bad in [0, 101, 255] {
        assert!(
            matches!(
                platform.dm_history(channel, None, bad).await,
                Err(PlatformError::Unexpected(_))
            ),
            "limit {bad}"
        );
    }
}

#[tokio::test]
async fn deleting_a_seeded_dm_message_removes_it_from_the_history() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(5).unwrap();
    platform.seed_dm_history(
        channel,
        vec![
            dm(3, DmMessageKind::Personality),
            dm(2, DmMessageKind::User),
            dm(1, DmMessageKind::System),
        ],
    );
    let two = MessageId::new(2).unwrap();
    platform.delete_message(channel, two).await.unwrap();
    assert_eq!(
        ids(&platform.dm_history(channel, None, 10).await.unwrap()),
        [3, 1]
    );
    assert_eq!(platform.deleted(), vec![(channel, two)]);
    assert_eq!(ids(&platform.dm_history_of(channel)), [3, 1]);
}

#[tokio::test]
async fn denied_and_failing_deletes_keep_the_message() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(5).unwrap();
    platform.seed_dm_history(
        channel,
        vec![dm(2, DmMessageKind::System), dm(1, DmMessageKind::System)],
    );
    let (one, two) = (MessageId::new(1).unwrap(), MessageId::new(2).unwrap());

    platform.deny_deletes(true);
    assert!(matches!(
        platform.delete_message(channel, one).await,
        Err(PlatformError::MissingPermission(_))
    ));
    platform.deny_deletes(false);

    platform.fail_deletes_of(two);
    assert!(matches!(
        platform.delete_message(channel, two).await,
        Err(PlatformError::Unexpected(_))
    ));
    assert!(
        platform.delete_message(channel, one).await.is_ok(),
        "other deletes still work"
    );

    assert_eq!(platform.deleted(), vec![(channel, one)]);
    assert_eq!(ids(&platform.dm_history_of(channel)), [2]);
}

#[tokio::test]
async fn an_unavailable_platform_fails_every_call_and_records_nothing() {
    let platform = FakePlatform::new();
    let channel = ChannelId::new(5).unwrap();
    platform.set_unavailable(true);
    assert_eq!(
        platform
            .send_message(channel, OutgoingMessage::text("x"))
            .await,
        Err(PlatformError::Unavailable)
    );
    assert_eq!(
        platform.trigger_typing(channel).await,
        Err(PlatformError::Unavailable)
    );
    assert!(platform.sent_messages().is_empty() && platform.typing().is_empty());
    platform.set_unavailable(false);
    assert!(platform.trigger_typing(channel).await.is_ok());
}

#[tokio::test]
async fn status_and_the_webhook_cache_are_settable() {
    let platform = FakePlatform::new();
    assert_eq!(platform.status(), PlatformStatus::default());
    let status = PlatformStatus {
        latency: Some(Duration::from_millis(42)),
        guilds: 3,
    };
    platform.set_status(status);
    assert_eq!(platform.status(), status);

    platform.set_webhook_cache(4);
    assert_eq!(platform.webhook_cache_size().await, 4);
    assert_eq!(
        platform.clear_webhook_cache().await,
        4,
        "clear returns the count"
    );
    assert_eq!(
        platform.webhook_cache_size().await,
        0,
        "and empties the cache"
    );
    assert_eq!(platform.clear_webhook_cache().await, 0);
}

#[test]
fn the_fake_clock_stands_still_until_moved() {
    let clock = FakeClock::at_millis(1_000);
    assert_eq!(clock.now(), Timestamp::from_millis(1_000));
    assert_eq!(
        clock.now(),
        Timestamp::from_millis(1_000),
        "time does not pass by itself"
    );
    clock.advance(Duration::from_millis(1_500));
    assert_eq!(clock.now(), Timestamp::from_millis(2_500));
    clock.set(Timestamp::from_millis(10));
    assert_eq!(
        clock.now(),
        Timestamp::from_millis(10),
        "set may go backwards"
    );
    assert_eq!(FakeClock::new(Timestamp::EPOCH).now(), Timestamp::EPOCH);

    let far = FakeClock::at_millis(i64::MAX - 1);
    far.advance(Duration::from_secs(10));
    assert_eq!(
        far.now(),
        Timestamp::from_millis(i64::MAX),
        "advance saturates"
    );
}

#[test]
fn the_fake_clock_is_shared_across_threads() {
    let clock = std::sync::Arc::new(FakeClock::at_millis(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let clock = std::sync::Arc::clone(&clock);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    clock.advance(Duration::from_millis(1));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        clock.now(),
        Timestamp::from_millis(4000),
        "no advance is lost"
    );
}

#[tokio::test]
async fn the_fake_volume_counts_entries_across_probes_while_writable() {
    let volume = FakeVolume::new();
    let now = Timestamp::EPOCH;
    let first = volume.probe(now).await.unwrap();
    assert_eq!(first.path, "/fake/data");
    assert!(first.writable);
    assert_eq!(first.earlier_entries, 0);
    assert_eq!(first.free_bytes, Some(1 << 30));
    assert_eq!(volume.probe(now).await.unwrap().earlier_entries, 1);

    volume.set_writable(false);
    let refused = volume.probe(now).await.unwrap();
    assert!(!refused.writable, "reported, not an error");
    assert_eq!(refused.earlier_entries, 2);
    assert_eq!(volume.entries(), 2, "an unwritable probe writes nothing");

    volume.set_writable(true);
    assert_eq!(volume.probe(now).await.unwrap().earlier_entries, 2);
}

fn profile(display: &str) -> SourceProfile {
    SourceProfile {
        display_name: DisplayName::parse(display).unwrap(),
        avatar_url: None,
        error_message: None,
    }
}

#[tokio::test]
async fn the_profile_source_knows_names_case_insensitively_and_can_fail() {
    let source = FakeProfileSource::new().with("Angel Dust", profile("Angel 🌸"));
    assert_eq!(
        source.fetch("angel  DUST").await,
        Ok(Some(profile("Angel 🌸")))
    );
    assert_eq!(
        source.fetch("nobody").await,
        Ok(None),
        "unknown names are None"
    );
    source.insert("late", profile("Late"));
    assert_eq!(source.fetch("LATE").await, Ok(Some(profile("Late"))));

    source.fail(true);
    assert_eq!(source.fetch("late").await, Err(ProfileError::Unavailable));
    source.fail(false);
    assert!(source.fetch("late").await.unwrap().is_some());
    assert_eq!(
        source.fetches(),
        ["angel  DUST", "nobody", "LATE", "late", "late"],
        "every fetch is recorded as asked"
    );
}

#[tokio::test]
async fn the_auth_provider_exchanges_declared_codes_once() {
    let provider = FakeAuthProvider::new(true);
    assert!(provider.requires_user_auth());
    assert!(!FakeAuthProvider::new(false).requires_user_auth());
    assert_eq!(
        provider.authorize_url("abc-123"),
        "http://127.0.0.1/oauth/authorize?state=abc-123"
    );

    let token = AccessToken::parse("tok-1").unwrap();
    provider.accept_code("good", token.clone(), Some(Duration::from_secs(3600)));
    provider.fail(true);
    assert_eq!(
        provider.exchange_code("good").await,
        Err(AuthProviderError::Unavailable)
    );
    provider.fail(false);

    let issued = provider.exchange_code("good").await.unwrap();
    assert_eq!(issued.token.expose(), "tok-1");
    assert_eq!(issued.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(
        provider.exchange_code("good").await,
        Err(AuthProviderError::InvalidCode),
        "a code is single-use"
    );
    assert_eq!(
        provider.exchange_code("unknown").await,
        Err(AuthProviderError::InvalidCode)
    );

    provider.accept_code("plain", "tok-2", None);
    let issued = provider.exchange_code("plain").await.unwrap();
    assert_eq!((issued.token.expose(), issued.expires_in), ("tok-2", None));
}
