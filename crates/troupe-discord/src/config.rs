use std::fmt;
use std::ops::Range;
use std::time::Duration;

use troupe_domain::GuildId;

/// Which shards this process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    /// Total shards of the bot (across every process); `None`: Discord's recommendation.
    pub total: Option<u32>,
    /// The shard ids this process runs (`0..total` when `None`).
    pub range: Option<Range<u32>>,
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
    /// Honour Discord's REST rate limits client-side (turn off only against a fake).
    pub rest_ratelimiter: bool,
    /// How long shutdown waits for in-flight work before closing the gateway.
    pub shutdown_grace: Duration,
    /// A slash command still running after this long is deferred, then edited.
    pub defer_after: Duration,
    /// At most this many events handled at once (back-pressure).
    pub max_in_flight: usize,
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
            rest_ratelimiter: true,
            shutdown_grace: Duration::from_secs(10),
            defer_after: Duration::from_millis(1500),
            max_in_flight: 512,
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
            .field("rest_ratelimiter", &self.rest_ratelimiter)
            .finish_non_exhaustive()
    }
}
