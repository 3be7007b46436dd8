//! The fake's in-memory model of Discord: guilds, roles, channels, members, users, webhooks,
//! messages, and the gateway sessions.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::mpsc;

/// Channel types the fake knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Text,
    Dm,
    Category,
    Forum,
    PublicThread,
    PrivateThread,
}

impl ChannelKind {
    /// Discord's numeric channel type.
    pub fn code(self) -> u8 {
        match self {
            Self::Text => 0,
            Self::Dm => 1,
            Self::Category => 4,
            Self::Forum => 15,
            Self::PublicThread => 11,
            Self::PrivateThread => 12,
        }
    }

    pub fn is_thread(self) -> bool {
        matches!(self, Self::PublicThread | Self::PrivateThread)
    }
}

/// A permission overwrite on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overwrite {
    /// Role or member id.
    pub id: u64,
    /// A role's overwrite (else a member's).
    pub role: bool,
    pub allow: u64,
    pub deny: u64,
}

/// A guild: owner and roles (`(id, permission bits)`; the `@everyone` role has the guild's id).
#[derive(Debug, Clone)]
pub struct GuildModel {
    pub id: u64,
    pub name: String,
    pub owner: u64,
    pub roles: Vec<(u64, u64)>,
}

/// A channel, thread or forum post.
#[derive(Debug, Clone)]
pub struct ChannelModel {
    pub id: u64,
    pub guild: Option<u64>,
    pub kind: ChannelKind,
    pub name: String,
    pub nsfw: bool,
    pub parent: Option<u64>,
    pub overwrites: Vec<Overwrite>,
}

/// A user.
#[derive(Debug, Clone)]
pub struct UserModel {
    pub id: u64,
    pub name: String,
    pub global_name: Option<String>,
    pub bot: bool,
    /// Sending this user a DM fails with 50007.
    pub dms_closed: bool,
}

/// A webhook the bot created.
#[derive(Debug, Clone)]
pub struct WebhookModel {
    pub id: u64,
    pub token: String,
    pub channel: u64,
    pub guild: Option<u64>,
    pub name: String,
}

/// A stored message (sent by a user through an injected event, or by the bot over REST).
#[derive(Debug, Clone)]
pub struct MessageModel {
    pub id: u64,
    pub channel: u64,
    pub guild: Option<u64>,
    pub author: u64,
    pub content: String,
    pub embeds: Value,
    /// Sent through this webhook.
    pub webhook: Option<u64>,
    /// Replies to this message.
    pub reply_to: Option<u64>,
    /// The username a webhook message was sent with.
    pub username: Option<String>,
    /// The thread a webhook message was posted in (`thread_id`).
    pub thread: Option<u64>,
    /// The `nonce` the bot sent with it, if any.
    pub nonce: Option<String>,
}

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// What the fake sends down a gateway connection.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    /// Close with this code.
    Close(u16),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// A gateway session (one per identified shard).
#[derive(Debug)]
pub struct SessionModel {
    pub shard: [u32; 2],
    pub seq: u64,
    /// Dispatches sent in this session, for RESUME.
    pub log: Vec<(u64, String)>,
}

/// A live gateway connection.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    pub session: Option<String>,
    pub tx: mpsc::UnboundedSender<Outgoing>,
}

/// A REST request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The path after `/api/v10`, e.g. `/channels/1/messages`.
    pub path: String,
    pub query: String,
    /// The JSON body (`Null` when none or not JSON).
    pub body: Value,
    pub at: Instant,
}

impl RecordedRequest {
    /// Whether Discord counts this request against the bot's global limit: everything but
    /// webhook executions (and edits) with their token and interaction callbacks.
    pub fn is_global_limited(&self) -> bool {
        !(self.path.starts_with("/webhooks/") || self.path.starts_with("/interactions/"))
    }

    /// `"POST /channels/1/messages"`.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What an injected fault answers.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// A bare server error with this status (500, 502, 503…).
    ServerError(u16),
    /// 429 with Discord's rate-limit headers and body; `retry_after` in seconds.
    RateLimited { retry_after: f64 },
    /// A Discord JSON error (`{"code", "message"}`) with this HTTP status.
    Discord {
        status: u16,
        code: u64,
        message: String,
    },
    /// Waits this long, then handles the request normally (a slow Discord).
    Delay(std::time::Duration),
    /// Handles the request (a post is created), then answers with this bare server error: the
    /// client cannot tell whether it worked.
    AcceptThenFail(u16),
    /// Handles the request (a post is created), then holds the answer this long (past the
    /// client's timeout).
    AcceptThenHang(std::time::Duration),
}

/// A fault injected into the REST API: the next `times` requests whose method matches and
/// whose path contains `path_contains` get `kind` instead of the normal answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: String,
    pub times: usize,
    pub kind: FaultKind,
}

/// Everything the fake knows.
#[derive(Debug, Default)]
pub struct State {
    pub url: String,
    pub bot: Option<UserModel>,
    pub application: u64,
    pub shards_recommended: u32,
    pub guilds: BTreeMap<u64, GuildModel>,
    pub channels: BTreeMap<u64, ChannelModel>,
    pub members: HashMap<(u64, u64), Vec<u64>>,
    pub users: HashMap<u64, UserModel>,
    pub webhooks: BTreeMap<u64, WebhookModel>,
    pub messages: BTreeMap<u64, MessageModel>,
    /// The message each `(channel, nonce)` created: a create with `enforce_nonce` finds its
    /// first in one lookup instead of scanning every message (which made the fake, not the
    /// bot, the limit of a 20,000-command burst).
    pub nonces: HashMap<(u64, String), u64>,
    pub next_id: u64,
    pub requests: Vec<RecordedRequest>,
    pub faults: Vec<Fault>,
    /// When each injected message or interaction was sent (for latency).
    pub injected_at: HashMap<u64, Instant>,
    pub sessions: HashMap<String, SessionModel>,
    pub connections: Vec<Connection>,
    pub next_connection: u64,
    pub ack_heartbeats: bool,
    pub heartbeat_interval_ms: u64,
    pub identifies: Vec<[u32; 2]>,
    /// When each IDENTIFY arrived, with its `[shard, total]`.
    pub identify_log: Vec<([u32; 2], Instant)>,
    /// `session_start_limit.max_concurrency` of `GET /gateway/bot` (0: no pacing asked).
    pub max_concurrency: u32,
    pub resumes: usize,
    pub heartbeats: usize,
    /// When each heartbeat arrived, by connection.
    pub heartbeat_log: Vec<(u64, Instant)>,
    /// While true the gateway refuses connections (an outage).
    pub gateway_down: bool,
    /// Close codes the bot sent.
    pub client_closes: Vec<u16>,
    /// Interaction callbacks by interaction id: (type, data).
    pub interaction_callbacks: Vec<(u64, Value)>,
    /// DM channel of each user.
    pub dm_channels: HashMap<u64, u64>,
    /// Dispatches injected before any session existed, sent after the next READY.
    pub pending: Vec<(Option<u64>, String, Value)>,
}

impl State {
    /// A new id: a snowflake of the current time (like Discord's, so `after`/`before` queries
    /// by time work), strictly increasing.
    pub fn next_id(&mut self) -> u64 {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let snowflake = now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22;
        self.next_id = (self.next_id + 1).max(snowflake);
        self.next_id
    }

    /// The shard that receives events of `guild` (DMs go to shard 0).
    pub fn shard_of(guild: Option<u64>, total: u32) -> u32 {
        match guild {
            Some(g) if total > 0 => ((g >> 22) % u64::from(total)) as u32,
            _ => 0,
        }
    }
}
