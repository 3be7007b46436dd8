//! Troupe's Discord adapter, and the only crate that sees twilight. It runs the gateway shards
//! this process owns (resume after disconnects, graceful shutdown), turns MESSAGE_CREATE and
//! INTERACTION_CREATE events into application requests (prefix commands and slash commands
//! through the [`Dispatcher`](troupe_application::dispatch::Dispatcher), other messages through
//! the message flow's [`MessageHandler`](troupe_application::flow::MessageHandler)), renders
//! outcomes as replies, embeds and interaction responses, and implements the
//! [`ChatPlatform`](troupe_ports::ChatPlatform) port (DMs, personality webhooks, deletion,
//! typing, DM history) and the [`GatewayMonitor`](troupe_ports::GatewayMonitor) port.
//!
//! The application core never sees a twilight type: ids, permissions and channel facts are
//! converted here, at the edge. No business rule lives here either; this crate only translates.
//! The bot token is held by twilight and never logged.

mod bot;
mod cache;
mod config;
mod errors;
mod ids;
mod monitor;
mod platform;
mod render;
mod slash;

pub use bot::{Bot, BotDeps, ShadowHook, ShardHandle};
pub use config::{DiscordConfig, ShardPlan};
pub use monitor::GatewayStatus;
pub use platform::DiscordPlatform;
pub use render::sanitize_username;

/// Installs rustls' `ring` crypto provider as the process default (idempotent). Call once at
/// start, before building a [`Bot`]: twilight's TLS connectors need a provider.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
