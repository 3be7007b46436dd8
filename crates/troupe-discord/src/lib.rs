//! Troupe's Discord adapter, and the only crate that sees twilight. It runs the gateway shards
//! this process owns — loops that only poll the gateway and hand events to bounded lanes, so
//! heartbeats never wait on work; capped reconnect backoff; sessions resumed after disconnects
//! and across restarts — turns MESSAGE_CREATE and INTERACTION_CREATE events into application
//! requests (prefix commands and slash commands through the
//! [`Dispatcher`](troupe_application::dispatch::Dispatcher), other messages through the message
//! flow's [`MessageHandler`](troupe_application::flow::MessageHandler)), renders outcomes as
//! replies, embeds and interaction responses, and implements the
//! [`ChatPlatform`](troupe_ports::ChatPlatform) port (DMs, personality webhooks, deletion,
//! typing, DM history) and the [`GatewayMonitor`](troupe_ports::GatewayMonitor) port.
//!
//! REST: per-route buckets, 429s and exempt routes by twilight-http-ratelimiting; Discord's
//! global limit by a gate that can be shared by every process of a fleet
//! ([`SharedRateLimit`](troupe_ports::SharedRateLimit)); posts are never repeated blindly
//! (message creates carry an enforced nonce, webhook executions are checked before a retry).
//!
//! The application core never sees a twilight type: ids, permissions and channel facts are
//! converted here, at the edge. No business rule lives here either; this crate only translates.
//! The bot token and webhook tokens are held here and never logged.

mod bot;
mod cache;
mod config;
mod delivery;
mod gateway;
mod ids;
mod interactions;
mod lanes;
mod location;
mod messages;
mod monitor;
mod platform;
mod relay;
mod render;
mod rest;
mod slash;
mod webhooks;

pub use bot::{Bot, BotDeps, BotError, ShadowHook};
pub use config::{DiscordConfig, EventBudgets, RestLimit, ShardPlan};
pub use gateway::queue::IdentifyPacing;
pub use monitor::GatewayStatus;
pub use platform::DiscordPlatform;
pub use relay::{RedeliveryClaims, RelayedEventError};
pub use render::sanitize_username;

/// Installs rustls' `ring` crypto provider as the process default (idempotent). Call once at
/// start, before building a [`Bot`]: twilight's TLS connectors need a provider.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
