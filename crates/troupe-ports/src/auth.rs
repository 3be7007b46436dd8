use async_trait::async_trait;
use troupe_domain::auth::{AccessToken, AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{Duration, Timestamp, UserId};

use crate::StoreError;

/// Stored tokens (encrypted at rest by SQL stores), age verifications and pending OAuth states.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuthRepository: Send + Sync {
    /// Stores the user's token, replacing any earlier one.
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError>;
    /// The user's token, expired or not. A token that cannot be decrypted is `Unexpected`.
    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError>;
    /// Deletes the user's token; returns whether there was one.
    async fn delete_token(&self, user: UserId) -> Result<bool, StoreError>;
    /// Deletes every token expired at `now`; returns how many.
    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Number of stored tokens.
    async fn count_tokens(&self) -> Result<u64, StoreError>;

    /// The user's age verification.
    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError>;
    /// Records an age verification (idempotent: the first one is kept).
    async fn save_verification(&self, verification: &AgeVerification) -> Result<(), StoreError>;
    /// Removes the user's verification; returns whether there was one.
    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError>;

    /// Stores an authorization in flight.
    async fn save_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;
    /// Removes and returns the user's newest pending authorization.
    async fn take_pending(&self, user: UserId) -> Result<Option<PendingAuthorization>, StoreError>;
}

/// A token the provider issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: AccessToken,
    /// How long it lives, when the provider says; otherwise the configured default applies.
    pub expires_in: Option<Duration>,
}

/// Errors of the OAuth provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthProviderError {
    /// The code is unknown, used or expired.
    #[error("invalid or expired code")]
    InvalidCode,
    /// The provider did not answer in time or answered 5xx.
    #[error("the authorization service is unavailable")]
    Unavailable,
    #[error("unexpected authorization error: {0}")]
    Unexpected(String),
}

/// The AI provider's OAuth 2.0 authorization-code flow.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuthProvider: Send + Sync {
    /// Whether users must authenticate before talking to personalities.
    fn requires_user_auth(&self) -> bool;
    /// The authorization URL carrying `state`.
    fn authorize_url(&self, state: &str) -> String;
    /// Exchanges a code for a token. Returns `InvalidCode` when the provider refuses the code.
    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError>;
}
