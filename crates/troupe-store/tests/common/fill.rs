//! A store with every table populated, through the ports.

use troupe_domain::auth::{AccessToken, AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry, Speaker};
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};
use troupe_domain::personality::{Alias, DisplayName, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, Duration, MessageId, Timestamp, UserId};
use troupe_ports::{
    AuthRepository, ConversationRepository, FlagChange, FlagStore, PersonalityMessage,
    PersonalityRepository, PreferencesRepository, ProcessedMessages,
};
use troupe_store::Store;

pub fn user(n: u64) -> UserId {
    UserId::new(n).unwrap()
}
pub fn channel(n: u64) -> ChannelId {
    ChannelId::new(n).unwrap()
}
pub fn name(s: &str) -> PersonalityName {
    PersonalityName::parse(s).unwrap()
}
pub fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_749_897_123_457 + ms)
}

pub fn personality(n: &str, owner: u64, display: &str, aliases: &[&str]) -> Personality {
    let pn = name(n);
    let mut profile = Profile::local(&pn, None);
    profile.display_name = DisplayName::parse(display).unwrap();
    Personality::restore(
        pn,
        user(owner),
        profile,
        aliases.iter().map(|a| Alias::parse(a).unwrap()).collect(),
        at(0),
        at(1),
    )
}

/// Puts at least one row in every table; ids near the i64 limit on purpose.
pub async fn fill(store: &Store) {
    let big = i64::MAX as u64 + 7;
    store
        .insert(&personality(
            "Einstein",
            big,
            "Albert 🌸",
            &["albert", "the prof"],
        ))
        .await
        .unwrap();
    store
        .insert(&personality("Zoë", 2, "Zoë", &["zo"]))
        .await
        .unwrap();
    store
        .activate(&ChannelActivation {
            channel: channel(big),
            personality: name("einstein"),
            activated_by: user(3),
            activated_at: at(2),
        })
        .await
        .unwrap();
    store
        .save_conversation(&Conversation::after_exchange(
            user(4),
            channel(5),
            name("zoë"),
            false,
            true,
            at(3),
        ))
        .await
        .unwrap();
    for i in 0..3 {
        store
            .append_history(
                channel(5),
                &name("zoë"),
                &HistoryEntry::new(
                    Speaker::User,
                    user(4),
                    "ann",
                    &format!("line {i}\n«é»"),
                    at(4 + i),
                ),
                20,
            )
            .await
            .unwrap();
    }
    store.set_autorespond(user(4), true).await.unwrap();
    store
        .record_personality_message(&PersonalityMessage {
            message: MessageId::new(u64::MAX).unwrap(),
            channel: channel(5),
            personality: name("einstein"),
            user: user(4),
            at: at(8),
        })
        .await
        .unwrap();
    store
        .save_token(&UserAuth::issue(
            user(4),
            AccessToken::parse("tok-abc").unwrap(),
            at(9),
            Duration::from_secs(3600),
        ))
        .await
        .unwrap();
    store
        .save_verification(&AgeVerification {
            user: user(4),
            verified_at: at(10),
        })
        .await
        .unwrap();
    store
        .save_pending(&PendingAuthorization::new(
            "state-1".into(),
            user(6),
            at(11),
        ))
        .await
        .unwrap();
    store
        .save_notification_preference(
            user(4),
            &NotificationPreference {
                opted_in: false,
                level: NotificationLevel::Patch,
                last_notified: Version::parse("1.2.3"),
            },
        )
        .await
        .unwrap();
    store
        .claim(MessageId::new(42).unwrap(), at(12), Duration::from_secs(60))
        .await
        .unwrap();
    for (value, n) in [(Some(true), 13), (None, 14), (Some(false), 15)] {
        store
            .apply(&FlagChange {
                name: "new_commands".into(),
                value,
                actor: "ops".into(),
                reason: "rollout".into(),
                at: at(n),
            })
            .await
            .unwrap();
    }
}
