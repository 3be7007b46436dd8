//! `ConversationRepository` over the in-memory state.

use async_trait::async_trait;
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry};
use troupe_domain::personality::PersonalityName;
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_ports::{ConversationRepository, PersonalityMessage, StoreError};

use super::InMemoryStore;

#[async_trait]
impl ConversationRepository for InMemoryStore {
    async fn activate(
        &self,
        activation: &ChannelActivation,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.write(|s| {
            if !s.personalities.contains_key(activation.personality.key()) {
                return Err(StoreError::NotFound);
            }
            Ok(s.activations.insert(activation.channel, activation.clone()))
        })
    }

    async fn deactivate(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.write(|s| Ok(s.activations.remove(&channel)))
    }

    async fn activation(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.read(|s| s.activations.get(&channel).cloned())
    }

    async fn count_activations(&self) -> Result<u64, StoreError> {
        self.read(|s| s.activations.len() as u64)
    }

    async fn conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<Option<Conversation>, StoreError> {
        self.read(|s| s.conversations.get(&(user, channel)).cloned())
    }

    async fn save_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        self.write(|s| {
            s.conversations.insert(
                (conversation.user, conversation.channel),
                conversation.clone(),
            );
            Ok(())
        })
    }

    async fn clear_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
        personality: &PersonalityName,
    ) -> Result<bool, StoreError> {
        self.write(|s| {
            let with_personality = s
                .conversations
                .get(&(user, channel))
                .is_some_and(|c| c.personality == *personality);
            if with_personality {
                s.conversations.remove(&(user, channel));
            }
            let mut history_cleared = false;
            if let Some(entries) = s.history.get_mut(&(channel, personality.key().to_owned())) {
                let before = entries.len();
                entries.retain(|e| !e.forgotten_by_reset_of(user));
                history_cleared = entries.len() < before;
            }
            Ok(with_personality || history_cleared)
        })
    }

    async fn clear_user_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<bool, StoreError> {
        self.write(|s| Ok(s.conversations.remove(&(user, channel)).is_some()))
    }

    async fn append_history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        entry: &HistoryEntry,
        keep: usize,
    ) -> Result<(), StoreError> {
        self.write(|s| {
            let entries = s
                .history
                .entry((channel, personality.key().to_owned()))
                .or_default();
            entries.push_back(entry.clone());
            while entries.len() > keep {
                entries.pop_front();
            }
            Ok(())
        })
    }

    async fn history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read(|s| {
            s.history
                .get(&(channel, personality.key().to_owned()))
                .map(|entries| {
                    let skip = entries.len().saturating_sub(limit);
                    entries.iter().skip(skip).cloned().collect()
                })
                .unwrap_or_default()
        })
    }

    async fn autorespond(&self, user: UserId) -> Result<bool, StoreError> {
        self.read(|s| s.autorespond.contains(&user))
    }

    async fn set_autorespond(&self, user: UserId, enabled: bool) -> Result<(), StoreError> {
        self.write(|s| {
            if enabled {
                s.autorespond.insert(user);
            } else {
                s.autorespond.remove(&user);
            }
            Ok(())
        })
    }

    async fn record_personality_message(
        &self,
        message: &PersonalityMessage,
    ) -> Result<(), StoreError> {
        self.write(|s| {
            s.personality_messages
                .insert(message.message, message.clone());
            Ok(())
        })
    }

    async fn personality_message(
        &self,
        message: MessageId,
    ) -> Result<Option<PersonalityMessage>, StoreError> {
        self.read(|s| s.personality_messages.get(&message).cloned())
    }
}
