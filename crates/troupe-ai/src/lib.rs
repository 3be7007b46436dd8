//! The AI provider adapter of Troupe, on reqwest: [`OpenAiChat`] implements the `AiChat` port
//! over any OpenAI-compatible chat-completions endpoint (timeouts, retries with backoff on 429
//! and 5xx honouring `Retry-After`, tolerant parsing, image parts for vision models, a per-user
//! token); [`HttpProfileSource`] implements `ProfileSource` over an HTTP JSON profile service
//! (cached, at a polite request rate); [`OAuthClient`] implements `AuthProvider` with the OAuth
//! 2.0 authorization-code flow; [`PluralKitAuthors`] implements `ProxyAuthors` over PluralKit's
//! API (who really wrote a proxied message; bounded, cached).
//!
//! This crate is the only one that sees reqwest. It knows the domain and the port traits, and
//! nothing of the application, the store, Discord or axum. Secrets (the API key, the client
//! secret, users' tokens and codes) never reach a log line or an error: errors carry kinds and
//! status codes, never bodies, headers or reqwest's own messages.

mod chat;
mod http;
mod oauth;
mod pluralkit;
mod profile;

pub use chat::{ChatConfig, OpenAiChat};
pub use http::SetupError;
pub use oauth::{OAuthClient, OAuthConfig};
pub use pluralkit::{PLURALKIT_API, PluralKitAuthors, PluralKitConfig};
pub use profile::{HttpProfileSource, ProfileConfig};
