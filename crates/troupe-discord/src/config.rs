use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use troupe_domain::GuildId;
use troupe_ports::{GatewaySessions, SharedRateLimit};

/// Which shards this process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    /// Total shards of the bot (across every process); `None`: Discord's recommendation.
    pub total: Option<u32>,
    /// The shard ids this process runs (`0..total` when `None`).
    pub range: Option<Range<u32>>,
}

/// How many events of each kind may run at once in this process, and wait per shard.
///
/// Commands (prefix and slash) and other messages (chatter: mostly AI exchanges, which wait
/// seconds for the provider) have budgets of their own, so a slow AI provider never holds up
/// `ping`. An event whose shard queue is full is shed: a command gets a short "busy" answer,
/// a message is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBudgets {
    /// Commands running at once (process).
    pub commands_running: usize,
    /// Commands waiting per shard.
    pub commands_queued: usize,
    /// Messages (AI exchanges) running at once (process).
    pub messages_running: usize,
    /// Messages waiting per shard.
    pub messages_queued: usize,
}

impl Default for EventBudgets {
    fn default() -> Self {
        Self {
            commands_running: 64,
            commands_queued: 256,
            messages_running: 1024,
            messages_queued: 1024,
        }
    }
}

/// Discord's global REST limit, kept on this side: at most `per_window` requests subject to
/// it (every route but interaction callbacks and webhook executions, which Discord exempts)
/// in any `window`, across every process that shares `shared`.
#[derive(Clone)]
pub struct RestLimit {
    pub per_window: u32,
    /// Longer than Discord's second by a margin (more than the 200 ms a request may take to
    /// leave after its slot), so the delay between taking a slot and the request reaching
    /// Discord cannot put more than `per_window` into one of its seconds.
    pub window: Duration,
    /// A request that would wait longer than this for a slot fails instead (`Unavailable`).
    pub max_wait: Duration,
    /// The limit shared with the other processes of the fleet (the store); `None`: this
    /// process alone.
    pub shared: Option<Arc<dyn SharedRateLimit>>,
}

impl Default for RestLimit {
    fn default() -> Self {
        Self {
            per_window: 50,
            window: Duration::from_millis(1250),
            max_wait: Duration::from_secs(10),
            shared: None,
        }
    }
}

impl fmt::Debug for RestLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestLimit")
            .field("per_window", &self.per_window)
            .field("window", &self.window)
            .field("max_wait", &self.max_wait)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// Settings of the Discord adapter.
#[derive(Clone)]
pub struct DiscordConfig {
    /// The bot token (never printed).
    pub token: String,
    /// Gateway base URL (`ws://host:port`, no trailing slash) instead of Discord's.
    pub gateway_url: Option<String>,
    /// `host:port` of a plain-HTTP REST proxy (or a fake Discord) instead of discord.com.
    pub api_proxy: Option<String>,
    pub shards: ShardPlan,
    /// Register slash commands in this guild only (development); global otherwise.
    pub dev_guild: Option<GuildId>,
    /// Register slash commands at start.
    pub register_commands: bool,
    /// Honour Discord's REST rate limits client-side: per-route buckets and 429s (twilight)
    /// and the global limit (`None`: off, only against a fake or a proxy that enforces them).
    pub rest_limit: Option<RestLimit>,
    /// How long one REST request may take before it counts as failed (ambiguously: it may
    /// have reached Discord).
    pub rest_timeout: Duration,
    /// How long shutdown waits for in-flight work after closing the gateway.
    pub shutdown_grace: Duration,
    /// A slash command not answered this long after it arrived is deferred, then edited.
    pub defer_after: Duration,
    pub budgets: EventBudgets,
    /// The longest wait between two reconnect attempts (with jitter).
    pub reconnect_max_delay: Duration,
    /// Where the gateway sessions wait for the next process (resume after a restart); `None`:
    /// a restart identifies again and the events sent in between are lost.
    pub sessions: Option<Arc<dyn GatewaySessions>>,
    /// Pace IDENTIFYs fleet-wide through this shared limit (the store; ADR 0041); `None`:
    /// this process alone (twilight's in-memory queue).
    pub identify: Option<Arc<dyn SharedRateLimit>>,
    /// The spacing of IDENTIFYs per bucket with a shared queue: Discord's 5 s (shorter only
    /// against a fake Discord in tests).
    pub identify_pacing: crate::IdentifyPacing,
}

impl DiscordConfig {
    /// Defaults for everything but the token.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            gateway_url: None,
            api_proxy: None,
            shards: ShardPlan {
                total: None,
                range: None,
            },
            dev_guild: None,
            register_commands: true,
            rest_limit: Some(RestLimit::default()),
            rest_timeout: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
            defer_after: Duration::from_millis(1500),
            budgets: EventBudgets::default(),
            reconnect_max_delay: Duration::from_secs(10),
            sessions: None,
            identify: None,
            identify_pacing: crate::IdentifyPacing::default(),
        }
    }
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"<redacted>")
            .field("gateway_url", &self.gateway_url)
            .field("api_proxy", &self.api_proxy)
            .field("shards", &self.shards)
            .field("dev_guild", &self.dev_guild)
            .field("rest_limit", &self.rest_limit)
            .field("rest_timeout", &self.rest_timeout)
            .field("budgets", &self.budgets)
            .field("reconnect_max_delay", &self.reconnect_max_delay)
            .field("sessions", &self.sessions.is_some())
            .field("identify_fleet_wide", &self.identify.is_some())
            .field("identify_pacing", &self.identify_pacing)
            .finish_non_exhaustive()
    }
}
