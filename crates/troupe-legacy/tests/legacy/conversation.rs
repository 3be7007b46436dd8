//! ADR 0002 scenarios of the conversation commands: activate, deactivate, reset, autorespond.

use troupe_application::OutcomeClass;
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry, Speaker};
use troupe_domain::{ChannelId, DomainEvent};
use troupe_ports::ConversationRepository;

use crate::common::*;

async fn activation(h: &Harness, id: u64) -> Option<String> {
    h.store
        .activation(channel(id))
        .await
        .unwrap()
        .map(|a| a.personality.as_str().to_owned())
}

async fn talk(h: &Harness, who: u64, ch: ChannelId, raw_name: &str) {
    let conversation =
        Conversation::after_exchange(user(who), ch, name(raw_name), false, true, at(0));
    h.store.save_conversation(&conversation).await.unwrap();
    h.store
        .append_history(
            ch,
            &name(raw_name),
            &HistoryEntry::new(Speaker::User, user(who), "alice", "hello", at(0)),
            20,
        )
        .await
        .unwrap();
}

// ---------------------------------------------------------------- activate

#[tokio::test]
async fn activate_in_a_dm_is_denied() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    let o = h.run(&dm(ALICE).admin(), "!tz activate einstein").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
}

#[tokio::test]
async fn activate_without_manage_messages_names_the_missing_permission() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    let o = h.run(&member(ALICE).bot_owner(), "!tz act einstein").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &["Manage Messages"]);
    assert_eq!(activation(&h, CHANNEL).await, None);
}

#[tokio::test]
async fn activate_outside_an_age_restricted_channel_is_denied_while_the_age_gate_is_on() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    let who = member(ALICE).manager().not_age_restricted(&[]);
    let o = h.run(&who, "!tz activate einstein").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    assert_eq!(activation(&h, CHANNEL).await, None);

    let mut open = Harness::new();
    open.config.age_gate = false;
    open.seed("einstein", ALICE, &[]).await;
    let o = open.run(&who, "!tz activate einstein").await;
    assert_eq!(o.class, OutcomeClass::Success);
}

#[tokio::test]
async fn activate_without_a_personality_asks_for_one() {
    let h = Harness::new();
    let o = h.run(&member(ALICE).manager(), "!tz activate").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
}

#[tokio::test]
async fn activate_with_an_unknown_personality_names_the_query() {
    let h = Harness::new();
    let o = h
        .run(&member(ALICE).manager(), "!tz activate angel dust")
        .await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["angel dust"]);
}

#[tokio::test]
async fn activate_by_alias_or_display_name_names_the_personality_channel_and_deactivate() {
    let h = Harness::new();
    h.seed_displayed("angel-dust", "Angel Dust", BOB, &["angel"])
        .await;
    for text in [
        "!tz activate angel",
        "!tz activate ANGEL DUST",
        "!tz act \"angel-dust\"",
    ] {
        let o = h.run(&member(ALICE).manager(), text).await;
        expect(
            &o,
            OutcomeClass::Success,
            &[DomainEvent::ChannelActivated {
                channel: channel(CHANNEL),
                name: name("angel-dust"),
            }],
            &["angel-dust"],
            &["deactivate"],
        );
        let text = &o.reply.as_ref().unwrap().text;
        assert!(text.contains(&format!(" <#{CHANNEL}>.")), "{text}");
    }
    assert_eq!(activation(&h, CHANNEL).await.as_deref(), Some("angel-dust"));
}

#[tokio::test]
async fn activating_another_personality_replaces_the_first() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("curie", ALICE, &[]).await;
    let admin = member(ALICE).admin();
    h.run(&admin, "!tz activate einstein").await;
    let o = h.run(&admin, "!tz activate curie").await;
    assert_eq!(
        o.events,
        [DomainEvent::ChannelActivated {
            channel: channel(CHANNEL),
            name: name("curie"),
        }]
    );
    assert_eq!(activation(&h, CHANNEL).await.as_deref(), Some("curie"));
    assert_eq!(h.store.count_activations().await.unwrap(), 1);
}

#[tokio::test]
async fn activate_that_cannot_be_saved_is_an_internal_error() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE).admin(), "!tz activate einstein").await);
    assert_eq!(activation(&h, CHANNEL).await, None);
}

// ---------------------------------------------------------------- deactivate

#[tokio::test]
async fn deactivate_in_a_dm_is_denied() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz deactivate").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
}

#[tokio::test]
async fn deactivate_without_manage_messages_names_the_missing_permission() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz deact").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &["Manage Messages"]);
}

#[tokio::test]
async fn deactivate_with_nothing_active_says_so() {
    let h = Harness::new();
    let o = h.run(&member(ALICE).manager(), "!tz deactivate").await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);
}

#[tokio::test]
async fn deactivate_removes_the_activation_and_names_the_personality() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.store
        .activate(&ChannelActivation {
            channel: channel(CHANNEL),
            personality: name("einstein"),
            activated_by: user(BOB),
            activated_at: at(0),
        })
        .await
        .unwrap();
    // Deactivation works in any channel, age-restricted or not.
    let who = member(ALICE).manager().not_age_restricted(&[]);
    let o = h.run(&who, "!tz deactivate").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ChannelDeactivated {
            channel: channel(CHANNEL),
        }],
        &["einstein"],
        &[],
    );
    assert_eq!(activation(&h, CHANNEL).await, None);
}

// ---------------------------------------------------------------- reset

#[tokio::test]
async fn reset_without_a_personality_asks_for_one() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz reset").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
}

#[tokio::test]
async fn reset_with_an_unknown_personality_names_the_query() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz reset nobody").await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["nobody"]);
}

#[tokio::test]
async fn reset_with_nothing_to_clear_says_so_and_names_the_personality() {
    let h = Harness::new();
    h.seed("einstein", BOB, &["albert"]).await;
    let o = h.run(&dm(ALICE), "!tz reset Albert").await;
    expect(&o, OutcomeClass::Info, &[], &["einstein"], &[]);
}

#[tokio::test]
async fn reset_clears_the_conversation_and_history_in_this_channel_only() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    talk(&h, ALICE, channel(CHANNEL), "einstein").await;
    talk(&h, ALICE, channel(OTHER_CHANNEL), "einstein").await;
    talk(&h, BOB, channel(CHANNEL), "einstein").await;
    let o = h.run(&member(ALICE), "!tz reset einstein").await;
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
    let kept = h
        .store
        .history(channel(CHANNEL), &name("einstein"), 20)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|e| e.user).collect::<Vec<_>>(),
        [Some(user(BOB))],
        "only alice's turns are forgotten; bob's stay"
    );
    assert!(
        h.store
            .conversation(user(BOB), channel(CHANNEL))
            .await
            .unwrap()
            .is_some(),
        "bob's conversation stays"
    );
    assert!(
        h.store
            .conversation(user(ALICE), channel(OTHER_CHANNEL))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn reset_that_cannot_clear_is_an_internal_error_and_keeps_the_conversation() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    talk(&h, ALICE, channel(CHANNEL), "einstein").await;
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz reset einstein").await);
    assert!(
        h.store
            .conversation(user(ALICE), channel(CHANNEL))
            .await
            .unwrap()
            .is_some()
    );
}

// ---------------------------------------------------------------- autorespond

#[tokio::test]
async fn autorespond_status_shows_off_by_default() {
    let h = Harness::new();
    for text in ["!tz autorespond", "!tz ar status", "!tz auto Status"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::Success, &[], &[], &["off"]);
    }
}

#[tokio::test]
async fn autorespond_on_and_off_store_the_setting() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz autorespond on").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::AutorespondChanged {
            user: user(ALICE),
            enabled: true,
        }],
        &[],
        &["on"],
    );
    assert!(h.store.autorespond(user(ALICE)).await.unwrap());
    let status = h.run(&dm(ALICE), "!tz autorespond").await;
    expect(&status, OutcomeClass::Success, &[], &[], &["on"]);

    let o = h.run(&dm(ALICE), "!tz autorespond OFF").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::AutorespondChanged {
            user: user(ALICE),
            enabled: false,
        }],
        &[],
        &["off"],
    );
    assert!(!h.store.autorespond(user(ALICE)).await.unwrap());
}

#[tokio::test]
async fn autorespond_with_another_word_lists_on_off_and_status() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz autorespond maybe").await;
    expect(
        &o,
        OutcomeClass::InvalidInput,
        &[],
        &[],
        &["on", "off", "status"],
    );
    assert!(!h.store.autorespond(user(ALICE)).await.unwrap());
}

#[tokio::test]
async fn autorespond_that_cannot_be_saved_is_an_internal_error() {
    let h = Harness::new();
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&dm(ALICE), "!tz autorespond on").await);
    assert!(!h.store.autorespond(user(ALICE)).await.unwrap());
}

#[tokio::test]
async fn activating_another_personality_says_which_one_it_replaces() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    h.seed("curie", BOB, &[]).await;
    let first = h
        .run(&member(ALICE).manager(), "!tz activate einstein")
        .await;
    let text = &first.reply.as_ref().unwrap().text;
    assert!(!text.contains("replaces"), "{text}");
    let second = h.run(&member(ALICE).manager(), "!tz activate curie").await;
    assert_eq!(second.class, OutcomeClass::Success);
    let text = &second.reply.as_ref().unwrap().text;
    assert!(text.contains("It replaces **einstein**."), "{text}");
    assert_eq!(activation(&h, CHANNEL).await.as_deref(), Some("curie"));
}
