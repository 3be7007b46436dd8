use async_trait::async_trait;
use troupe_domain::{ChannelId, Duration, MessageId, UserId};

/// A field of an embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedField {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

/// A rich message card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Embed {
    pub title: String,
    pub description: String,
    pub fields: Vec<EmbedField>,
    /// 0xRRGGBB.
    pub colour: u32,
    pub thumbnail: Option<String>,
}

/// A message the bot sends as itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub content: String,
    pub embed: Option<Embed>,
}

impl OutgoingMessage {
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            embed: None,
        }
    }
}

/// The name and avatar a personality speaks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonaIdentity {
    pub display_name: String,
    pub avatar_url: Option<String>,
}

/// What kind of message the bot sent in a DM (for `purgbot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmMessageKind {
    /// Not sent by the bot.
    User,
    /// A command reply or system message.
    System,
    /// A personality's message.
    Personality,
}

/// One message of a DM history page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmMessage {
    pub id: MessageId,
    pub kind: DmMessageKind,
}

/// Live facts about the connection, for `ping` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlatformStatus {
    /// Heartbeat round trip; `None` before the first acknowledged heartbeat.
    pub latency: Option<Duration>,
    pub guilds: u64,
}

/// Errors of the chat platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The user does not accept DMs from the bot.
    #[error("the user does not accept direct messages")]
    DmClosed,
    /// The bot lacks a permission for this action.
    #[error("missing permission: {0}")]
    MissingPermission(String),
    /// The message or channel no longer exists.
    #[error("not found")]
    NotFound,
    /// Rate limited or unavailable; retried already.
    #[error("the platform is unavailable")]
    Unavailable,
    #[error("unexpected platform error: {0}")]
    Unexpected(String),
}

/// The chat platform (Discord, the console): what handlers and the message flow do beyond
/// returning a reply.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ChatPlatform: Send + Sync {
    /// Live connection facts.
    fn status(&self) -> PlatformStatus;
    /// Sends a DM to a user. Returns `DmClosed` when the user's DMs are closed.
    async fn send_dm(
        &self,
        user: UserId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError>;
    /// Sends a message in a channel as the bot.
    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError>;
    /// Sends `text` in a channel as a personality (a webhook in guilds; a `**Name:**` prefixed
    /// message in DMs). `text` fits one message once laid out for the destination
    /// (`troupe_domain::conversation::Layout::personality`: in DMs with the prefix); a longer
    /// text is split by that layout. Returns the (first) new message's id.
    async fn send_as_personality(
        &self,
        channel: ChannelId,
        persona: &PersonaIdentity,
        text: &str,
    ) -> Result<MessageId, PlatformError>;
    /// Deletes a message. Returns `MissingPermission` when the bot may not.
    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError>;
    /// Shows the typing indicator in a channel.
    async fn trigger_typing(&self, channel: ChannelId) -> Result<(), PlatformError>;
    /// One page of a DM channel's history, newest first, before `before` (from the newest when
    /// `None`); an empty page means the end.
    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError>;
    /// Drops cached webhooks; returns how many were cached.
    async fn clear_webhook_cache(&self) -> u64;
    /// Number of cached webhooks.
    async fn webhook_cache_size(&self) -> u64;
}
