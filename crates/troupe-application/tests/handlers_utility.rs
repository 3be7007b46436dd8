//! Scenarios for the utility commands: ping, status, help, notifications, debug, purgbot,
//! volumetest (ADR 0002 table, commands.md §2 Utility).

mod support;

use std::time::Duration;

use support::*;
use troupe_application::{CommandName as C, FollowUp, OutcomeClass};
use troupe_domain::DomainEvent;
use troupe_domain::auth::{AccessToken, AgeVerification, UserAuth};
use troupe_domain::conversation::{ChannelActivation, Conversation};
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};
use troupe_domain::{MessageId, Timestamp};
use troupe_ports::{
    AuthRepository, ConversationRepository, DmMessage, DmMessageKind, PlatformStatus,
    PreferencesRepository, ProcessedMessages,
};
use troupe_testkit::FakeVolume;

#[tokio::test]
async fn ping_reports_the_heartbeat_latency_or_measuring_before_the_first_ack() {
    let world = World::new();
    let before = world.run(req(C::Ping, &[])).await;
    assert_eq!(before.class, OutcomeClass::Success);
    assert_eq!(fields(&before), [("Latency".into(), "`measuring`".into())]);
    assert!(spans(&before).is_empty());

    world.platform.set_status(PlatformStatus {
        latency: Some(Duration::from_millis(42)),
        guilds: 3,
    });
    let after = world.run(req(C::Ping, &[])).await;
    assert_eq!(field(&after, "Latency").as_deref(), Some("`42 ms`"));
}

#[tokio::test]
async fn ping_never_shows_a_sub_millisecond_latency_as_zero() {
    let world = World::new();
    world.platform.set_status(PlatformStatus {
        latency: Some(Duration::from_micros(400)),
        guilds: 3,
    });
    let outcome = world.run(req(C::Ping, &[])).await;
    assert_eq!(field(&outcome, "Latency").as_deref(), Some("`1 ms`"));
}

#[tokio::test]
async fn status_shows_the_callers_state_and_that_the_new_system_served_it() {
    let world = World::new();
    world.platform.set_status(PlatformStatus {
        latency: Some(Duration::from_millis(7)),
        guilds: 4,
    });
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", OWNER, &[]).await;
    world.seed("bohr", STRANGER, &[]).await;
    let now = world.now();
    world
        .store
        .save_token(&UserAuth::issue(
            user(OWNER),
            AccessToken::parse("t0k").unwrap(),
            now,
            Duration::from_secs(86_400),
        ))
        .await
        .unwrap();
    world
        .store
        .set_autorespond(user(OWNER), true)
        .await
        .unwrap();
    for ch in [CHANNEL, 101] {
        world
            .store
            .activate(&ChannelActivation {
                channel: channel(ch),
                personality: name("bohr"),
                activated_by: user(STRANGER),
                activated_at: now,
            })
            .await
            .unwrap();
    }

    let outcome = world.run(req(C::Status, &[])).await;

    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(outcome.events.is_empty());
    let mut shown = fields(&outcome);
    assert_eq!(shown.remove(0).0, "Uptime");
    let expected: Vec<(String, String)> = [
        ("Latency", "`7 ms`"),
        ("Servers", "4"),
        ("Authenticated", "yes"),
        ("Age verified", "no"),
        ("Your personalities", "2"),
        ("Autorespond", "on"),
        ("Active here", "bohr"),
        ("Active channels", "2"),
        ("Command system", "ddd"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn status_of_a_new_user_in_a_quiet_channel_shows_defaults() {
    let world = World::new();
    let outcome = world.run(req(C::Status, &[]).by(STRANGER).in_dm()).await;
    assert_eq!(field(&outcome, "Authenticated").as_deref(), Some("no"));
    assert_eq!(field(&outcome, "Your personalities").as_deref(), Some("0"));
    assert_eq!(field(&outcome, "Autorespond").as_deref(), Some("off"));
    assert_eq!(field(&outcome, "Active here").as_deref(), Some("none"));
    assert_eq!(field(&outcome, "Latency").as_deref(), Some("`measuring`"));
}

#[tokio::test]
async fn status_counts_an_expired_token_as_not_authenticated() {
    let world = World::new();
    let long_ago = Timestamp::from_millis(0);
    world
        .store
        .save_token(&UserAuth::issue(
            user(OWNER),
            AccessToken::parse("old").unwrap(),
            long_ago,
            Duration::from_secs(60),
        ))
        .await
        .unwrap();
    let outcome = world.run(req(C::Status, &[])).await;
    assert_eq!(field(&outcome, "Authenticated").as_deref(), Some("no"));
}

#[tokio::test]
async fn help_without_argument_lists_the_groups_the_caller_may_see() {
    let world = World::new();
    let everyone = world.run(req(C::Help, &[])).await;
    assert_eq!(everyone.class, OutcomeClass::Success);
    assert_eq!(
        field_names(&everyone),
        ["Personality", "Conversation", "Authentication", "Utility"]
    );
    let admin = world.run(req(C::Help, &[]).admin()).await;
    assert!(field_names(&admin).contains(&"Admin".to_owned()));
    assert!(!field_names(&admin).contains(&"Owner".to_owned()));
    let owner = world.run(req(C::Help, &[]).by(BOT_OWNER)).await;
    assert!(field_names(&owner).contains(&"Admin".to_owned()));
    assert!(field_names(&owner).contains(&"Owner".to_owned()));
}

#[tokio::test]
async fn help_for_a_command_or_alias_shows_its_usage() {
    let world = World::new();
    for query in ["add", "CREATE", "?"] {
        let outcome = world.run(req(C::Help, &[query])).await;
        assert_eq!(outcome.class, OutcomeClass::Success, "{query}");
        assert_eq!(
            field_names(&outcome),
            ["Usage", "Aliases", "Options", "Examples"],
            "{query}"
        );
    }
}

#[tokio::test]
async fn help_for_an_unknown_or_restricted_command_says_so() {
    let world = World::new();
    let unknown = world.run(req(C::Help, &["frobnicate"])).await;
    assert_no_state_change(&unknown, OutcomeClass::NotFound);
    assert!(spans(&unknown).contains(&"`frobnicate`".to_owned()));

    let restricted = world.run(req(C::Help, &["debug"])).await;
    assert_no_state_change(&restricted, OutcomeClass::Denied);
    assert!(spans(&restricted).contains(&"`debug`".to_owned()));
    let allowed = world.run(req(C::Help, &["debug"]).admin()).await;
    assert_eq!(allowed.class, OutcomeClass::Success);
}

#[tokio::test]
async fn notifications_default_to_opted_in_at_minor_for_a_user_without_record() {
    let world = World::new();
    for words in [&[][..], &["status"], &["STATUS"]] {
        let outcome = world.run(req(C::Notifications, words)).await;
        assert_eq!(outcome.class, OutcomeClass::Success);
        assert!(outcome.events.is_empty());
        assert_eq!(
            fields(&outcome),
            [
                ("Notifications".into(), "on".into()),
                ("Level".into(), "minor".into()),
                ("Last notified".into(), "never".into())
            ]
        );
    }
    assert!(
        world
            .store
            .notification_preference(user(OWNER))
            .await
            .unwrap()
            .is_none(),
        "showing the status stores nothing"
    );
}

#[tokio::test]
async fn notifications_status_shows_the_last_notified_version() {
    let world = World::new();
    let pref = NotificationPreference {
        opted_in: false,
        level: NotificationLevel::Patch,
        last_notified: Version::parse("1.4.2"),
    };
    world
        .store
        .save_notification_preference(user(OWNER), &pref)
        .await
        .unwrap();
    let outcome = world.run(req(C::Notifications, &[])).await;
    assert_eq!(field(&outcome, "Notifications").as_deref(), Some("off"));
    assert_eq!(field(&outcome, "Level").as_deref(), Some("patch"));
    assert_eq!(field(&outcome, "Last notified").as_deref(), Some("1.4.2"));
}

#[tokio::test]
async fn notifications_off_and_on_switch_the_stored_preference() {
    let world = World::new();
    let off = world.run(req(C::Notifications, &["off"])).await;
    assert_eq!(off.class, OutcomeClass::Success);
    assert_eq!(
        off.events,
        [DomainEvent::NotificationsChanged {
            user: user(OWNER),
            opted_in: false,
            level: NotificationLevel::Minor
        }]
    );
    assert_eq!(spans(&off), ["`off`"]);
    let stored = world
        .store
        .notification_preference(user(OWNER))
        .await
        .unwrap();
    assert!(!stored.unwrap().opted_in);

    let on = world.run(req(C::Notifications, &["On"])).await;
    assert_eq!(spans(&on), ["`on`"]);
    let stored = world
        .store
        .notification_preference(user(OWNER))
        .await
        .unwrap();
    assert!(stored.unwrap().opted_in);
}

#[tokio::test]
async fn notifications_level_changes_the_level_and_keeps_the_opt_in() {
    let world = World::new();
    world.run(req(C::Notifications, &["off"])).await;
    let outcome = world.run(req(C::Notifications, &["level", "MAJOR"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::NotificationsChanged {
            user: user(OWNER),
            opted_in: false,
            level: NotificationLevel::Major
        }]
    );
    assert_eq!(spans(&outcome), ["`major`"]);
    let stored = world
        .store
        .notification_preference(user(OWNER))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.opted_in, stored.level),
        (false, NotificationLevel::Major)
    );
}

#[tokio::test]
async fn notifications_level_missing_or_invalid_lists_the_valid_levels() {
    let world = World::new();
    for words in [&["level"][..], &["level", "huge"], &["level", "none"]] {
        let outcome = world.run(req(C::Notifications, words)).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        assert_eq!(
            spans(&outcome),
            ["`major`", "`minor`", "`patch`"],
            "{words:?}"
        );
    }
    assert!(
        world
            .store
            .notification_preference(user(OWNER))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn notifications_with_another_option_echoes_it_as_invalid() {
    let world = World::new();
    let outcome = world.run(req(C::Notifications, &["sometimes"])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert_eq!(spans(&outcome), ["`sometimes`"]);
}

#[tokio::test]
async fn debug_is_refused_to_members_without_administrator_and_in_dms() {
    let world = World::new();
    for request in [
        req(C::Debug, &["stats"]),
        req(C::Debug, &["stats"]).manage_messages(),
        req(C::Debug, &["stats"]).in_dm(),
        req(C::Debug, &["stats"]).in_dm().admin(),
    ] {
        let outcome = world.run(request).await;
        assert_no_state_change(&outcome, OutcomeClass::Denied);
        assert_eq!(spans(&outcome), ["`Administrator`"]);
    }
}

#[tokio::test]
async fn debug_without_subcommand_lists_the_six_subcommands() {
    let world = World::new();
    let outcome = world.run(req(C::Debug, &[]).admin()).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
    assert_eq!(
        spans(&outcome),
        [
            "`clearwebhooks`",
            "`unverify`",
            "`clearconversation`",
            "`clearauth`",
            "`clearmessages`",
            "`stats`"
        ]
    );
    let in_dm = world.run(req(C::Debug, &[]).in_dm().by(BOT_OWNER)).await;
    assert_eq!(
        in_dm.class,
        OutcomeClass::Info,
        "bot owners may debug in DMs"
    );
}

#[tokio::test]
async fn debug_clearwebhooks_drops_the_cache_and_reports_the_count() {
    let world = World::new();
    world.platform.set_webhook_cache(5);
    let outcome = world.run(req(C::Debug, &["clearwebhooks"]).admin()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(outcome.events, [DomainEvent::WebhookCacheCleared]);
    assert_eq!(spans(&outcome), ["`5`"]);
    let stats = world.run(req(C::Debug, &["stats"]).admin()).await;
    assert_eq!(field(&stats, "Cached webhooks").as_deref(), Some("0"));
}

#[tokio::test]
async fn debug_unverify_removes_the_callers_verification_or_says_there_was_none() {
    let world = World::new();
    let none = world.run(req(C::Debug, &["unverify"]).admin()).await;
    assert_no_state_change(&none, OutcomeClass::Info);
    assert!(spans(&none).is_empty());

    world
        .store
        .save_verification(&AgeVerification {
            user: user(OWNER),
            verified_at: world.now(),
        })
        .await
        .unwrap();
    let outcome = world.run(req(C::Debug, &["unverify"]).admin()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::VerificationRemoved { user: user(OWNER) }]
    );
    assert!(spans(&outcome).is_empty());
    assert!(
        world
            .store
            .verification(user(OWNER))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn debug_clearconversation_clears_the_callers_conversation_in_this_channel() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let none = world
        .run(req(C::Debug, &["clearconversation"]).admin())
        .await;
    assert_no_state_change(&none, OutcomeClass::Info);

    let conversation = Conversation::after_exchange(
        user(OWNER),
        channel(CHANNEL),
        name("einstein"),
        false,
        true,
        world.now(),
    );
    world.store.save_conversation(&conversation).await.unwrap();
    let outcome = world
        .run(req(C::Debug, &["clearconversation"]).admin())
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::ConversationCleared {
            user: user(OWNER),
            channel: channel(CHANNEL),
            name: name("einstein")
        }]
    );
    assert_eq!(spans(&outcome), ["**einstein**"]);
    assert!(
        world
            .store
            .conversation(user(OWNER), channel(CHANNEL))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn debug_clearauth_deletes_expired_tokens_only() {
    let world = World::new();
    let now = world.now();
    for (id, ttl) in [(OWNER, 60), (STRANGER, 60), (BOT_OWNER, 90 * 86_400)] {
        world
            .store
            .save_token(&UserAuth::issue(
                user(id),
                AccessToken::parse("x").unwrap(),
                now.minus(Duration::from_secs(3600)),
                Duration::from_secs(ttl),
            ))
            .await
            .unwrap();
    }
    let outcome = world.run(req(C::Debug, &["clearauth"]).admin()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::ExpiredTokensPurged { count: 2 }]
    );
    assert_eq!(spans(&outcome), ["`2`"]);
    assert_eq!(world.store.count_tokens().await.unwrap(), 1);
}

#[tokio::test]
async fn debug_clearmessages_forgets_processed_message_ids() {
    let world = World::new();
    for id in 1..=3 {
        world
            .store
            .claim(
                MessageId::new(id).unwrap(),
                world.now(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    let outcome = world.run(req(C::Debug, &["clearmessages"]).admin()).await;
    assert_eq!(
        outcome.events,
        [DomainEvent::ProcessedMessagesCleared { count: 3 }]
    );
    assert_eq!(spans(&outcome), ["`3`"]);
    assert_eq!(world.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn debug_stats_counts_what_the_bot_holds() {
    let world = World::new();
    world.platform.set_webhook_cache(2);
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", STRANGER, &[]).await;
    world
        .store
        .activate(&ChannelActivation {
            channel: channel(CHANNEL),
            personality: name("curie"),
            activated_by: user(STRANGER),
            activated_at: world.now(),
        })
        .await
        .unwrap();
    let outcome = world.run(req(C::Debug, &["STATS"]).by(BOT_OWNER)).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(outcome.events.is_empty());
    let expected: Vec<(String, String)> = [
        ("Cached webhooks", "2"),
        ("Tracked messages", "0"),
        ("Stored tokens", "0"),
        ("Personalities", "2"),
        ("Activations", "1"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(fields(&outcome), expected);
}

#[tokio::test]
async fn debug_with_an_unknown_subcommand_echoes_it() {
    let world = World::new();
    let outcome = world.run(req(C::Debug, &["explode"]).admin()).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert_eq!(spans(&outcome), ["`explode`"]);
}

fn dm(id: u64, kind: DmMessageKind) -> DmMessage {
    DmMessage {
        id: MessageId::new(id).unwrap(),
        kind,
    }
}

/// 250 messages cycling user, system, personality: more than two history pages.
fn long_history() -> Vec<DmMessage> {
    (1..=250)
        .map(|id| {
            let kind = match id % 3 {
                0 => DmMessageKind::User,
                1 => DmMessageKind::System,
                _ => DmMessageKind::Personality,
            };
            dm(id, kind)
        })
        .collect()
}

#[tokio::test]
async fn purgbot_is_refused_outside_dms() {
    let world = World::new();
    world
        .platform
        .seed_dm_history(channel(CHANNEL), long_history());
    let outcome = world.run(req(C::Purgbot, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert!(spans(&outcome).is_empty());
    assert!(world.platform.deleted().is_empty());
}

#[tokio::test]
async fn purgbot_with_another_argument_names_the_valid_ones() {
    let world = World::new();
    world
        .platform
        .seed_dm_history(channel(DM_CHANNEL), long_history());
    let outcome = world.run(req(C::Purgbot, &["everything"]).in_dm()).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert_eq!(spans(&outcome), ["`system`", "`all`"]);
    assert!(world.platform.deleted().is_empty());
}

#[tokio::test]
async fn purgbot_system_pages_through_the_whole_dm_and_keeps_personality_messages() {
    let world = World::new();
    world
        .platform
        .seed_dm_history(channel(DM_CHANNEL), long_history());
    let outcome = world.run(req(C::Purgbot, &[]).in_dm()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(outcome.events.is_empty());
    assert_eq!(spans(&outcome), ["`84`", "`0`"]);
    assert_eq!(
        outcome.follow_ups,
        [FollowUp::DeleteReplyAfter(Duration::from_secs(10))]
    );
    let left = world.platform.dm_history_of(channel(DM_CHANNEL));
    assert_eq!(left.len(), 250 - 84);
    assert!(left.iter().all(|m| m.kind != DmMessageKind::System));
    assert!(
        world.platform.deleted().iter().any(|(_, id)| id.get() == 1),
        "the oldest message, beyond the first 100, is reached"
    );
}

#[tokio::test]
async fn purgbot_all_deletes_personality_messages_too_and_counts_failures() {
    let world = World::new();
    world
        .platform
        .seed_dm_history(channel(DM_CHANNEL), long_history());
    world.platform.fail_deletes_of(MessageId::new(2).unwrap());
    world.platform.fail_deletes_of(MessageId::new(4).unwrap());
    let outcome = world.run(req(C::Purgbot, &["ALL"]).in_dm()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(spans(&outcome), ["`165`", "`2`"]);
    let left = world.platform.dm_history_of(channel(DM_CHANNEL));
    assert_eq!(
        left.len(),
        83 + 2,
        "user messages and the two failures stay"
    );
}

#[tokio::test]
async fn volumetest_is_refused_to_everyone_but_bot_owners() {
    let world = World::new();
    for request in [
        req(C::Volumetest, &[]).admin(),
        req(C::Volumetest, &[]).in_dm(),
    ] {
        let outcome = world.run(request).await;
        assert_no_state_change(&outcome, OutcomeClass::Denied);
    }
    assert_eq!(world.volume.entries(), 0, "nothing was written");
}

#[tokio::test]
async fn volumetest_reports_the_data_directory_and_counts_earlier_entries() {
    let world = World::new();
    let first = world.run(req(C::Volumetest, &[]).by(BOT_OWNER)).await;
    assert_eq!(first.class, OutcomeClass::Success);
    let expected = |entries: &str| -> Vec<(String, String)> {
        [
            ("Data directory", FakeVolume::PATH),
            ("Writable", "yes"),
            ("Earlier entries", entries),
            ("Free space", "1.0 GiB"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
    };
    assert_eq!(fields(&first), expected("0"));
    let second = world.run(req(C::Volumetest, &[]).by(BOT_OWNER)).await;
    assert_eq!(fields(&second), expected("1"));

    world.volume.set_writable(false);
    let unwritable = world.run(req(C::Volumetest, &[]).by(BOT_OWNER)).await;
    assert_eq!(field(&unwritable, "Writable").as_deref(), Some("no"));
}

#[tokio::test]
async fn the_new_system_is_ddd_and_answers_every_one_of_the_eighteen_commands() {
    use troupe_application::handlers::NewSystem;
    use troupe_application::{CommandName, CommandSystem, SystemKind};

    let world = World::new();
    let system = NewSystem::new(world.deps());
    assert_eq!(system.kind(), SystemKind::New);
    for command in CommandName::ALL {
        assert!(system.handles(command), "{command}");
        let outcome = system.execute(&req(command, &[]).into()).await;
        assert!(outcome.reply.is_some(), "{command} replies");
        assert_ne!(outcome.class, OutcomeClass::InternalError, "{command}");
        assert_ne!(outcome.class, OutcomeClass::Ignored, "{command}");
    }
}
