//! The `ConversationRepository` contract.

use troupe_domain::conversation::{
    ChannelActivation, Conversation, ConversationMode, HistoryEntry, Speaker,
};
use troupe_ports::{PersonalityMessage, StoreError};

use super::fixtures::{ABOVE_I64_MAX_ID, I64_MAX_ID, at, channel, local, message, name, user};
use crate::Stores;

/// Checks every clause of `ConversationRepository` on a fresh store.
pub async fn conversation_repository(s: &Stores) {
    for n in ["Host", "Guest", "Third Wheel"] {
        s.personalities
            .insert(&local(n, user(1), &[]))
            .await
            .expect("inserting the personalities the scenario talks to");
    }
    activations_are_one_per_channel_and_need_an_existing_personality(s).await;
    conversations_are_one_per_user_and_channel(s).await;
    clear_conversation_clears_that_personality_s_conversation_and_history(s).await;
    clear_conversation_forgets_only_the_caller_s_turns_and_unattributed_ones(s).await;
    history_keeps_the_newest_entries_and_returns_them_oldest_first(s).await;
    an_exchange_is_recorded_with_its_conversation_and_history(s).await;
    autorespond_defaults_to_off_and_is_per_user(s).await;
    personality_messages_round_trip_with_ids_near_the_limits(s).await;
}

fn activation(ch: u64, personality: &str, by: u64, offset: i64) -> ChannelActivation {
    ChannelActivation {
        channel: channel(ch),
        personality: name(personality),
        activated_by: user(by),
        activated_at: at(offset),
    }
}

async fn activations_are_one_per_channel_and_need_an_existing_personality(s: &Stores) {
    let c = &s.conversations;
    let ch = channel(u64::MAX);
    assert_eq!(
        c.count_activations().await,
        Ok(0),
        "a fresh store has no activation"
    );
    assert_eq!(c.activation(ch).await, Ok(None), "no activation yet");
    assert_eq!(
        c.deactivate(ch).await,
        Ok(None),
        "deactivating nothing returns None"
    );

    assert_eq!(
        c.activate(&activation(u64::MAX, "nobody", 1, 1)).await,
        Err(StoreError::NotFound),
        "activating a missing personality is NotFound"
    );
    assert_eq!(
        c.activation(ch).await,
        Ok(None),
        "a refused activation stores nothing"
    );
    assert_eq!(
        c.count_activations().await,
        Ok(0),
        "a refused activation counts nothing"
    );

    let first = activation(u64::MAX, "HOST", ABOVE_I64_MAX_ID, 7);
    assert_eq!(
        c.activate(&first).await,
        Ok(None),
        "first activation replaces nothing"
    );
    assert_eq!(
        c.activation(ch).await,
        Ok(Some(first.clone())),
        "the activation round-trips (ids near u64::MAX, time to the millisecond)"
    );
    let second = activation(u64::MAX, "guest", 1, 8);
    assert_eq!(
        c.activate(&second).await,
        Ok(Some(first)),
        "activating again returns the replaced activation"
    );
    assert_eq!(
        c.activation(ch).await,
        Ok(Some(second.clone())),
        "the newest one is active"
    );
    assert_eq!(
        c.count_activations().await,
        Ok(1),
        "one activation per channel"
    );

    let other = activation(I64_MAX_ID, "host", 2, 9);
    assert_eq!(
        c.activate(&other).await,
        Ok(None),
        "another channel is independent"
    );
    assert_eq!(
        c.count_activations().await,
        Ok(2),
        "two channels, two activations"
    );

    assert_eq!(
        c.deactivate(ch).await,
        Ok(Some(second)),
        "deactivate returns the activation"
    );
    assert_eq!(c.activation(ch).await, Ok(None), "deactivated");
    assert_eq!(
        c.deactivate(ch).await,
        Ok(None),
        "a second deactivate finds nothing"
    );
    assert_eq!(
        c.count_activations().await,
        Ok(1),
        "the other channel stays active"
    );
    assert_eq!(
        c.activation(channel(I64_MAX_ID)).await,
        Ok(Some(other)),
        "untouched"
    );
}

fn conversation(
    u: u64,
    ch: u64,
    personality: &str,
    mode: ConversationMode,
    is_dm: bool,
    offset: i64,
) -> Conversation {
    Conversation {
        user: user(u),
        channel: channel(ch),
        personality: name(personality),
        last_activity: at(offset),
        mode,
        is_dm,
    }
}

async fn conversations_are_one_per_user_and_channel(s: &Stores) {
    use ConversationMode::{Continuation, MentionOnly};
    let c = &s.conversations;
    let (u, ch, dm) = (u64::MAX, ABOVE_I64_MAX_ID, I64_MAX_ID);
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(None),
        "no conversation yet"
    );

    let first = conversation(u, ch, "host", Continuation, false, 11);
    c.save_conversation(&first).await.expect("save succeeds");
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(Some(first)),
        "a conversation round-trips with every field"
    );
    let replaced = conversation(u, ch, "Guest", MentionOnly, false, 12);
    c.save_conversation(&replaced).await.expect("save succeeds");
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(Some(replaced.clone())),
        "saving again replaces the user's conversation in that channel"
    );

    let other_user = conversation(5, ch, "host", MentionOnly, false, 13);
    let other_channel = conversation(u, dm, "third wheel", Continuation, true, 14);
    c.save_conversation(&other_user)
        .await
        .expect("save succeeds");
    c.save_conversation(&other_channel)
        .await
        .expect("save succeeds");
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(Some(replaced)),
        "other users and channels do not replace it"
    );
    assert_eq!(
        c.conversation(user(5), channel(ch)).await,
        Ok(Some(other_user.clone()))
    );
    assert_eq!(
        c.conversation(user(u), channel(dm)).await,
        Ok(Some(other_channel.clone()))
    );

    assert_eq!(
        c.clear_user_conversation(user(u), channel(ch)).await,
        Ok(true),
        "clear_user_conversation reports the conversation it cleared"
    );
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(None),
        "cleared"
    );
    assert_eq!(
        c.clear_user_conversation(user(u), channel(ch)).await,
        Ok(false),
        "clearing again finds nothing"
    );
    assert_eq!(
        c.conversation(user(5), channel(ch)).await,
        Ok(Some(other_user)),
        "another user's conversation in the channel stays"
    );
    assert_eq!(
        c.conversation(user(u), channel(dm)).await,
        Ok(Some(other_channel)),
        "the user's conversation in another channel stays"
    );
}

fn said(content: &str, offset: i64) -> HistoryEntry {
    said_by(7, content, offset)
}

fn said_by(u: u64, content: &str, offset: i64) -> HistoryEntry {
    HistoryEntry::new(Speaker::User, user(u), "ann", content, at(offset))
}

async fn clear_conversation_clears_that_personality_s_conversation_and_history(s: &Stores) {
    use ConversationMode::Continuation;
    let c = &s.conversations;
    let u = 7;

    // The conversation and the history are with that personality: both go.
    let ch = 3_001;
    c.save_conversation(&conversation(u, ch, "host", Continuation, false, 1))
        .await
        .expect("save");
    for p in ["host", "host", "guest"] {
        c.append_history(channel(ch), &name(p), &said(p, 2), 20)
            .await
            .expect("append");
    }
    assert_eq!(
        c.clear_conversation(user(u), channel(ch), &name("HOST"))
            .await,
        Ok(true),
        "clearing a conversation with that personality reports it"
    );
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(None),
        "conversation cleared"
    );
    assert_eq!(
        c.history(channel(ch), &name("host"), 20).await,
        Ok(vec![]),
        "the (channel, personality) history is cleared"
    );
    assert_eq!(
        c.history(channel(ch), &name("guest"), 20)
            .await
            .map(|h| h.len()),
        Ok(1),
        "another personality's history in the channel stays"
    );

    // The conversation is with another personality and there is no history: nothing goes.
    let ch = 3_002;
    let with_guest = conversation(u, ch, "guest", Continuation, false, 3);
    c.save_conversation(&with_guest).await.expect("save");
    assert_eq!(
        c.clear_conversation(user(u), channel(ch), &name("host"))
            .await,
        Ok(false),
        "a conversation with another personality is not cleared"
    );
    assert_eq!(
        c.conversation(user(u), channel(ch)).await,
        Ok(Some(with_guest)),
        "and it stays"
    );

    // Only history: it goes, and that counts as having cleared something.
    let ch = 3_003;
    c.append_history(channel(ch), &name("host"), &said("hi", 4), 20)
        .await
        .expect("append");
    assert_eq!(
        c.clear_conversation(user(u), channel(ch), &name("host"))
            .await,
        Ok(true),
        "clearing only the history reports that something was cleared"
    );
    assert_eq!(
        c.history(channel(ch), &name("host"), 20).await,
        Ok(vec![]),
        "history cleared"
    );

    assert_eq!(
        c.clear_conversation(user(u), channel(3_004), &name("host"))
            .await,
        Ok(false),
        "nothing to clear reports false"
    );
}

async fn clear_conversation_forgets_only_the_caller_s_turns_and_unattributed_ones(s: &Stores) {
    let c = &s.conversations;
    let (ch, host) = (channel(3_010), name("host"));
    let (ann, bob) = (7, I64_MAX_ID);
    let answer = |u: u64, offset: i64| {
        HistoryEntry::new(
            Speaker::Personality,
            user(u),
            "Host",
            "an answer",
            at(offset),
        )
    };
    let unattributed = HistoryEntry {
        user: None,
        ..said_by(ann, "from before the store knew", 1)
    };
    let bobs = [said_by(bob, "bob asks", 3), answer(bob, 4)];
    let all = [
        unattributed,
        said_by(ann, "ann asks", 2),
        bobs[0].clone(),
        bobs[1].clone(),
        answer(ann, 5),
    ];
    for e in &all {
        c.append_history(ch, &host, e, 20).await.expect("append");
    }
    assert_eq!(
        c.history(ch, &host, 20).await,
        Ok(all.to_vec()),
        "each entry keeps its user (or none) through the store"
    );
    assert_eq!(
        c.clear_conversation(user(ann), ch, &host).await,
        Ok(true),
        "ann had turns to forget"
    );
    assert_eq!(
        c.history(ch, &host, 20).await,
        Ok(bobs.to_vec()),
        "ann's reset forgets her turns (and the unattributed one) and keeps bob's, in order"
    );
    assert_eq!(
        c.clear_conversation(user(ann), ch, &host).await,
        Ok(false),
        "a second reset by ann has nothing left to clear"
    );
    assert_eq!(
        c.clear_conversation(user(bob), ch, &host).await,
        Ok(true),
        "bob's reset clears his turns"
    );
    assert_eq!(c.history(ch, &host, 20).await, Ok(vec![]), "nothing left");
}

async fn history_keeps_the_newest_entries_and_returns_them_oldest_first(s: &Stores) {
    let c = &s.conversations;
    let (ch, host) = (channel(u64::MAX), name("host"));
    let author = "Ä".repeat(80);
    let entries: Vec<HistoryEntry> = (0..6_i64)
        .map(|i| {
            let speaker = if i % 2 == 0 {
                Speaker::User
            } else {
                Speaker::Personality
            };
            let content = match i {
                2 => "é".repeat(HistoryEntry::MAX_CONTENT),
                3 => "line one\nline «two»\t'quoted' \"double\" 🤖 DROP TABLE x;--".to_owned(),
                _ => format!("message {i}"),
            };
            // Two entries share each millisecond: append order must decide.
            let who = if i % 3 == 0 { ABOVE_I64_MAX_ID } else { 1 };
            HistoryEntry::new(speaker, user(who), &author, &content, at(100 + i / 2))
        })
        .collect();

    for e in &entries[..5] {
        c.append_history(ch, &host, e, 3)
            .await
            .expect("append succeeds");
    }
    assert_eq!(
        c.history(ch, &host, 10).await,
        Ok(entries[2..5].to_vec()),
        "keep=3 keeps the newest 3, returned oldest first, every field intact"
    );
    assert_eq!(
        c.history(ch, &name("HOST"), 2).await,
        Ok(entries[3..5].to_vec()),
        "limit returns the newest entries, oldest first; personality case-insensitive"
    );
    assert_eq!(
        c.history(ch, &host, 0).await,
        Ok(vec![]),
        "limit 0 returns nothing"
    );

    c.append_history(ch, &host, &entries[5], 10)
        .await
        .expect("append succeeds");
    assert_eq!(
        c.history(ch, &host, 10).await,
        Ok(entries[2..6].to_vec()),
        "dropped entries never come back"
    );
    assert_eq!(
        c.history(ch, &name("guest"), 10).await,
        Ok(vec![]),
        "history is per personality"
    );
    assert_eq!(
        c.history(channel(I64_MAX_ID), &host, 10).await,
        Ok(vec![]),
        "history is per channel"
    );
}

async fn an_exchange_is_recorded_with_its_conversation_and_history(s: &Stores) {
    let c = &s.conversations;
    let ch = 77_001;
    let said = |who: u64, text: &str, offset: i64| {
        HistoryEntry::new(Speaker::User, user(who), "Someone", text, at(offset))
    };
    let answered = |text: &str, offset: i64| {
        HistoryEntry::new(Speaker::Personality, user(9), "Guest", text, at(offset))
    };
    let before = said(9, "earlier", 1);
    c.append_history(channel(ch), &name("guest"), &before, 20)
        .await
        .expect("append succeeds");

    let exchange = conversation(9, ch, "Guest", ConversationMode::Continuation, false, 30);
    let entries = [said(9, "hello", 30), answered("hi there", 30)];
    c.record_exchange(&exchange, &entries, 2)
        .await
        .expect("recording an exchange succeeds");
    assert_eq!(
        c.conversation(user(9), channel(ch)).await,
        Ok(Some(exchange)),
        "the exchange's conversation is saved"
    );
    assert_eq!(
        c.history(channel(ch), &name("guest"), 10).await,
        Ok(entries.to_vec()),
        "both entries are appended in order and `keep` trims the older ones"
    );
}

async fn autorespond_defaults_to_off_and_is_per_user(s: &Stores) {
    let c = &s.conversations;
    let (u, other) = (user(u64::MAX), user(ABOVE_I64_MAX_ID));
    assert_eq!(
        c.autorespond(u).await,
        Ok(false),
        "autorespond is off by default"
    );
    c.set_autorespond(u, true).await.expect("set succeeds");
    assert_eq!(c.autorespond(u).await, Ok(true), "autorespond turned on");
    assert_eq!(
        c.autorespond(other).await,
        Ok(false),
        "other users keep the default"
    );
    c.set_autorespond(u, true)
        .await
        .expect("setting the same value again succeeds");
    c.set_autorespond(u, false).await.expect("set succeeds");
    assert_eq!(c.autorespond(u).await, Ok(false), "autorespond turned off");
    c.set_autorespond(u, false)
        .await
        .expect("setting the same value again succeeds");
    assert_eq!(c.autorespond(u).await, Ok(false), "still off");
}

async fn personality_messages_round_trip_with_ids_near_the_limits(s: &Stores) {
    let c = &s.conversations;
    let ids = [1, I64_MAX_ID, ABOVE_I64_MAX_ID, u64::MAX];
    let recorded: Vec<PersonalityMessage> = ids
        .iter()
        .zip(0_i64..)
        .map(|(&id, i)| PersonalityMessage {
            message: message(id),
            channel: channel(id),
            personality: name(if i % 2 == 0 { "host" } else { "guest" }),
            user: user(id),
            at: at(200 + i),
        })
        .collect();
    for m in &recorded {
        c.record_personality_message(m)
            .await
            .expect("record succeeds");
    }
    for m in &recorded {
        assert_eq!(
            c.personality_message(m.message).await,
            Ok(Some(m.clone())),
            "the personality message {} round-trips",
            m.message
        );
    }
    assert_eq!(
        c.personality_message(message(12_345)).await,
        Ok(None),
        "an unknown message is not one of ours"
    );
}
