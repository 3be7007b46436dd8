use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use troupe_domain::conversation::{MAX_MESSAGE_CHARS, split_reply};
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_ports::{
    ChatPlatform, DmMessage, DmMessageKind, GatewayMonitor, OutgoingMessage, PersonaIdentity,
    PlatformError, PlatformStatus,
};
use twilight_http::Client;
use twilight_model::channel::message::Embed;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker, WebhookMarker};

use crate::cache::{Cache, ChannelFacts};
use crate::config::DiscordConfig;
use crate::errors::{RestError, code, retry};
use crate::ids;
use crate::monitor::GatewayStatus;
use crate::render::{is_personality_dm, outgoing, sanitize_username};

/// Discord's global REST limit per bot: requests per second.
const DISCORD_GLOBAL_LIMIT: u32 = 50;

/// The name of the webhook Troupe creates in a channel.
const WEBHOOK_NAME: &str = "Troupe";

#[derive(Debug, Clone)]
struct WebhookHandle {
    id: Id<WebhookMarker>,
    token: String,
}

/// The [`ChatPlatform`] on Discord's REST API: DMs, bot messages, personality messages through
/// one cached webhook per channel (threads and forum posts use their parent's, with the thread
/// id), deletion, typing and DM history. 5xx and transport failures are retried with backoff;
/// 429s wait for the time Discord asks (twilight's rate limiter).
pub struct DiscordPlatform {
    http: Arc<Client>,
    cache: Arc<Cache>,
    monitor: Arc<GatewayStatus>,
    /// Webhooks by the channel that owns them (never a thread).
    webhooks: tokio::sync::Mutex<HashMap<Id<ChannelMarker>, WebhookHandle>>,
}

impl std::fmt::Debug for DiscordPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordPlatform").finish_non_exhaustive()
    }
}

impl DiscordPlatform {
    /// A platform talking to Discord (or to `config.api_proxy`) with `config.token`.
    /// Must be called inside a tokio runtime.
    pub fn new(config: &DiscordConfig) -> Self {
        let mut builder = Client::builder()
            .token(config.token.clone())
            .timeout(Duration::from_secs(15));
        if let Some(proxy) = &config.api_proxy {
            builder = builder.proxy(proxy.clone(), true);
        }
        if config.rest_ratelimiter {
            crate::errors::enable_pacing(DISCORD_GLOBAL_LIMIT);
        } else {
            builder = builder.ratelimiter(None);
        }
        Self {
            http: Arc::new(builder.build()),
            cache: Arc::new(Cache::default()),
            monitor: Arc::new(GatewayStatus::new()),
            webhooks: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The gateway facts this platform reports (also the process's [`GatewayMonitor`]).
    pub fn monitor(&self) -> Arc<GatewayStatus> {
        Arc::clone(&self.monitor)
    }

    pub(crate) fn http(&self) -> &Arc<Client> {
        &self.http
    }

    pub(crate) fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The channel's facts, from the cache or (once) from Discord.
    pub(crate) async fn channel_facts(
        &self,
        channel: Id<ChannelMarker>,
    ) -> Result<ChannelFacts, RestError> {
        if let Some(facts) = self.cache.channel(channel) {
            return Ok(facts);
        }
        let fetched = retry("get channel", || async {
            Ok(self.http.channel(channel).await?.model().await?)
        })
        .await?;
        self.cache.insert_channel(&fetched);
        Ok(ChannelFacts::from_channel(&fetched))
    }

    async fn dm_channel(&self, user: Id<UserMarker>) -> Result<Id<ChannelMarker>, RestError> {
        if let Some(channel) = self.cache.dm_channel(user) {
            return Ok(channel);
        }
        let channel = retry("create DM channel", || async {
            Ok(self
                .http
                .create_private_channel(user)
                .await?
                .model()
                .await?)
        })
        .await?;
        self.cache.insert_dm(user, channel.id);
        Ok(channel.id)
    }

    async fn create(
        &self,
        channel: Id<ChannelMarker>,
        content: &str,
        embeds: &[Embed],
        reply_to: Option<Id<MessageMarker>>,
    ) -> Result<Id<MessageMarker>, RestError> {
        retry("create message", || async {
            let mut request = self.http.create_message(channel);
            if !content.is_empty() {
                request = request.content(content);
            }
            if !embeds.is_empty() {
                request = request.embeds(embeds);
            }
            if let Some(reply_to) = reply_to {
                request = request.reply(reply_to).fail_if_not_exists(false);
            }
            Ok(request.await?.model().await?.id)
        })
        .await
    }

    /// Sends a bot message (used for command replies, which reply to the invoking message).
    pub(crate) async fn send_reply(
        &self,
        channel: Id<ChannelMarker>,
        embeds: &[Embed],
        reply_to: Option<Id<MessageMarker>>,
    ) -> Result<Id<MessageMarker>, RestError> {
        self.create(channel, "", embeds, reply_to).await
    }

    /// The channel's webhook: cached, else one of ours already there, else a new one.
    async fn webhook_for(&self, channel: Id<ChannelMarker>) -> Result<WebhookHandle, RestError> {
        let mut webhooks = self.webhooks.lock().await;
        if let Some(handle) = webhooks.get(&channel) {
            return Ok(handle.clone());
        }
        let application = self.cache.application();
        let existing = retry("list webhooks", || async {
            Ok(self.http.channel_webhooks(channel).await?.model().await?)
        })
        .await?
        .into_iter()
        .find(|w| {
            w.token.is_some()
                && w.name.as_deref() == Some(WEBHOOK_NAME)
                && (application.is_none() || w.application_id == application)
        });
        let webhook = match existing {
            Some(webhook) => webhook,
            None => {
                retry("create webhook", || async {
                    Ok(self
                        .http
                        .create_webhook(channel, WEBHOOK_NAME)
                        .await?
                        .model()
                        .await?)
                })
                .await?
            }
        };
        let Some(token) = webhook.token else {
            return Err(RestError::Decode("webhook without a token".into()));
        };
        let handle = WebhookHandle {
            id: webhook.id,
            token,
        };
        self.cache.add_own_webhook(handle.id);
        webhooks.insert(channel, handle.clone());
        Ok(handle)
    }

    async fn forget_webhook(&self, channel: Id<ChannelMarker>, id: Id<WebhookMarker>) {
        let mut webhooks = self.webhooks.lock().await;
        if webhooks.get(&channel).is_some_and(|h| h.id == id) {
            webhooks.remove(&channel);
        }
        self.cache.remove_own_webhook(id);
    }

    async fn execute(
        &self,
        handle: &WebhookHandle,
        thread: Option<Id<ChannelMarker>>,
        username: &str,
        avatar: Option<&str>,
        content: &str,
    ) -> Result<Id<MessageMarker>, RestError> {
        retry("execute webhook", || async {
            let mut request = self
                .http
                .execute_webhook(handle.id, &handle.token)
                .content(content)
                .username(username);
            if let Some(avatar) = avatar {
                request = request.avatar_url(avatar);
            }
            if let Some(thread) = thread {
                request = request.thread_id(thread);
            }
            Ok(request.wait().await?.model().await?.id)
        })
        .await
    }

    async fn send_webhook_chunk(
        &self,
        parent: Id<ChannelMarker>,
        thread: Option<Id<ChannelMarker>>,
        username: &str,
        avatar: Option<&str>,
        content: &str,
    ) -> Result<Id<MessageMarker>, RestError> {
        let handle = self.webhook_for(parent).await?;
        match self
            .execute(&handle, thread, username, avatar, content)
            .await
        {
            Err(e) if e.discord_code() == Some(code::UNKNOWN_WEBHOOK) => {
                tracing::info!(channel = %parent, "webhook was deleted; creating a new one");
                self.forget_webhook(parent, handle.id).await;
                let handle = self.webhook_for(parent).await?;
                self.execute(&handle, thread, username, avatar, content)
                    .await
            }
            other => other,
        }
    }
}

fn platform_error(what: &str, e: &RestError) -> PlatformError {
    let mapped = e.to_platform();
    if matches!(
        mapped,
        PlatformError::Unexpected(_) | PlatformError::Unavailable
    ) {
        tracing::warn!(request = what, error = %e, "Discord request failed");
    }
    mapped
}

#[async_trait]
impl ChatPlatform for DiscordPlatform {
    fn status(&self) -> PlatformStatus {
        let snapshot = self.monitor.snapshot();
        PlatformStatus {
            latency: snapshot.latency,
            guilds: snapshot.guilds,
        }
    }

    async fn send_dm(
        &self,
        user: UserId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let channel = self
            .dm_channel(ids::to_user(user))
            .await
            .map_err(|e| platform_error("create DM channel", &e))?;
        let (content, embeds) = outgoing(&message);
        self.create(channel, &content, &embeds, None)
            .await
            .map(ids::message)
            .map_err(|e| platform_error("send DM", &e))
    }

    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let (content, embeds) = outgoing(&message);
        self.create(ids::to_channel(channel), &content, &embeds, None)
            .await
            .map(ids::message)
            .map_err(|e| platform_error("send message", &e))
    }

    async fn send_as_personality(
        &self,
        channel: ChannelId,
        persona: &PersonaIdentity,
        text: &str,
    ) -> Result<MessageId, PlatformError> {
        let channel = ids::to_channel(channel);
        let facts = self
            .channel_facts(channel)
            .await
            .map_err(|e| platform_error("get channel", &e))?;
        let mut first = None;
        if facts.is_dm() {
            let prefixed = format!("**{}:** {text}", persona.display_name.trim());
            for chunk in split_reply(&prefixed, MAX_MESSAGE_CHARS) {
                let id = self
                    .create(channel, &chunk, &[], None)
                    .await
                    .map_err(|e| platform_error("send personality DM", &e))?;
                first.get_or_insert(id);
            }
        } else {
            let (parent, thread) = match (facts.is_thread(), facts.parent) {
                (true, Some(parent)) => (parent, Some(channel)),
                _ => (channel, None),
            };
            let username = sanitize_username(&persona.display_name);
            for chunk in split_reply(text, MAX_MESSAGE_CHARS) {
                let id = self
                    .send_webhook_chunk(
                        parent,
                        thread,
                        &username,
                        persona.avatar_url.as_deref(),
                        &chunk,
                    )
                    .await
                    .map_err(|e| platform_error("execute webhook", &e))?;
                first.get_or_insert(id);
            }
        }
        first
            .map(ids::message)
            .ok_or_else(|| PlatformError::Unexpected("empty personality message".into()))
    }

    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        retry("delete message", || async {
            self.http
                .delete_message(ids::to_channel(channel), ids::to_message(message))
                .await?;
            Ok(())
        })
        .await
        .map_err(|e| platform_error("delete message", &e))
    }

    async fn trigger_typing(&self, channel: ChannelId) -> Result<(), PlatformError> {
        retry("trigger typing", || async {
            self.http
                .create_typing_trigger(ids::to_channel(channel))
                .await?;
            Ok(())
        })
        .await
        .map_err(|e| platform_error("trigger typing", &e))
    }

    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        let channel = ids::to_channel(channel);
        let limit = u16::from(limit.clamp(1, 100));
        let messages = retry("get messages", || async {
            let request = self.http.channel_messages(channel);
            let response = match before {
                Some(before) => request.before(ids::to_message(before)).limit(limit).await?,
                None => request.limit(limit).await?,
            };
            Ok(response.model().await?)
        })
        .await
        .map_err(|e| platform_error("get messages", &e))?;
        let bot = self.cache.bot_user();
        Ok(messages
            .into_iter()
            .map(|m| DmMessage {
                id: ids::message(m.id),
                kind: if Some(m.author.id) != bot {
                    DmMessageKind::User
                } else if is_personality_dm(&m.content) {
                    DmMessageKind::Personality
                } else {
                    DmMessageKind::System
                },
            })
            .collect())
    }

    async fn clear_webhook_cache(&self) -> u64 {
        let mut webhooks = self.webhooks.lock().await;
        let count = webhooks.len() as u64;
        webhooks.clear();
        count
    }

    async fn webhook_cache_size(&self) -> u64 {
        self.webhooks.lock().await.len() as u64
    }
}
