//! A dry-run view of the ports for shadow runs: reads see real data, writes are recorded and
//! not applied, and nothing is sent to the chat platform. Write methods answer what the real
//! store would answer where a read can tell (e.g. `delete` reports whether the record exists).
//!
//! Known limits (they can only cause a reported mismatch, never a change): without a recording
//! of the authoritative run ([`dry_run_replaying`]), `delete_expired_tokens` reports 0,
//! `take_pending` reports none, `send_dm` and `delete_message` always succeed; the data volume
//! probe is refused (it would write; shadow runs replay the authoritative probe instead).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry};
use troupe_domain::notifications::NotificationPreference;
use troupe_domain::personality::{Alias, Personality, PersonalityName};
use troupe_domain::{ChannelId, Duration, MessageId, Timestamp, UserId};
use troupe_ports::{
    AuthRepository, ChatPlatform, ConversationRepository, DataVolume, DmMessage, OutgoingMessage,
    Page, PersonaIdentity, PersonalityMessage, PersonalityRepository, PlatformError,
    PlatformStatus, PreferencesRepository, ProcessedMessages, StoreError, VolumeError,
    VolumeReport,
};

use crate::context::Deps;
use crate::replay::Recording;

/// The writes a dry run swallowed, for inspection and tests.
#[derive(Debug, Default)]
pub struct DryRunLog(Mutex<Vec<String>>);

impl DryRunLog {
    fn push(&self, write: impl Into<String>) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() >= 1000 {
                log.remove(0);
            }
            log.push(write.into());
        }
    }

    /// The recorded writes, oldest first (at most the last 1,000).
    pub fn writes(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// `deps` with every storage port, the platform and the volume replaced by dry-run views.
pub fn dry_run_deps(deps: &Deps) -> (Deps, Arc<DryRunLog>) {
    dry_run(deps, None)
}

/// [`dry_run_deps`] for a shadow run: a write whose answer the authoritative run recorded
/// (a DM sent or refused, a message deleted or not, tokens purged, a pending authorization
/// taken) answers the same for the same arguments, instead of the generic guess above.
pub fn dry_run_replaying(deps: &Deps, recording: &Arc<Recording>) -> (Deps, Arc<DryRunLog>) {
    dry_run(deps, Some(Arc::clone(recording)))
}

fn dry_run(deps: &Deps, recording: Option<Arc<Recording>>) -> (Deps, Arc<DryRunLog>) {
    let log = Arc::new(DryRunLog::default());
    let view = Arc::new(DryRun {
        real: deps.clone(),
        log: Arc::clone(&log),
        recording,
        dms_sent: Mutex::new(Vec::new()),
    });
    let dry = Deps {
        personalities: view.clone(),
        conversations: view.clone(),
        auth: view.clone(),
        preferences: view.clone(),
        processed: view.clone(),
        platform: view.clone(),
        volume: view,
        ..deps.clone()
    };
    (dry, log)
}

struct DryRun {
    real: Deps,
    log: Arc<DryRunLog>,
    recording: Option<Arc<Recording>>,
    /// Users DMed so far (to replay the n-th DM to a user).
    dms_sent: Mutex<Vec<UserId>>,
}

const DRY_MESSAGE_ID: u64 = 1;

#[async_trait]
impl PersonalityRepository for DryRun {
    async fn insert(&self, p: &Personality) -> Result<(), StoreError> {
        self.log.push(format!("insert {}", p.name()));
        Ok(())
    }
    async fn update(&self, p: &Personality) -> Result<(), StoreError> {
        self.log.push(format!("update {}", p.name()));
        Ok(())
    }
    async fn move_alias(&self, alias: &Alias, to: &PersonalityName) -> Result<(), StoreError> {
        self.log.push(format!("move alias {alias} to {to}"));
        Ok(())
    }
    async fn delete(&self, name: &PersonalityName) -> Result<bool, StoreError> {
        self.log.push(format!("delete {name}"));
        Ok(self.real.personalities.get(name).await?.is_some())
    }
    async fn get(&self, name: &PersonalityName) -> Result<Option<Personality>, StoreError> {
        self.real.personalities.get(name).await
    }
    async fn lookup(&self, query: &str) -> Result<Option<Personality>, StoreError> {
        self.real.personalities.lookup(query).await
    }
    async fn alias_owner(&self, alias: &Alias) -> Result<Option<PersonalityName>, StoreError> {
        self.real.personalities.alias_owner(alias).await
    }
    async fn list_by_owner(
        &self,
        owner: UserId,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Personality>, StoreError> {
        self.real
            .personalities
            .list_by_owner(owner, offset, limit)
            .await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        self.real.personalities.count().await
    }
}

#[async_trait]
impl ConversationRepository for DryRun {
    async fn activate(
        &self,
        a: &ChannelActivation,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.log
            .push(format!("activate {} in {}", a.personality, a.channel));
        self.real.conversations.activation(a.channel).await
    }
    async fn deactivate(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.log.push(format!("deactivate {channel}"));
        self.real.conversations.activation(channel).await
    }
    async fn activation(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        self.real.conversations.activation(channel).await
    }
    async fn count_activations(&self) -> Result<u64, StoreError> {
        self.real.conversations.count_activations().await
    }
    async fn conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<Option<Conversation>, StoreError> {
        self.real.conversations.conversation(user, channel).await
    }
    async fn save_conversation(&self, c: &Conversation) -> Result<(), StoreError> {
        self.log
            .push(format!("save conversation {} {}", c.user, c.channel));
        Ok(())
    }
    async fn clear_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
        p: &PersonalityName,
    ) -> Result<bool, StoreError> {
        self.log
            .push(format!("clear conversation {user} {channel} {p}"));
        let conversation = self.real.conversations.conversation(user, channel).await?;
        // The whole (bounded) history: would any of it be the caller's to forget?
        let history = self
            .real
            .conversations
            .history(channel, p, usize::MAX)
            .await?;
        Ok(conversation.is_some_and(|c| &c.personality == p)
            || history.iter().any(|e| e.forgotten_by_reset_of(user)))
    }
    async fn clear_user_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<bool, StoreError> {
        self.log
            .push(format!("clear conversation {user} {channel}"));
        Ok(self
            .real
            .conversations
            .conversation(user, channel)
            .await?
            .is_some())
    }
    async fn append_history(
        &self,
        channel: ChannelId,
        p: &PersonalityName,
        _: &HistoryEntry,
        _: usize,
    ) -> Result<(), StoreError> {
        self.log.push(format!("append history {channel} {p}"));
        Ok(())
    }
    async fn history(
        &self,
        channel: ChannelId,
        p: &PersonalityName,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.real.conversations.history(channel, p, limit).await
    }
    async fn autorespond(&self, user: UserId) -> Result<bool, StoreError> {
        self.real.conversations.autorespond(user).await
    }
    async fn set_autorespond(&self, user: UserId, enabled: bool) -> Result<(), StoreError> {
        self.log.push(format!("set autorespond {user} {enabled}"));
        Ok(())
    }
    async fn record_personality_message(&self, m: &PersonalityMessage) -> Result<(), StoreError> {
        self.log.push(format!("record message {}", m.message));
        Ok(())
    }
    async fn personality_message(
        &self,
        message: MessageId,
    ) -> Result<Option<PersonalityMessage>, StoreError> {
        self.real.conversations.personality_message(message).await
    }
}

#[async_trait]
impl AuthRepository for DryRun {
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError> {
        self.log.push(format!("save token {}", auth.user));
        Ok(())
    }
    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError> {
        self.real.auth.token(user).await
    }
    async fn delete_token(&self, user: UserId) -> Result<bool, StoreError> {
        self.log.push(format!("delete token {user}"));
        Ok(self.real.auth.token(user).await?.is_some())
    }
    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.log.push(format!("delete expired tokens at {now}"));
        match self.recording.as_ref().and_then(|r| r.purge(now)) {
            Some(answer) => answer,
            None => Ok(0),
        }
    }
    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.real.auth.count_tokens().await
    }
    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError> {
        self.real.auth.verification(user).await
    }
    async fn save_verification(&self, v: &AgeVerification) -> Result<(), StoreError> {
        self.log.push(format!("save verification {}", v.user));
        Ok(())
    }
    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError> {
        self.log.push(format!("remove verification {user}"));
        Ok(self.real.auth.verification(user).await?.is_some())
    }
    async fn save_pending(&self, p: &PendingAuthorization) -> Result<(), StoreError> {
        self.log.push(format!("save pending {}", p.user));
        Ok(())
    }
    async fn take_pending(&self, user: UserId) -> Result<Option<PendingAuthorization>, StoreError> {
        self.log.push(format!("take pending {user}"));
        match self.recording.as_ref().and_then(|r| r.pending(user)) {
            Some(answer) => answer,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl PreferencesRepository for DryRun {
    async fn notification_preference(
        &self,
        user: UserId,
    ) -> Result<Option<NotificationPreference>, StoreError> {
        self.real.preferences.notification_preference(user).await
    }
    async fn save_notification_preference(
        &self,
        user: UserId,
        _: &NotificationPreference,
    ) -> Result<(), StoreError> {
        self.log
            .push(format!("save notification preference {user}"));
        Ok(())
    }
    async fn opted_in_users(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<(UserId, NotificationPreference)>, StoreError> {
        self.real.preferences.opted_in_users(after, limit).await
    }
}

#[async_trait]
impl ProcessedMessages for DryRun {
    async fn claim(&self, id: MessageId, _: Timestamp, _: Duration) -> Result<bool, StoreError> {
        self.log.push(format!("claim {id}"));
        Ok(true)
    }
    async fn clear(&self) -> Result<u64, StoreError> {
        self.log.push("clear processed messages");
        self.real.processed.count().await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        self.real.processed.count().await
    }
}

#[async_trait]
impl ChatPlatform for DryRun {
    fn status(&self) -> PlatformStatus {
        self.real.platform.status()
    }
    async fn send_dm(&self, user: UserId, _: OutgoingMessage) -> Result<MessageId, PlatformError> {
        self.log.push(format!("send dm {user}"));
        let nth = self.dms_sent.lock().map_or(0, |mut sent| {
            sent.push(user);
            sent.iter().filter(|u| **u == user).count() - 1
        });
        match self.recording.as_ref().and_then(|r| r.dm(user, nth)) {
            Some(answer) => answer,
            None => {
                MessageId::new(DRY_MESSAGE_ID).map_err(|e| PlatformError::Unexpected(e.to_string()))
            }
        }
    }
    async fn send_message(
        &self,
        channel: ChannelId,
        _: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        self.log.push(format!("send message {channel}"));
        MessageId::new(DRY_MESSAGE_ID).map_err(|e| PlatformError::Unexpected(e.to_string()))
    }
    async fn send_as_personality(
        &self,
        channel: ChannelId,
        _: &PersonaIdentity,
        _: &str,
    ) -> Result<MessageId, PlatformError> {
        self.log.push(format!("send as personality {channel}"));
        MessageId::new(DRY_MESSAGE_ID).map_err(|e| PlatformError::Unexpected(e.to_string()))
    }
    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        self.log.push(format!("delete message {channel} {message}"));
        match self
            .recording
            .as_ref()
            .and_then(|r| r.deletion(channel, message))
        {
            Some(answer) => answer,
            None => Ok(()),
        }
    }
    async fn trigger_typing(&self, _: ChannelId) -> Result<(), PlatformError> {
        Ok(())
    }
    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        self.real.platform.dm_history(channel, before, limit).await
    }
    async fn clear_webhook_cache(&self) -> u64 {
        self.log.push("clear webhook cache");
        self.real.platform.webhook_cache_size().await
    }
    async fn webhook_cache_size(&self) -> u64 {
        self.real.platform.webhook_cache_size().await
    }
}

#[async_trait]
impl DataVolume for DryRun {
    async fn probe(&self, _: Timestamp) -> Result<VolumeReport, VolumeError> {
        Err(VolumeError::Unexpected(
            "the volume probe writes, so a dry run refuses it".into(),
        ))
    }
}
