//! Scenarios for the conversation commands: activate, deactivate, reset, autorespond (ADR 0002
//! table, commands.md §2 Conversation).

mod support;

use support::*;
use troupe_application::{CommandName as C, OutcomeClass};
use troupe_domain::DomainEvent;
use troupe_domain::conversation::{Conversation, HistoryEntry, Speaker};
use troupe_ports::ConversationRepository;

async fn active_in(world: &World, ch: u64) -> Option<String> {
    world
        .store
        .activation(channel(ch))
        .await
        .unwrap()
        .map(|a| a.personality.as_str().to_owned())
}

#[tokio::test]
async fn activate_in_a_dm_is_refused() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world
        .run(req(C::Activate, &["einstein"]).in_dm().admin())
        .await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert!(spans(&outcome).is_empty());
}

#[tokio::test]
async fn activate_without_manage_messages_names_the_missing_permission() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world.run(req(C::Activate, &["einstein"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert_eq!(spans(&outcome), ["`Manage Messages`"]);
    assert_eq!(active_in(&world, CHANNEL).await, None);
}

#[tokio::test]
async fn activate_outside_an_age_restricted_channel_is_refused_while_the_age_gate_is_on() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world
        .run(
            req(C::Activate, &["einstein"])
                .manage_messages()
                .in_sfw_channel(),
        )
        .await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert!(spans(&outcome).is_empty());

    let mut open = World::new();
    open.config.age_gate = false;
    open.seed("einstein", OWNER, &[]).await;
    let allowed = open
        .run(
            req(C::Activate, &["einstein"])
                .manage_messages()
                .in_sfw_channel(),
        )
        .await;
    assert_eq!(allowed.class, OutcomeClass::Success);
}

#[tokio::test]
async fn activate_without_argument_asks_which_personality() {
    let world = World::new();
    let outcome = world.run(req(C::Activate, &[]).admin()).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert!(spans(&outcome).is_empty());
}

#[tokio::test]
async fn activate_of_an_unknown_personality_echoes_the_query() {
    let world = World::new();
    let outcome = world
        .run(req(C::Activate, &["nobody", "here"]).manage_messages())
        .await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`nobody here`"]);
}

#[tokio::test]
async fn activate_by_multi_word_alias_names_the_personality_channel_and_how_to_stop() {
    let world = World::new();
    world.seed("angel-dust", OWNER, &["angel dust"]).await;
    let outcome = world
        .run(
            req(C::Activate, &["Angel", "DUST"])
                .by(STRANGER)
                .manage_messages(),
        )
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::ChannelActivated {
            channel: channel(CHANNEL),
            name: name("angel-dust")
        }]
    );
    assert_eq!(spans(&outcome), ["**angel-dust**", "`deactivate`"]);
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(
        text.contains(" <#100>") && !text.contains("`<#"),
        "a channel mention Discord renders: {text}"
    );
    assert_eq!(
        active_in(&world, CHANNEL).await.as_deref(),
        Some("angel-dust")
    );
}

#[tokio::test]
async fn activating_another_personality_replaces_the_first() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", OWNER, &[]).await;
    world.run(req(C::Activate, &["einstein"]).admin()).await;
    let outcome = world.run(req(C::Activate, &["curie"]).admin()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(active_in(&world, CHANNEL).await.as_deref(), Some("curie"));
    assert_eq!(
        spans(&outcome),
        ["**curie**", "**einstein**", "`deactivate`"]
    );
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(text.contains("It replaces **einstein**."), "{text}");
    // Activating the active one again replaces nothing.
    let again = world.run(req(C::Activate, &["curie"]).admin()).await;
    assert!(!again.reply.as_ref().unwrap().text.contains("replaces"));
}

#[tokio::test]
async fn deactivate_in_a_dm_or_without_manage_messages_is_refused() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.run(req(C::Activate, &["einstein"]).admin()).await;

    let dm = world.run(req(C::Deactivate, &[]).in_dm().admin()).await;
    assert_no_state_change(&dm, OutcomeClass::Denied);
    let member = world.run(req(C::Deactivate, &[])).await;
    assert_no_state_change(&member, OutcomeClass::Denied);
    assert_eq!(spans(&member), ["`Manage Messages`"]);
    assert_eq!(
        active_in(&world, CHANNEL).await.as_deref(),
        Some("einstein")
    );
}

#[tokio::test]
async fn deactivate_with_nothing_active_says_so() {
    let world = World::new();
    let outcome = world.run(req(C::Deactivate, &[]).manage_messages()).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
}

#[tokio::test]
async fn deactivate_removes_the_activation_and_names_the_personality() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.run(req(C::Activate, &["einstein"]).admin()).await;
    world
        .run(req(C::Activate, &["einstein"]).admin().in_channel(101))
        .await;
    let outcome = world.run(req(C::Deactivate, &[]).manage_messages()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::ChannelDeactivated {
            channel: channel(CHANNEL)
        }]
    );
    assert_eq!(spans(&outcome), ["**einstein**"]);
    assert_eq!(active_in(&world, CHANNEL).await, None);
    assert_eq!(
        active_in(&world, 101).await.as_deref(),
        Some("einstein"),
        "other channels keep theirs"
    );
}

async fn talk(world: &World, personality: &str) {
    talk_as(world, OWNER, personality).await;
}

async fn talk_as(world: &World, who: u64, personality: &str) {
    let n = name(personality);
    let now = world.now();
    world
        .store
        .save_conversation(&Conversation::after_exchange(
            user(who),
            channel(CHANNEL),
            n.clone(),
            false,
            true,
            now,
        ))
        .await
        .unwrap();
    world
        .store
        .append_history(
            channel(CHANNEL),
            &n,
            &HistoryEntry::new(Speaker::User, user(who), "Ann", "hello", now),
            20,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn reset_without_argument_asks_which_personality() {
    let world = World::new();
    let outcome = world.run(req(C::Reset, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
}

#[tokio::test]
async fn reset_of_an_unknown_personality_echoes_the_query() {
    let world = World::new();
    let outcome = world.run(req(C::Reset, &["ghost"])).await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`ghost`"]);
}

#[tokio::test]
async fn reset_with_nothing_to_clear_names_the_personality() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world.run(req(C::Reset, &["EINSTEIN"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
    assert_eq!(spans(&outcome), ["**einstein**"]);
}

#[tokio::test]
async fn reset_clears_the_conversation_and_its_history_in_this_channel() {
    let world = World::new();
    world
        .seed_with("einstein", OWNER, &[], |p| {
            p.display_name = display("Albert Einstein");
        })
        .await;
    talk(&world, "einstein").await;
    talk_as(&world, STRANGER, "einstein").await;
    let outcome = world.run(req(C::Reset, &["albert", "einstein"])).await;
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
    let kept = world
        .store
        .history(channel(CHANNEL), &name("einstein"), 20)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|e| e.user).collect::<Vec<_>>(),
        [Some(user(STRANGER))],
        "only the caller's turns are forgotten; another user's stay"
    );
    assert!(
        world
            .store
            .conversation(user(STRANGER), channel(CHANNEL))
            .await
            .unwrap()
            .is_some(),
        "another user's conversation stays"
    );
}

#[tokio::test]
async fn autorespond_defaults_to_off_and_status_shows_it() {
    let world = World::new();
    for words in [&[][..], &["status"]] {
        let outcome = world.run(req(C::Autorespond, words)).await;
        assert_no_state_change(&outcome, OutcomeClass::Success);
        assert_eq!(spans(&outcome), ["`off`"]);
    }
}

#[tokio::test]
async fn autorespond_on_and_off_store_the_setting() {
    let world = World::new();
    let on = world.run(req(C::Autorespond, &["ON"]).in_dm()).await;
    assert_eq!(on.class, OutcomeClass::Success);
    assert_eq!(
        on.events,
        [DomainEvent::AutorespondChanged {
            user: user(OWNER),
            enabled: true
        }]
    );
    assert_eq!(spans(&on), ["`on`"]);
    assert!(world.store.autorespond(user(OWNER)).await.unwrap());
    let status = world.run(req(C::Autorespond, &[])).await;
    assert_eq!(spans(&status), ["`on`"]);

    let off = world.run(req(C::Autorespond, &["off"])).await;
    assert_eq!(
        off.events,
        [DomainEvent::AutorespondChanged {
            user: user(OWNER),
            enabled: false
        }]
    );
    assert!(!world.store.autorespond(user(OWNER)).await.unwrap());
}

#[tokio::test]
async fn autorespond_with_another_option_lists_the_valid_ones() {
    let world = World::new();
    let outcome = world.run(req(C::Autorespond, &["maybe"])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert_eq!(spans(&outcome), ["`on`", "`off`", "`status`"]);
    assert!(!world.store.autorespond(user(OWNER)).await.unwrap());
}
