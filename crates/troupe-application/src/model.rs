//! The command model, independent of Discord: a `CommandRequest` goes into a command system,
//! a `CommandOutcome` comes out. Both command systems (new and legacy) implement
//! [`CommandSystem`]; the router chooses which one's outcome is delivered.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use troupe_domain::{ChannelId, DomainEvent, Duration, GuildId, MessageId, Timestamp, UserId};
use troupe_ports::{EmbedField, OutgoingMessage};

use crate::command::CommandName;

/// The invoker's resolved guild permissions (all false in DMs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub administrator: bool,
    pub manage_messages: bool,
}

impl Permissions {
    /// Administrator implies every permission.
    pub fn can_manage_messages(self) -> bool {
        self.administrator || self.manage_messages
    }
}

/// Who runs the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    pub id: UserId,
    pub display_name: String,
    pub is_bot_owner: bool,
    pub permissions: Permissions,
    /// The message was relayed by a proxy system (PluralKit, Tupperbox) for this user.
    pub via_proxy: bool,
}

/// Where the command was run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Guild {
        guild: GuildId,
        channel: ChannelId,
        /// The channel, or the parent of a thread or forum post, is age-restricted (NSFW).
        age_restricted: bool,
        /// Age-restricted channels of this guild the invoker can see (for `verify`), at most a
        /// few, as `(channel, name)`.
        visible_age_restricted: Vec<(ChannelId, String)>,
    },
    Dm {
        channel: ChannelId,
    },
}

impl Location {
    pub fn channel(&self) -> ChannelId {
        match self {
            Self::Guild { channel, .. } | Self::Dm { channel } => *channel,
        }
    }

    pub fn is_dm(&self) -> bool {
        matches!(self, Self::Dm { .. })
    }

    pub fn guild(&self) -> Option<GuildId> {
        match self {
            Self::Guild { guild, .. } => Some(*guild),
            Self::Dm { .. } => None,
        }
    }

    pub fn is_age_restricted(&self) -> bool {
        matches!(
            self,
            Self::Guild {
                age_restricted: true,
                ..
            }
        )
    }
}

/// What carried the command: its id is handled at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSource {
    Message(MessageId),
    Interaction(MessageId),
}

impl RequestSource {
    pub fn id(self) -> MessageId {
        match self {
            Self::Message(id) | Self::Interaction(id) => id,
        }
    }

    pub fn is_slash(self) -> bool {
        matches!(self, Self::Interaction(_))
    }
}

/// A command's arguments, the same whether it came from the prefix parser or a slash command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arguments {
    /// Words after the command name, split on whitespace; double quotes keep spaces.
    pub words: Vec<String>,
    /// The text after the first unquoted `|` (the prompt of `add`), trimmed; words hold only what
    /// precedes it.
    pub tail: Option<String>,
    /// Named options that have no positional form (`add`'s `avatar` and `model`).
    pub options: BTreeMap<String, String>,
}

impl Arguments {
    /// All words joined by single spaces (commands whose one argument is a personality).
    pub fn joined(&self) -> String {
        self.words.join(" ")
    }

    pub fn first(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }
}

/// One command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub invoker: Invoker,
    pub location: Location,
    pub source: RequestSource,
    pub command: CommandName,
    /// The name or alias the user typed (lower-cased).
    pub invoked_as: String,
    pub args: Arguments,
    /// When the request was received.
    pub received_at: Timestamp,
}

/// The class of an outcome: what the shadow comparison and metrics compare first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeClass {
    /// The command did what was asked.
    Success,
    /// Nothing to do, or information only ("nothing active", "already verified").
    Info,
    /// The invoker may not do this here (permission, ownership, place).
    Denied,
    /// Missing or malformed arguments, unknown subcommand or command.
    InvalidInput,
    /// The named personality (or other thing) does not exist.
    NotFound,
    /// The name or alias is taken, or the request duplicates one in flight.
    Conflict,
    /// Silently ignored (duplicate message or identical command within 3 s).
    Ignored,
    /// A dependency failed (store, provider): an error reply with a reference id.
    InternalError,
}

impl OutcomeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Info => "info",
            Self::Denied => "denied",
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Ignored => "ignored",
            Self::InternalError => "internal_error",
        }
    }

    /// Whether this outcome counts as a failed command for error-rate alerts.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::InternalError)
    }
}

/// Colours of reply cards.
pub mod colour {
    pub const SUCCESS: u32 = 0x2E_CC71;
    pub const INFO: u32 = 0x34_98DB;
    pub const WARNING: u32 = 0xF1_C40F;
    pub const ERROR: u32 = 0xE7_4C3C;
}

/// The reply to the invoker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub title: Option<String>,
    pub text: String,
    pub fields: Vec<EmbedField>,
    pub colour: u32,
    pub thumbnail: Option<String>,
    /// Only the invoker sees it (slash commands).
    pub ephemeral: bool,
}

/// Follow-up actions the adapter performs after delivering the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// Send a DM to a user (used when its failure does not change the reply).
    SendDm {
        user: UserId,
        message: OutgoingMessage,
    },
    /// Delete the message that invoked the command (e.g. an auth code posted in a guild).
    DeleteInvokingMessage,
    /// Delete the reply after this long.
    DeleteReplyAfter(Duration),
}

/// Which command system produced an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemKind {
    Legacy,
    New,
}

impl SystemKind {
    /// As shown in metrics and `/health/commands` (`legacy` / `ddd`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::New => "ddd",
        }
    }
}

/// The result of running a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub class: OutcomeClass,
    /// `None` only when the command is silently ignored.
    pub reply: Option<Reply>,
    pub follow_ups: Vec<FollowUp>,
    /// The state changes made, in order.
    pub events: Vec<DomainEvent>,
    /// Set on internal errors: the id shown to the user and logged.
    pub reference: Option<ReferenceId>,
}

impl CommandOutcome {
    pub fn new(class: OutcomeClass, reply: Reply) -> Self {
        Self {
            class,
            reply: Some(reply),
            follow_ups: Vec::new(),
            events: Vec::new(),
            reference: None,
        }
    }

    /// A silently ignored command.
    pub fn ignored() -> Self {
        Self {
            class: OutcomeClass::Ignored,
            reply: None,
            follow_ups: Vec::new(),
            events: Vec::new(),
            reference: None,
        }
    }

    /// The clear error reply for an internal failure, carrying `reference`.
    pub fn internal_error(reference: ReferenceId) -> Self {
        let reply = Reply {
            title: Some("Something went wrong".into()),
            text: format!(
                "Troupe could not complete this command. Nothing was changed. Please try again later; if it keeps happening, tell the bot operator the reference `{reference}`."
            ),
            colour: colour::ERROR,
            ephemeral: true,
            ..Reply::default()
        };
        Self {
            reference: Some(reference),
            ..Self::new(OutcomeClass::InternalError, reply)
        }
    }

    pub fn with_event(mut self, event: DomainEvent) -> Self {
        self.events.push(event);
        self
    }

    pub fn with_follow_up(mut self, follow_up: FollowUp) -> Self {
        self.follow_ups.push(follow_up);
        self
    }
}

/// A short id tying a user-facing error to its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReferenceId(u32);

impl ReferenceId {
    /// A fresh id, unique within the process and unlikely to repeat across processes.
    pub fn generate(now: Timestamp) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = u64::from(std::process::id());
        // splitmix64 over (time, pid, counter)
        let mut z = (now.as_millis() as u64) ^ (pid << 40) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) as u32)
    }
}

impl fmt::Display for ReferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

/// A command system: the new one in this crate, the legacy one in troupe-legacy.
#[async_trait]
pub trait CommandSystem: Send + Sync {
    fn kind(&self) -> SystemKind;
    /// Whether this system has a handler for `command`.
    fn handles(&self, command: CommandName) -> bool;
    /// Runs the command. Expected failures (bad input, denied, not found) are outcomes with
    /// their class; a failing dependency gives an `InternalError` outcome with a reference id
    /// and no partial state change.
    async fn execute(&self, request: &CommandRequest) -> CommandOutcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_ids_differ_between_calls() {
        let now = Timestamp::from_millis(1);
        let a = ReferenceId::generate(now);
        let b = ReferenceId::generate(now);
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 8);
    }

    #[test]
    fn internal_error_replies_carry_the_reference() {
        let r = ReferenceId::generate(Timestamp::EPOCH);
        let o = CommandOutcome::internal_error(r);
        assert_eq!(o.class, OutcomeClass::InternalError);
        assert!(o.reply.unwrap().text.contains(&r.to_string()));
    }

    #[test]
    fn administrators_can_manage_messages() {
        assert!(
            Permissions {
                administrator: true,
                manage_messages: false
            }
            .can_manage_messages()
        );
        assert!(!Permissions::default().can_manage_messages());
    }
}
