use async_trait::async_trait;
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry};
use troupe_domain::personality::PersonalityName;
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};

use crate::StoreError;

/// A message a personality sent, remembered so a reply to it reaches that personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalityMessage {
    pub message: MessageId,
    pub channel: ChannelId,
    pub personality: PersonalityName,
    /// The user the personality was answering.
    pub user: UserId,
    pub at: Timestamp,
}

/// Channel activations, per-user conversations, history, autorespond and the message map.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// Activates a personality in a channel, replacing any earlier one, which is returned.
    /// Returns `NotFound` when the personality does not exist.
    async fn activate(
        &self,
        activation: &ChannelActivation,
    ) -> Result<Option<ChannelActivation>, StoreError>;
    /// Removes the channel's activation; returns it, or `None` when nothing was active.
    async fn deactivate(&self, channel: ChannelId)
    -> Result<Option<ChannelActivation>, StoreError>;
    /// The channel's activation.
    async fn activation(&self, channel: ChannelId)
    -> Result<Option<ChannelActivation>, StoreError>;
    /// How many channels have an active personality.
    async fn count_activations(&self) -> Result<u64, StoreError>;

    /// The user's conversation in a channel (live or not).
    async fn conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<Option<Conversation>, StoreError>;
    /// Stores the user's conversation in its channel, replacing the earlier one.
    async fn save_conversation(&self, conversation: &Conversation) -> Result<(), StoreError>;
    /// Clears the user's conversation in `channel` when it is with `personality`, and the user's
    /// turns of the (channel, personality) history: the entries whose `user` is `user`, and the
    /// entries with no user (`HistoryEntry::forgotten_by_reset_of`, ADR 0017). Other users'
    /// turns stay. Returns whether anything was cleared.
    async fn clear_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
        personality: &PersonalityName,
    ) -> Result<bool, StoreError>;
    /// Clears the user's conversation in `channel`, whatever the personality. Returns whether
    /// there was one.
    async fn clear_user_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<bool, StoreError>;

    /// Appends to the (channel, personality) history (with the entry's `user`), keeping only
    /// the newest `keep` entries.
    async fn append_history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        entry: &HistoryEntry,
        keep: usize,
    ) -> Result<(), StoreError>;
    /// Records an answered exchange: saves `conversation`, then appends `entries` to the
    /// history of its (channel, personality), keeping the newest `keep`. A store that can
    /// does it in one transaction (one commit per exchange instead of one per write).
    async fn record_exchange(
        &self,
        conversation: &Conversation,
        entries: &[HistoryEntry],
        keep: usize,
    ) -> Result<(), StoreError> {
        self.save_conversation(conversation).await?;
        for entry in entries {
            self.append_history(conversation.channel, &conversation.personality, entry, keep)
                .await?;
        }
        Ok(())
    }
    /// The newest `limit` history entries, oldest first, each with its `user`.
    async fn history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError>;

    /// The user's autorespond preference (default off).
    async fn autorespond(&self, user: UserId) -> Result<bool, StoreError>;
    /// Sets the user's autorespond preference.
    async fn set_autorespond(&self, user: UserId, enabled: bool) -> Result<(), StoreError>;

    /// Remembers a message a personality sent.
    async fn record_personality_message(
        &self,
        message: &PersonalityMessage,
    ) -> Result<(), StoreError>;
    /// The personality message with this id, if it was one of ours.
    async fn personality_message(
        &self,
        message: MessageId,
    ) -> Result<Option<PersonalityMessage>, StoreError>;
}
