//! The message flow (commands.md §3): who answers a message that is not a command, and how
//! the answer is produced and delivered.
//!
//! The adapters (Discord, console) turn a platform message into an [`IncomingMessage`] and hand
//! it to a [`MessageHandler`]; [`MessageFlow`] is the handler: it decides who answers
//! (`troupe_domain::conversation::decide_responder`), applies the age gate, per-user
//! authentication and turns (one message at a time per user and channel, queued in order:
//! `turns`), asks the AI ([`request::build_request`]), splits and
//! delivers the answer, and records the conversation.

mod engine;
pub mod request;
mod texts;
mod turns;

use async_trait::async_trait;
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};

use crate::model::Location;

pub use engine::{FlowConfig, FlowOutcome, MessageFlow, Pause, Refusal};

/// The author of a message, as the adapter resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The real author (for a message relayed by a proxy system, the user behind it).
    pub id: UserId,
    /// The speaker's display name (shown to the AI).
    pub display_name: String,
    /// Another bot (our own bot account included). Proxy-system webhooks are not bots here.
    pub is_bot: bool,
    /// Posted by one of our own personality webhooks.
    pub is_own_webhook: bool,
    /// Relayed by a proxy system (PluralKit, Tupperbox) for `id`.
    pub via_proxy: bool,
}

/// A message that reached the bot and is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub id: MessageId,
    pub author: Author,
    pub location: Location,
    pub content: String,
    /// The message this one replies to, if any.
    pub reply_to: Option<MessageId>,
    /// The text of the replied-to message, when the adapter has it (quoted to the AI).
    pub quoted: Option<String>,
    /// Image attachment URLs.
    pub images: Vec<String>,
    pub received_at: Timestamp,
}

/// Handles messages that are not commands. The adapters (Discord, console) call it after the
/// dispatcher said "not a command".
#[async_trait]
pub trait MessageHandler: Send + Sync {
    /// Handles one message: answers it, refuses it with a short explanation, or ignores it.
    async fn handle(&self, message: IncomingMessage);

    /// Tells the handler that a message was deleted (Discord `MESSAGE_DELETE`), so a message a
    /// proxy system (PluralKit, Tupperbox) deletes and re-posts is not answered twice. Adapters
    /// that never see deletions need not call it.
    async fn message_deleted(&self, channel: ChannelId, message: MessageId) {
        let _ = (channel, message);
    }
}
