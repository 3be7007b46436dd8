use async_trait::async_trait;
use troupe_domain::Duration;
use troupe_domain::auth::AccessToken;
use troupe_domain::personality::{AvatarUrl, DisplayName, ErrorMessage};

/// Who says a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One message sent to the AI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
    /// Image URLs, sent as image parts when the model supports them.
    pub images: Vec<String>,
}

/// A chat-completion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    /// `None` uses the configured default model.
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// The user's own token when the provider needs per-user authentication.
    pub user_token: Option<AccessToken>,
}

/// Errors of the AI provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    #[error("the AI provider did not answer in time")]
    Timeout,
    #[error("the AI provider is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the AI provider is unavailable")]
    Unavailable,
    #[error("the AI provider refused the credentials")]
    Unauthorized,
    #[error("the AI provider gave an empty answer")]
    EmptyAnswer,
    /// The conversation does not fit the model's context window.
    #[error("the conversation is too long for the model")]
    ContextTooLong,
    /// The provider does not know the model asked for.
    #[error("the AI provider does not know the model")]
    UnknownModel,
    /// The provider refused the request itself (a 4xx other than the above), with its status.
    #[error("the AI provider refused the request (status {0})")]
    Rejected(u16),
    /// An answer Troupe cannot read (not JSON, too large, an unexpected status).
    #[error("unexpected AI provider error: {0}")]
    Unexpected(String),
}

/// An OpenAI-compatible chat model.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AiChat: Send + Sync {
    /// The answer text. Returns `EmptyAnswer` rather than an empty string.
    async fn complete(&self, request: ChatRequest) -> Result<String, AiError>;
}

/// A personality profile as a profile source describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProfile {
    pub display_name: DisplayName,
    pub avatar_url: Option<AvatarUrl>,
    pub error_message: Option<ErrorMessage>,
}

/// Errors of the profile source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("the profile source is unavailable")]
    Unavailable,
    #[error("unexpected profile source error: {0}")]
    Unexpected(String),
}

/// Where personality profiles come from when one is configured.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ProfileSource: Send + Sync {
    /// The profile of `name`; `None` when the source does not know it.
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError>;
}
