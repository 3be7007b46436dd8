//! Domain events: the state changes a command made, as values. Handlers return them in their
//! outcome; the shadow comparison compares them between the two command systems.

use crate::ids::{ChannelId, UserId};
use crate::notifications::NotificationLevel;
use crate::personality::{Alias, PersonalityName};

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    PersonalityCreated {
        name: PersonalityName,
        owner: UserId,
    },
    PersonalityRemoved {
        name: PersonalityName,
    },
    ProfileUpdated {
        name: PersonalityName,
    },
    AliasAdded {
        name: PersonalityName,
        alias: Alias,
    },
    AliasRemoved {
        name: PersonalityName,
        alias: Alias,
    },
    ChannelActivated {
        channel: ChannelId,
        name: PersonalityName,
    },
    ChannelDeactivated {
        channel: ChannelId,
    },
    ConversationCleared {
        user: UserId,
        channel: ChannelId,
        name: PersonalityName,
    },
    AutorespondChanged {
        user: UserId,
        enabled: bool,
    },
    TokenStored {
        user: UserId,
    },
    TokenRevoked {
        user: UserId,
    },
    ExpiredTokensPurged {
        count: u64,
    },
    AuthorizationStarted {
        user: UserId,
    },
    UserVerified {
        user: UserId,
    },
    VerificationRemoved {
        user: UserId,
    },
    NotificationsChanged {
        user: UserId,
        opted_in: bool,
        level: NotificationLevel,
    },
    WebhookCacheCleared,
    ProcessedMessagesCleared {
        count: u64,
    },
}
