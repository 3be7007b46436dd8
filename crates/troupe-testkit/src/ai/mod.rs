//! Fakes of the AI provider side: [`ScriptedAi`] (an in-process [`troupe_ports::AiChat`]), and
//! on loopback HTTP [`FakeAiServer`] (an OpenAI-compatible chat-completions endpoint and a
//! profile source) and [`FakeOAuthServer`] (an OAuth 2.0 authorization-code server). The HTTP
//! fakes need a tokio runtime.

mod oauth;
mod scripted;
mod server;

pub use oauth::FakeOAuthServer;
pub use scripted::{Scripted, ScriptedAi};
pub use server::{AiReply, FakeAiServer, FakeProfile, RecordedChat};
