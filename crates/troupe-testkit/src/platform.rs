//! A chat platform that records what it was asked to do.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_ports::{
    ChatPlatform, DmMessage, OutgoingMessage, PersonaIdentity, PlatformError, PlatformStatus,
};

/// The first id [`FakePlatform`] hands out; later ids count up from it. High, so generated ids
/// never collide with the small ids tests pick by hand.
const FIRST_MESSAGE_ID: u64 = 900_000_000_000_000_000;

/// Longest text `send_as_personality` accepts (its documented precondition).
const MAX_PERSONALITY_TEXT: usize = 2000;

/// Most messages one `dm_history` page may ask for, as on Discord.
const MAX_HISTORY_PAGE: u8 = 100;

#[derive(Debug)]
struct PlatformState {
    sent_dms: Vec<(UserId, OutgoingMessage)>,
    sent_messages: Vec<(ChannelId, OutgoingMessage)>,
    personality_messages: Vec<(ChannelId, PersonaIdentity, String, MessageId)>,
    deleted: Vec<(ChannelId, MessageId)>,
    typing: Vec<ChannelId>,
    closed_dms: HashSet<UserId>,
    status: PlatformStatus,
    deny_deletes: bool,
    failing_deletes: HashSet<MessageId>,
    unavailable: bool,
    /// Seeded DM histories, newest first.
    dm_history: HashMap<ChannelId, Vec<DmMessage>>,
    webhook_cache: u64,
    next_id: u64,
}

impl PlatformState {
    fn next_message_id(&mut self) -> MessageId {
        let id = MessageId::new(self.next_id).expect("generated ids are never 0");
        self.next_id += 1;
        id
    }

    fn check_available(&self) -> Result<(), PlatformError> {
        if self.unavailable {
            Err(PlatformError::Unavailable)
        } else {
            Ok(())
        }
    }
}

/// A [`ChatPlatform`] that sends nothing anywhere: it records every call in an inspectable log
/// and lets tests close DMs, deny or fail deletes, seed DM histories and set the live status.
/// Message ids it hands out increase from 900,000,000,000,000,000.
#[derive(Debug)]
pub struct FakePlatform {
    state: Mutex<PlatformState>,
}

impl FakePlatform {
    /// A platform where everything succeeds and nothing has happened yet.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(PlatformState {
                sent_dms: Vec::new(),
                sent_messages: Vec::new(),
                personality_messages: Vec::new(),
                deleted: Vec::new(),
                typing: Vec::new(),
                closed_dms: HashSet::new(),
                status: PlatformStatus::default(),
                deny_deletes: false,
                failing_deletes: HashSet::new(),
                unavailable: false,
                dm_history: HashMap::new(),
                webhook_cache: 0,
                next_id: FIRST_MESSAGE_ID,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, PlatformState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every DM sent, oldest first.
    pub fn sent_dms(&self) -> Vec<(UserId, OutgoingMessage)> {
        self.state().sent_dms.clone()
    }

    /// Every message sent in a channel as the bot, oldest first.
    pub fn sent_messages(&self) -> Vec<(ChannelId, OutgoingMessage)> {
        self.state().sent_messages.clone()
    }

    /// Every message sent as a personality, with the id it got, oldest first.
    pub fn personality_messages(&self) -> Vec<(ChannelId, PersonaIdentity, String, MessageId)> {
        self.state().personality_messages.clone()
    }

    /// Every message successfully deleted, oldest first.
    pub fn deleted(&self) -> Vec<(ChannelId, MessageId)> {
        self.state().deleted.clone()
    }

    /// Every channel a typing indicator was shown in, oldest first.
    pub fn typing(&self) -> Vec<ChannelId> {
        self.state().typing.clone()
    }

    /// From now on, DMs to `user` fail with `DmClosed`.
    pub fn close_dms(&self, user: UserId) {
        self.state().closed_dms.insert(user);
    }

    /// Sets what `status()` reports.
    pub fn set_status(&self, status: PlatformStatus) {
        self.state().status = status;
    }

    /// While on, every delete fails with `MissingPermission`.
    pub fn deny_deletes(&self, on: bool) {
        self.state().deny_deletes = on;
    }

    /// From now on, every delete of `message` fails with `Unexpected`.
    pub fn fail_deletes_of(&self, message: MessageId) {
        self.state().failing_deletes.insert(message);
    }

    /// While on, every call that talks to the platform (sends, deletes, typing, history) fails
    /// with `Unavailable`.
    pub fn set_unavailable(&self, on: bool) {
        self.state().unavailable = on;
    }

    /// Replaces the history of a DM channel. `messages` are newest first (they are sorted by id
    /// anyway, as Discord ids grow with time).
    pub fn seed_dm_history(&self, channel: ChannelId, mut messages: Vec<DmMessage>) {
        messages.sort_by_key(|m| std::cmp::Reverse(m.id));
        self.state().dm_history.insert(channel, messages);
    }

    /// What is left of a seeded DM history, newest first.
    pub fn dm_history_of(&self, channel: ChannelId) -> Vec<DmMessage> {
        self.state()
            .dm_history
            .get(&channel)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets the number of cached webhooks.
    pub fn set_webhook_cache(&self, count: u64) {
        self.state().webhook_cache = count;
    }
}

impl Default for FakePlatform {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl ChatPlatform for FakePlatform {
    fn status(&self) -> PlatformStatus {
        self.state().status
    }

    async fn send_dm(
        &self,
        user: UserId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let mut state = self.state();
        state.check_available()?;
        if state.closed_dms.contains(&user) {
            return Err(PlatformError::DmClosed);
        }
        state.sent_dms.push((user, message));
        Ok(state.next_message_id())
    }

    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let mut state = self.state();
        state.check_available()?;
        state.sent_messages.push((channel, message));
        Ok(state.next_message_id())
    }

    async fn send_as_personality(
        &self,
        channel: ChannelId,
        persona: &PersonaIdentity,
        text: &str,
    ) -> Result<MessageId, PlatformError> {
        let mut state = self.state();
        state.check_available()?;
        if text.chars().count() > MAX_PERSONALITY_TEXT {
            return Err(PlatformError::Unexpected(format!(
                "text longer than {MAX_PERSONALITY_TEXT} characters"
            )));
        }
        let id = state.next_message_id();
        state
            .personality_messages
            .push((channel, persona.clone(), text.to_owned(), id));
        Ok(id)
    }

    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        let mut state = self.state();
        state.check_available()?;
        if state.deny_deletes {
            return Err(PlatformError::MissingPermission(
                "manage messages".to_owned(),
            ));
        }
        if state.failing_deletes.contains(&message) {
            return Err(PlatformError::Unexpected(format!(
                "injected failure deleting {message}"
            )));
        }
        if let Some(history) = state.dm_history.get_mut(&channel) {
            history.retain(|m| m.id != message);
        }
        state.deleted.push((channel, message));
        Ok(())
    }

    async fn trigger_typing(&self, channel: ChannelId) -> Result<(), PlatformError> {
        let mut state = self.state();
        state.check_available()?;
        state.typing.push(channel);
        Ok(())
    }

    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        let state = self.state();
        state.check_available()?;
        if limit == 0 || limit > MAX_HISTORY_PAGE {
            return Err(PlatformError::Unexpected(format!(
                "a history page holds 1 to {MAX_HISTORY_PAGE} messages, not {limit}"
            )));
        }
        let page = state
            .dm_history
            .get(&channel)
            .map(|history| {
                history
                    .iter()
                    .filter(|m| before.is_none_or(|b| m.id < b))
                    .take(usize::from(limit))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(page)
    }

    async fn clear_webhook_cache(&self) -> u64 {
        std::mem::take(&mut self.state().webhook_cache)
    }

    async fn webhook_cache_size(&self) -> u64 {
        self.state().webhook_cache
    }
}
