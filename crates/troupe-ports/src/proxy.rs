use async_trait::async_trait;
use troupe_domain::{MessageId, UserId};

/// Why a proxy system could not say who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// No answer within the adapter's time bound.
    #[error("the proxy system did not answer in time")]
    Timeout,
    /// The proxy system is unreachable or failing (5xx, connection refused).
    #[error("the proxy system is unavailable: {0}")]
    Unavailable(String),
    /// It limits our requests (429).
    #[error("the proxy system limits our requests")]
    RateLimited,
    /// Anything else (an answer that cannot be read).
    #[error("unexpected proxy system error: {0}")]
    Unexpected(String),
}

/// The real author of a message a proxy system (PluralKit) re-posted through a webhook.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ProxyAuthors: Send + Sync {
    /// The user who wrote the original of `message`: `Ok(Some(user))` when the proxy system
    /// re-posted it for that user, `Ok(None)` when it is not one of its messages (for example a
    /// Tupperbox re-post), an error when it cannot say. Implementations bound the time they
    /// take and may cache answers.
    async fn real_author(&self, message: MessageId) -> Result<Option<UserId>, ProxyError>;
}
