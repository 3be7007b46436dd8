//! The [`ChatPlatform`] port on Discord's REST API.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::value::RawValue;
use troupe_application::Reply;
use troupe_domain::conversation::Layout;
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_ports::{
    ChatPlatform, DmMessage, DmMessageKind, GatewayMonitor, OutgoingMessage, PersonaIdentity,
    PlatformError, PlatformStatus,
};
use twilight_http::Client;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, UserMarker};

use crate::cache::{Cache, ChannelFacts};
use crate::config::DiscordConfig;
use crate::ids;
use crate::monitor::GatewayStatus;
use crate::render::{Cut, EmbedView, ReplyEmbeds, is_personality_dm, outgoing, sanitize_username};
use crate::rest::{Rest, RestError, fresh};
use crate::webhooks::{Post, Webhooks};

/// The [`ChatPlatform`] on Discord's REST API: DMs, bot messages, personality messages through
/// one cached webhook per channel (threads and forum posts use their parent's, with the thread
/// id), deletion, typing and DM history. Transient failures are retried with backoff where that
/// cannot post twice (message creates carry a nonce Discord enforces; webhook executions are
/// checked first); 429s wait for the time Discord asks (twilight's rate limiter).
pub struct DiscordPlatform {
    rest: Rest,
    cache: Arc<Cache>,
    monitor: Arc<GatewayStatus>,
    webhooks: Webhooks,
    typing: TypingThrottle,
    replies: ReplyEmbeds,
}

/// The typing indicator is the bot's, per channel, and Discord shows it for about 10 s: one
/// trigger per channel every [`TYPING_EVERY`] is enough however many exchanges wait there
/// (a thousand exchanges in one channel would otherwise want 125 triggers a second).
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Channels remembered at most (older entries are dropped first; a dropped one only means an
/// extra trigger).
const TYPING_CHANNELS: usize = 4096;

#[derive(Debug, Default)]
struct TypingThrottle {
    last: std::sync::Mutex<std::collections::HashMap<Id<ChannelMarker>, tokio::time::Instant>>,
}

impl TypingThrottle {
    /// Whether a trigger for `channel` is due now (and if so, records it).
    fn due(&self, channel: Id<ChannelMarker>) -> bool {
        let now = tokio::time::Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last
            .get(&channel)
            .is_some_and(|at| now.duration_since(*at) < TYPING_EVERY)
        {
            return false;
        }
        if last.len() >= TYPING_CHANNELS {
            last.retain(|_, at| now.duration_since(*at) < TYPING_EVERY);
            if last.len() >= TYPING_CHANNELS {
                last.clear();
            }
        }
        last.insert(channel, now);
        true
    }
}

impl std::fmt::Debug for DiscordPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordPlatform").finish_non_exhaustive()
    }
}

/// The body of a message create, written straight to JSON (no `serde_json::Value` in between).
#[derive(serde::Serialize)]
struct CreateMessage<'a> {
    nonce: String,
    enforce_nonce: bool,
    #[serde(skip_serializing_if = "Cut::is_empty")]
    content: Cut<'a>,
    #[serde(skip_serializing_if = "Embeds::is_empty")]
    embeds: Embeds<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_reference: Option<Reference>,
}

/// A message create's embeds: built for this message, or already written as JSON (a long
/// command reply's, kept by [`ReplyEmbeds`]).
#[derive(serde::Serialize, Clone, Copy)]
#[serde(untagged)]
enum Embeds<'a> {
    Built(&'a [EmbedView<'a>]),
    Written(&'a RawValue),
}

impl Embeds<'_> {
    fn is_empty(&self) -> bool {
        matches!(self, Embeds::Built([]))
    }
}

#[derive(serde::Serialize)]
struct Reference {
    message_id: Id<MessageMarker>,
    fail_if_not_exists: bool,
}

impl<'a> CreateMessage<'a> {
    fn new(
        nonce: String,
        content: Cut<'a>,
        embeds: Embeds<'a>,
        reply_to: Option<Id<MessageMarker>>,
    ) -> Self {
        Self {
            nonce,
            enforce_nonce: true,
            content,
            embeds,
            message_reference: reply_to.map(|message_id| Reference {
                message_id,
                fail_if_not_exists: false,
            }),
        }
    }
}

/// The room a message create's body starts with besides its content and its embeds' text: the
/// keys, quotes and escapes around a command reply's embed of a dozen fields fit.
const BODY_ROOM: usize = 1024;

/// A nonce for a message create: Discord returns the first message for a repeated nonce
/// (`enforce_nonce`), so a create tried again after an ambiguous failure never posts twice.
fn nonce() -> String {
    // At most 25 characters; a random u64 has at most 20 digits.
    fastrand::u64(1..).to_string()
}

impl DiscordPlatform {
    /// A platform talking to Discord (or to `config.api_proxy`) with `config.token`.
    /// Must be called inside a tokio runtime.
    pub fn new(config: &DiscordConfig) -> Self {
        Self {
            rest: Rest::new(config),
            cache: Arc::new(Cache::default()),
            monitor: Arc::new(GatewayStatus::new()),
            webhooks: Webhooks::new(),
            typing: TypingThrottle::default(),
            replies: ReplyEmbeds::default(),
        }
    }

    /// Shares Discord's global REST limit with every process of `shared` (the fleet's store)
    /// from now on. `false` when the limit is off or already shared.
    pub fn share_global_limit(&self, shared: Arc<dyn troupe_ports::SharedRateLimit>) -> bool {
        self.rest.share_global_limit(shared)
    }

    /// The gateway facts this platform reports (also the process's [`GatewayMonitor`]).
    pub fn monitor(&self) -> Arc<GatewayStatus> {
        Arc::clone(&self.monitor)
    }

    pub(crate) fn rest(&self) -> &Rest {
        &self.rest
    }

    pub(crate) fn http(&self) -> &Client {
        self.rest.http()
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
        let fetched = self
            .rest
            .global("get channel", || async {
                Ok(fresh(self.http().channel(channel)).await?.model().await?)
            })
            .await?;
        self.cache.insert_channel(&fetched);
        Ok(ChannelFacts::from_channel(&fetched))
    }

    async fn dm_channel(&self, user: Id<UserMarker>) -> Result<Id<ChannelMarker>, RestError> {
        if let Some(channel) = self.cache.dm_channel(user) {
            return Ok(channel);
        }
        let channel = self
            .rest
            .global("create DM channel", || async {
                Ok(fresh(self.http().create_private_channel(user))
                    .await?
                    .model()
                    .await?)
            })
            .await?;
        self.cache.insert_dm(user, channel.id);
        Ok(channel.id)
    }

    /// Creates a bot message. The body carries a nonce with `enforce_nonce`, so trying again
    /// after a timeout or a 5xx returns the message Discord may already have made.
    async fn create(
        &self,
        channel: Id<ChannelMarker>,
        content: Cut<'_>,
        embed: Option<EmbedView<'_>>,
        reply_to: Option<Id<MessageMarker>>,
    ) -> Result<Id<MessageMarker>, RestError> {
        let embeds = embed.as_slice();
        self.post(channel, content, Embeds::Built(embeds), reply_to, true)
            .await?
            .ok_or_else(|| RestError::Decode("created message: no id read".into()))
    }

    /// [`create`](Self::create), reading the new message's id from the response only when
    /// `read_id` (the body is a whole message, as long as what was sent: a command reply whose id
    /// nobody needs skips decoding it).
    async fn post(
        &self,
        channel: Id<ChannelMarker>,
        content: Cut<'_>,
        embeds: Embeds<'_>,
        reply_to: Option<Id<MessageMarker>>,
        read_id: bool,
    ) -> Result<Option<Id<MessageMarker>>, RestError> {
        let nonce = crate::relay::scoped_nonce().unwrap_or_else(nonce);
        // Room for the whole body at once (`to_vec` starts at 128 bytes and grows four times
        // for a command reply's embed).
        let written = match embeds {
            Embeds::Written(json) => json.get().len(),
            Embeds::Built(views) => views.iter().map(EmbedView::text_len).sum(),
        };
        let mut body = Vec::with_capacity(BODY_ROOM + content.len() + written);
        serde_json::to_writer(
            &mut body,
            &CreateMessage::new(nonce, content, embeds, reply_to),
        )
        .map_err(|e| RestError::Decode(format!("message body: {e}")))?;
        self.rest
            .global("create message", || async {
                let answer = self.rest.create_message(channel, &body).await?;
                if read_id {
                    crate::rest::created_id_in(&answer).map(Some)
                } else {
                    Ok(None)
                }
            })
            .await
    }

    /// Sends a command reply as a bot message (replying to the invoking message); its id only
    /// when `read_id`. A long reply's embed is written once and kept ([`ReplyEmbeds`]).
    pub(crate) async fn send_reply(
        &self,
        channel: Id<ChannelMarker>,
        reply: &Reply,
        reply_to: Option<Id<MessageMarker>>,
        read_id: bool,
    ) -> Result<Option<Id<MessageMarker>>, RestError> {
        let kept = self.replies.long(reply);
        let built;
        let embeds = if let Some(json) = &kept {
            Embeds::Written(json)
        } else {
            built = [EmbedView::of_reply(reply)];
            Embeds::Built(&built)
        };
        self.post(channel, Cut::EMPTY, embeds, reply_to, read_id)
            .await
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
        let (content, embed) = outgoing(&message);
        self.create(channel, content, embed, None)
            .await
            .map(ids::message)
            .map_err(|e| platform_error("send DM", &e))
    }

    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let (content, embed) = outgoing(&message);
        self.create(ids::to_channel(channel), content, embed, None)
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
            // The prefix is part of each chunk's budget: text the flow sized for this layout
            // stays one message; a longer text is split once, never cut again.
            for chunk in Layout::dm(&persona.display_name).split(text) {
                let id = self
                    .create(channel, Cut::whole(&chunk), None, None)
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
            for chunk in Layout::plain().split(text) {
                let post = Post {
                    parent,
                    thread,
                    username: &username,
                    avatar: persona.avatar_url.as_deref(),
                    content: &chunk,
                };
                let id = self
                    .webhooks
                    .send(&self.rest, &self.cache, post)
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
        self.rest
            .global("delete message", || async {
                fresh(
                    self.http()
                        .delete_message(ids::to_channel(channel), ids::to_message(message)),
                )
                .await?;
                Ok(())
            })
            .await
            .map_err(|e| platform_error("delete message", &e))
    }

    async fn trigger_typing(&self, channel: ChannelId) -> Result<(), PlatformError> {
        // Cosmetic: once per channel every few seconds, sent only when a global slot is free
        // right now (and half of the budget is left to replies), never queued behind replies.
        if !self.typing.due(ids::to_channel(channel)) {
            return Ok(());
        }
        self.rest
            .best_effort(async {
                fresh(self.http().create_typing_trigger(ids::to_channel(channel))).await?;
                Ok(())
            })
            .await
            .map(|_| ())
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
        let messages = self
            .rest
            .global("get messages", || async {
                let request = self.http().channel_messages(channel);
                let response = match before {
                    Some(before) => {
                        fresh(request.before(ids::to_message(before)).limit(limit)).await?
                    }
                    None => fresh(request.limit(limit)).await?,
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
        self.webhooks.clear().await
    }

    async fn webhook_cache_size(&self) -> u64 {
        self.webhooks.len().await
    }
}

#[cfg(test)]
mod typing_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn typing_is_due_once_per_channel_every_few_seconds() {
        let throttle = TypingThrottle::default();
        let (a, b) = (Id::new(1), Id::new(2));
        assert!(throttle.due(a));
        assert!(
            !throttle.due(a),
            "a second exchange in the channel sends none"
        );
        assert!(throttle.due(b), "another channel is independent");
        tokio::time::advance(TYPING_EVERY).await;
        assert!(throttle.due(a), "renewed after the interval");
    }

    #[tokio::test(start_paused = true)]
    async fn the_remembered_channels_are_bounded() {
        let throttle = TypingThrottle::default();
        for c in 1..=(TYPING_CHANNELS as u64 * 2) {
            assert!(throttle.due(Id::new(c)));
        }
        assert!(throttle.last.lock().unwrap().len() <= TYPING_CHANNELS);
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn a_message_create_body_names_only_what_it_sends() {
        let body = |content, embeds, reply_to: Option<u64>| {
            let reply_to = reply_to.map(Id::new);
            let content = Cut::new(content, 2000);
            let bytes =
                serde_json::to_vec(&CreateMessage::new("17".into(), content, embeds, reply_to))
                    .unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        assert_eq!(
            body("hi \"there\"", Embeds::Built(&[]), None),
            serde_json::json!({"nonce": "17", "enforce_nonce": true, "content": "hi \"there\""})
        );
        let reply = Reply {
            title: Some("t".into()),
            text: "d".into(),
            colour: 7,
            ..Reply::default()
        };
        let embed = EmbedView::of_reply(&reply);
        let expected = serde_json::json!({
            "nonce": "17", "enforce_nonce": true,
            "embeds": [{"color": 7, "description": "d", "title": "t", "type": "rich"}],
            "message_reference": {"message_id": "99", "fail_if_not_exists": false},
        });
        assert_eq!(
            body("", Embeds::Built(std::slice::from_ref(&embed)), Some(99)),
            expected
        );
        // A kept reply's embeds, already written, make the same body.
        let written = serde_json::value::to_raw_value(&[&embed]).unwrap();
        assert_eq!(body("", Embeds::Written(&written), Some(99)), expected);
        // Content over 2,000 characters is cut, with `…`.
        let long = "é".repeat(2001);
        let sent = body(&long, Embeds::Built(&[]), None);
        let content = sent["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), 2000);
        assert!(content.ends_with("é…"));
    }
}
