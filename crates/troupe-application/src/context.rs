//! What a command system needs: the ports and the configuration.

use std::collections::BTreeSet;
use std::sync::Arc;

use troupe_domain::notifications::Version;
use troupe_domain::{Duration, Timestamp, UserId};
use troupe_ports::{
    AuthProvider, AuthRepository, ChatPlatform, Clock, ConversationRepository, DataVolume,
    PersonalityRepository, PreferencesRepository, ProcessedMessages, ProfileSource,
};

/// Settings the use cases read.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Command prefix, default `!tz`.
    pub prefix: String,
    /// Personality mention character, default `@`.
    pub mention_char: char,
    pub bot_owners: BTreeSet<UserId>,
    /// Personalities only in age-restricted channels and to verified users in DMs.
    pub age_gate: bool,
    /// The model of personalities without their own.
    pub default_model: Option<String>,
    /// Lifetime of user tokens.
    pub token_ttl: Duration,
    /// History messages kept and sent per (channel, personality).
    pub history_limit: usize,
    /// This build's version.
    pub version: Version,
    /// When the process started (for uptime).
    pub started_at: Timestamp,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            prefix: "!tz".into(),
            mention_char: '@',
            bot_owners: BTreeSet::new(),
            age_gate: true,
            default_model: None,
            token_ttl: troupe_domain::auth::DEFAULT_TOKEN_TTL,
            history_limit: troupe_domain::conversation::DEFAULT_HISTORY_LIMIT,
            version: Version {
                major: 0,
                minor: 1,
                patch: 0,
            },
            started_at: Timestamp::EPOCH,
        }
    }
}

impl AppConfig {
    pub fn is_bot_owner(&self, user: UserId) -> bool {
        self.bot_owners.contains(&user)
    }
}

/// The ports a command system works through.
#[derive(Clone)]
pub struct Deps {
    pub personalities: Arc<dyn PersonalityRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub auth: Arc<dyn AuthRepository>,
    pub preferences: Arc<dyn PreferencesRepository>,
    pub processed: Arc<dyn ProcessedMessages>,
    pub platform: Arc<dyn ChatPlatform>,
    pub clock: Arc<dyn Clock>,
    pub volume: Arc<dyn DataVolume>,
    /// `None`: personalities are defined locally.
    pub profiles: Option<Arc<dyn ProfileSource>>,
    /// `None`: no per-user authentication (a shared API key).
    pub auth_provider: Option<Arc<dyn AuthProvider>>,
    pub config: Arc<AppConfig>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
