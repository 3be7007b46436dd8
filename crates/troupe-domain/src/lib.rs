//! Troupe's domain model: the aggregates and value objects of personalities, conversations,
//! user authentication and release notifications, their rules, and the domain events they emit.
//!
//! This crate is synchronous and does no IO. It must not know about tokio, serde, sqlx, twilight,
//! axum or reqwest: adapters translate to and from these types at the edge. Every value object is
//! parsed once (`parse(raw) -> Result<Self, _>`) and is valid for its whole life.

pub mod auth;
pub mod conversation;
pub mod events;
pub mod ids;
pub mod notifications;
pub mod personality;
mod text;
pub mod time;

pub use events::DomainEvent;
pub use ids::{ChannelId, DISCORD_EPOCH_MS, GuildId, IdError, MessageId, UserId};
pub use time::{Duration, Timestamp};
