//! ADR 0002 scenarios of the utility commands: ping, status, help, notifications, debug,
//! purgbot, volumetest.

use troupe_application::{FollowUp, OutcomeClass};
use troupe_domain::auth::{AccessToken, AgeVerification, UserAuth};
use troupe_domain::conversation::{ChannelActivation, Conversation};
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};
use troupe_domain::{DomainEvent, Duration, MessageId};
use troupe_ports::{
    AuthRepository, ConversationRepository, DmMessage, DmMessageKind, PlatformStatus,
    PreferencesRepository, ProcessedMessages,
};
use troupe_testkit::FakeVolume;

use crate::common::*;

fn token(owner: u64, issued_at: i64, ttl_days: u64) -> UserAuth {
    UserAuth::issue(
        user(owner),
        AccessToken::parse("secret-token").unwrap(),
        at(issued_at),
        Duration::from_secs(ttl_days * 86_400),
    )
}

// ---------------------------------------------------------------- ping

#[tokio::test]
async fn ping_shows_the_heartbeat_latency_in_milliseconds() {
    let h = Harness::new();
    h.platform.set_status(PlatformStatus {
        latency: Some(Duration::from_millis(42)),
        guilds: 3,
    });
    let o = h.run(&member(ALICE), "!tz ping").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(field(&o, "Latency"), "`42 ms`");
}

#[tokio::test]
async fn ping_says_measuring_before_the_first_heartbeat_ack() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz ping").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(field(&o, "Latency"), "`measuring`");
}

// ---------------------------------------------------------------- status

#[tokio::test]
async fn status_reports_every_field_of_the_contract_in_order() {
    let h = Harness::new();
    h.platform.set_status(PlatformStatus {
        latency: Some(Duration::from_millis(7)),
        guilds: 12,
    });
    h.seed("einstein", ALICE, &[]).await;
    h.seed("curie", ALICE, &[]).await;
    h.seed("tesla", BOB, &[]).await;
    h.store.save_token(&token(ALICE, -1000, 30)).await.unwrap();
    h.store
        .save_verification(&AgeVerification {
            user: user(ALICE),
            verified_at: at(0),
        })
        .await
        .unwrap();
    h.store.set_autorespond(user(ALICE), true).await.unwrap();
    for (ch, who) in [(CHANNEL, "einstein"), (OTHER_CHANNEL, "tesla")] {
        h.store
            .activate(&ChannelActivation {
                channel: channel(ch),
                personality: name(who),
                activated_by: user(BOB),
                activated_at: at(0),
            })
            .await
            .unwrap();
    }

    let o = h.run(&member(ALICE), "!tz status").await;

    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    let f = facts(&o).fields;
    let expected = [
        ("Uptime", "1h"),
        ("Latency", "`7 ms`"),
        ("Servers", "12"),
        ("Authenticated", "yes"),
        ("Age verified", "yes"),
        ("Your personalities", "2"),
        ("Autorespond", "on"),
        ("Active here", "einstein"),
        ("Active channels", "2"),
        ("Command system", "legacy"),
    ];
    let got: Vec<(&str, &str)> = f.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn status_of_a_new_user_says_no_none_and_off() {
    let h = Harness::new();
    h.store
        .save_token(&token(ALICE, -31 * 86_400_000, 30))
        .await
        .unwrap();
    let o = h.run(&dm(ALICE), "!tz status").await;
    assert_eq!(o.class, OutcomeClass::Success);
    assert_eq!(
        field(&o, "Authenticated"),
        "no",
        "an expired token is not authenticated"
    );
    assert_eq!(field(&o, "Age verified"), "no");
    assert_eq!(field(&o, "Your personalities"), "0");
    assert_eq!(field(&o, "Autorespond"), "off");
    assert_eq!(field(&o, "Active here"), "none");
    assert_eq!(field(&o, "Active channels"), "0");
    assert_eq!(field(&o, "Latency"), "`measuring`");
}

#[tokio::test]
async fn status_fails_with_a_reference_when_the_store_is_down() {
    let h = Harness::new();
    h.store.fail_all(true);
    expect_internal_error(&h.run(&member(ALICE), "!tz status").await);
}

// ---------------------------------------------------------------- help

#[tokio::test]
async fn help_lists_the_four_groups_to_a_member() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz help").await;
    assert_eq!(o.class, OutcomeClass::Success);
    assert_eq!(
        field_names(&o),
        ["Personality", "Conversation", "Authentication", "Utility"]
    );
    assert!(o.events.is_empty());
}

#[tokio::test]
async fn help_adds_the_admin_group_for_administrators_and_the_owner_group_for_bot_owners() {
    let h = Harness::new();
    let admin = h.run(&member(ALICE).admin(), "!tz help").await;
    assert_eq!(
        field_names(&admin),
        [
            "Personality",
            "Conversation",
            "Authentication",
            "Utility",
            "Admin"
        ]
    );
    // ROOT is a bot owner by configuration, even when the request does not say so.
    let owner = h.run(&dm(ROOT), "!tz help").await;
    assert_eq!(
        field_names(&owner),
        [
            "Personality",
            "Conversation",
            "Authentication",
            "Utility",
            "Admin",
            "Owner"
        ]
    );
}

#[tokio::test]
async fn help_for_a_command_or_alias_shows_usage_aliases_options_and_examples() {
    let h = Harness::new();
    for text in ["!tz help activate", "!tz help ACT", "!tz ? act"] {
        let o = h.run(&member(ALICE), text).await;
        assert_eq!(o.class, OutcomeClass::Success, "{text}");
        assert_eq!(
            field_names(&o),
            ["Usage", "Aliases", "Options", "Examples"],
            "{text}"
        );
    }
}

#[tokio::test]
async fn help_for_an_unknown_name_is_not_found_and_names_it() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz help dance").await;
    assert_eq!(o.class, OutcomeClass::NotFound);
    assert!(o.events.is_empty());
    // The shared renderer also shows how to run help; the name comes first.
    assert_eq!(facts(&o).code.first().map(String::as_str), Some("dance"));
}

#[tokio::test]
async fn help_for_a_restricted_command_is_denied_to_those_who_may_not_run_it() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz help debug").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &["debug"]);
    let o = h.run(&member(ALICE).admin(), "!tz help volumetest").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &["volumetest"]);
    // An administrator permission means nothing in a DM.
    let o = h.run(&dm(ALICE).admin(), "!tz help debug").await;
    assert_eq!(o.class, OutcomeClass::Denied);
    let o = h
        .run(&member(ALICE).bot_owner(), "!tz help volumetest")
        .await;
    assert_eq!(o.class, OutcomeClass::Success);
}

// ---------------------------------------------------------------- notifications

#[tokio::test]
async fn notifications_status_shows_the_defaults_for_a_user_without_a_record() {
    let h = Harness::new();
    for text in ["!tz notifications", "!tz notif status", "!tz notify STATUS"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::Success, &[], &[], &[]);
        assert_eq!(
            facts(&o).fields,
            [
                ("Notifications".to_owned(), "on".to_owned()),
                ("Level".to_owned(), "minor".to_owned()),
                ("Last notified".to_owned(), "never".to_owned()),
            ],
            "{text}"
        );
    }
    assert_eq!(
        h.store.notification_preference(user(ALICE)).await.unwrap(),
        None,
        "status stores nothing"
    );
}

#[tokio::test]
async fn notifications_status_shows_the_stored_preference() {
    let h = Harness::new();
    let stored = NotificationPreference {
        opted_in: false,
        level: NotificationLevel::Patch,
        last_notified: Version::parse("1.4.2"),
    };
    h.store
        .save_notification_preference(user(ALICE), &stored)
        .await
        .unwrap();
    let o = h.run(&member(ALICE), "!tz notifications").await;
    assert_eq!(field(&o, "Notifications"), "off");
    assert_eq!(field(&o, "Level"), "patch");
    assert_eq!(field(&o, "Last notified"), "1.4.2");
}

#[tokio::test]
async fn notifications_off_and_on_store_the_choice_and_keep_the_level() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz notifications off").await;
    let off = DomainEvent::NotificationsChanged {
        user: user(ALICE),
        opted_in: false,
        level: NotificationLevel::Minor,
    };
    expect(&o, OutcomeClass::Success, &[off], &[], &["off"]);
    let stored = h
        .store
        .notification_preference(user(ALICE))
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.opted_in);
    assert_eq!(stored.level, NotificationLevel::Minor);

    let o = h.run(&member(ALICE), "!tz notifications ON").await;
    let on = DomainEvent::NotificationsChanged {
        user: user(ALICE),
        opted_in: true,
        level: NotificationLevel::Minor,
    };
    expect(&o, OutcomeClass::Success, &[on], &[], &["on"]);
}

#[tokio::test]
async fn notifications_level_changes_only_the_level() {
    let h = Harness::new();
    h.run(&member(ALICE), "!tz notifications off").await;
    let o = h.run(&member(ALICE), "!tz notifications level Patch").await;
    let event = DomainEvent::NotificationsChanged {
        user: user(ALICE),
        opted_in: false,
        level: NotificationLevel::Patch,
    };
    expect(&o, OutcomeClass::Success, &[event], &[], &["patch"]);
    let stored = h
        .store
        .notification_preference(user(ALICE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.opted_in, stored.level),
        (false, NotificationLevel::Patch)
    );
}

#[tokio::test]
async fn notifications_level_missing_or_invalid_lists_the_valid_levels_and_stores_nothing() {
    let h = Harness::new();
    for text in [
        "!tz notifications level",
        "!tz notifications level huge",
        "!tz notifications level none",
    ] {
        let o = h.run(&member(ALICE), text).await;
        expect(
            &o,
            OutcomeClass::InvalidInput,
            &[],
            &[],
            &["major", "minor", "patch"],
        );
    }
    assert_eq!(
        h.store.notification_preference(user(ALICE)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn notifications_with_another_subcommand_names_it() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz notifications Loud").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &["Loud"]);
}

#[tokio::test]
async fn notifications_change_that_cannot_be_saved_is_an_internal_error_and_stores_nothing() {
    let h = Harness::new();
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz notifications off").await);
    assert_eq!(
        h.store.notification_preference(user(ALICE)).await.unwrap(),
        None
    );
}

// ---------------------------------------------------------------- debug

#[tokio::test]
async fn debug_is_denied_to_members_and_to_administrators_in_dms() {
    let h = Harness::new();
    for who in [member(ALICE), member(ALICE).manager(), dm(ALICE).admin()] {
        let o = h.run(&who, "!tz debug stats").await;
        expect(&o, OutcomeClass::Denied, &[], &[], &["Administrator"]);
    }
}

#[tokio::test]
async fn debug_without_subcommand_lists_the_six_subcommands() {
    let h = Harness::new();
    for who in [member(ALICE).admin(), dm(ROOT), dm(ALICE).bot_owner()] {
        let o = h.run(&who, "!tz debug").await;
        expect(
            &o,
            OutcomeClass::Info,
            &[],
            &[],
            &[
                "clearwebhooks",
                "unverify",
                "clearconversation",
                "clearauth",
                "clearmessages",
                "stats",
            ],
        );
    }
}

#[tokio::test]
async fn debug_clearwebhooks_reports_how_many_were_cached() {
    let h = Harness::new();
    h.platform.set_webhook_cache(3);
    let o = h
        .run(&member(ALICE).admin(), "!tz debug clearwebhooks")
        .await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::WebhookCacheCleared],
        &[],
        &["3"],
    );
    let o = h
        .run(&member(ALICE).admin(), "!tz debug clearwebhooks")
        .await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::WebhookCacheCleared],
        &[],
        &["0"],
    );
}

#[tokio::test]
async fn debug_unverify_removes_the_callers_verification_or_says_there_was_none() {
    let h = Harness::new();
    let admin = member(ALICE).admin();
    let o = h.run(&admin, "!tz debug unverify").await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);

    h.store
        .save_verification(&AgeVerification {
            user: user(ALICE),
            verified_at: at(0),
        })
        .await
        .unwrap();
    let o = h.run(&admin, "!tz debug unverify").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::VerificationRemoved { user: user(ALICE) }],
        &[],
        &[],
    );
    assert_eq!(h.store.verification(user(ALICE)).await.unwrap(), None);
}

#[tokio::test]
async fn debug_clearconversation_clears_the_callers_conversation_in_this_channel() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    let admin = member(ALICE).admin();
    let o = h.run(&admin, "!tz debug clearconversation").await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);

    let conversation = Conversation::after_exchange(
        user(ALICE),
        channel(CHANNEL),
        name("einstein"),
        false,
        true,
        at(0),
    );
    h.store.save_conversation(&conversation).await.unwrap();
    let o = h.run(&admin, "!tz debug clearconversation").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ConversationCleared {
            user: user(ALICE),
            channel: channel(CHANNEL),
            name: name("einstein"),
        }],
        &["einstein"],
        &[],
    );
    assert_eq!(
        h.store
            .conversation(user(ALICE), channel(CHANNEL))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn debug_clearauth_deletes_only_expired_tokens() {
    let h = Harness::new();
    h.store
        .save_token(&token(ALICE, -40 * 86_400_000, 30))
        .await
        .unwrap();
    h.store.save_token(&token(BOB, 0, 30)).await.unwrap();
    let o = h.run(&dm(ROOT), "!tz debug clearauth").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ExpiredTokensPurged { count: 1 }],
        &[],
        &["1"],
    );
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);
    assert!(h.store.token(user(BOB)).await.unwrap().is_some());
}

#[tokio::test]
async fn debug_clearmessages_forgets_the_processed_message_ids() {
    let h = Harness::new();
    for id in [1, 2] {
        h.store
            .claim(MessageId::new(id).unwrap(), at(0), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let o = h.run(&dm(ROOT), "!tz debug clearmessages").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ProcessedMessagesCleared { count: 2 }],
        &[],
        &["2"],
    );
    assert_eq!(h.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn debug_stats_counts_what_is_cached_and_stored() {
    let h = Harness::new();
    h.platform.set_webhook_cache(4);
    h.store
        .claim(MessageId::new(9).unwrap(), at(0), Duration::from_secs(60))
        .await
        .unwrap();
    h.store.save_token(&token(BOB, 0, 30)).await.unwrap();
    h.seed("einstein", BOB, &[]).await;
    h.seed("curie", BOB, &[]).await;
    h.store
        .activate(&ChannelActivation {
            channel: channel(CHANNEL),
            personality: name("curie"),
            activated_by: user(BOB),
            activated_at: at(0),
        })
        .await
        .unwrap();
    let o = h.run(&member(ALICE).admin(), "!tz debug STATS").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    let got = facts(&o).fields;
    let expected = [
        ("Cached webhooks", "4"),
        ("Tracked messages", "1"),
        ("Stored tokens", "1"),
        ("Personalities", "2"),
        ("Activations", "1"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn debug_with_an_unknown_subcommand_names_it() {
    let h = Harness::new();
    let o = h.run(&dm(ROOT), "!tz debug explode").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &["explode"]);
}

// ---------------------------------------------------------------- purgbot

fn history(count: u64) -> Vec<DmMessage> {
    // Ids 1..=count; kinds cycle user, system, personality.
    (1..=count)
        .map(|id| DmMessage {
            id: MessageId::new(id).unwrap(),
            kind: match id % 3 {
                0 => DmMessageKind::User,
                1 => DmMessageKind::System,
                _ => DmMessageKind::Personality,
            },
        })
        .collect()
}

#[tokio::test]
async fn purgbot_is_denied_in_a_server() {
    let h = Harness::new();
    let o = h.run(&member(ALICE).admin(), "!tz purgbot all").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    assert!(h.platform.deleted().is_empty());
}

#[tokio::test]
async fn purgbot_with_an_unknown_mode_lists_system_and_all() {
    let h = Harness::new();
    h.platform.seed_dm_history(channel(DM_CHANNEL), history(9));
    let o = h.run(&dm(ALICE), "!tz cleandm everything").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &["system", "all"]);
    assert!(h.platform.deleted().is_empty());
}

#[tokio::test]
async fn purgbot_pages_through_the_whole_history_and_keeps_personality_messages_by_default() {
    let h = Harness::new();
    h.platform
        .seed_dm_history(channel(DM_CHANNEL), history(250));
    let o = h.run(&dm(ALICE), "!tz purgbot").await;
    // 250 ids: 84 system (id % 3 == 1), 83 personality, 83 user.
    expect(&o, OutcomeClass::Success, &[], &[], &["84", "0"]);
    assert_eq!(
        o.follow_ups,
        [FollowUp::DeleteReplyAfter(Duration::from_secs(10))]
    );
    let left = h.platform.dm_history_of(channel(DM_CHANNEL));
    assert_eq!(left.len(), 166);
    assert!(left.iter().all(|m| m.kind != DmMessageKind::System));
}

#[tokio::test]
async fn purgbot_all_also_deletes_personality_messages_but_never_the_users() {
    let h = Harness::new();
    h.platform
        .seed_dm_history(channel(DM_CHANNEL), history(250));
    let o = h.run(&dm(ALICE), "!tz purgebot ALL").await;
    expect(&o, OutcomeClass::Success, &[], &[], &["167", "0"]);
    let left = h.platform.dm_history_of(channel(DM_CHANNEL));
    assert_eq!(left.len(), 83);
    assert!(left.iter().all(|m| m.kind == DmMessageKind::User));
}

#[tokio::test]
async fn purgbot_counts_the_messages_it_could_not_delete() {
    let h = Harness::new();
    h.platform.seed_dm_history(channel(DM_CHANNEL), history(6));
    h.platform.fail_deletes_of(MessageId::new(4).unwrap());
    let o = h.run(&dm(ALICE), "!tz clearbot system").await;
    // System messages: 1 and 4; 4 fails.
    expect(&o, OutcomeClass::Success, &[], &[], &["1", "1"]);
}

#[tokio::test]
async fn purgbot_fails_with_a_reference_when_the_history_cannot_be_read() {
    let h = Harness::new();
    h.platform.seed_dm_history(channel(DM_CHANNEL), history(6));
    h.platform.set_unavailable(true);
    expect_internal_error(&h.run(&dm(ALICE), "!tz purgbot").await);
}

// ---------------------------------------------------------------- volumetest

#[tokio::test]
async fn volumetest_is_denied_to_everyone_but_bot_owners() {
    let h = Harness::new();
    let o = h.run(&member(ALICE).admin(), "!tz volumetest").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    assert_eq!(h.volume.entries(), 0, "nothing was written");
}

#[tokio::test]
async fn volumetest_reports_directory_writability_earlier_entries_and_free_space() {
    let h = Harness::new();
    let first = h.run(&dm(ROOT), "!tz volumetest").await;
    expect(&first, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(
        facts(&first).fields,
        [
            ("Data directory", FakeVolume::PATH),
            ("Writable", "yes"),
            ("Earlier entries", "0"),
            ("Free space", "1.0 GiB"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let second = h.run(&member(ALICE).bot_owner(), "!tz volumetest").await;
    assert_eq!(field(&second, "Earlier entries"), "1");

    h.volume.set_writable(false);
    let third = h.run(&dm(ROOT), "!tz volumetest").await;
    assert_eq!(third.class, OutcomeClass::Success);
    assert_eq!(field(&third, "Writable"), "no");
}
