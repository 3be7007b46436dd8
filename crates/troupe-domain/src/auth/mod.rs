//! Per-user authentication with the AI provider, age verification, and the pending state of
//! the OAuth authorization-code flow.

use std::fmt;

use crate::ids::UserId;
use crate::time::{Duration, Timestamp};

/// Tokens live 30 days unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 86_400);
/// `auth status` warns when fewer than 7 days are left.
pub const RENEWAL_WARNING: Duration = Duration::from_secs(7 * 86_400);
/// A started authorization must be completed within 15 minutes.
pub const PENDING_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a text is not a usable token or state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is empty")]
    EmptyToken,
    #[error("the token is too long")]
    TokenTooLong,
    #[error("the token contains whitespace or control characters")]
    TokenCharacters,
}

/// A user's access token. Its `Debug` and `Display` never show it; call [`Self::expose`] only
/// where it is sent to the provider or encrypted for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub const MAX_LEN: usize = 4096;

    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(AuthError::EmptyToken);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(AuthError::TokenTooLong);
        }
        if !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AuthError::TokenCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A user's stored authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuth {
    pub user: UserId,
    pub token: AccessToken,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl UserAuth {
    /// A token issued at `now`, living `ttl`.
    pub fn issue(user: UserId, token: AccessToken, now: Timestamp, ttl: Duration) -> Self {
        Self {
            user,
            token,
            created_at: now,
            expires_at: now.plus(ttl),
        }
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    pub fn age(&self, now: Timestamp) -> Duration {
        now.since(self.created_at)
    }

    pub fn time_left(&self, now: Timestamp) -> Duration {
        self.expires_at.since(now)
    }

    /// Whole days left, rounded down.
    pub fn days_left(&self, now: Timestamp) -> u64 {
        self.time_left(now).as_secs() / 86_400
    }

    /// True while valid but with fewer than 7 days left.
    pub fn needs_renewal_warning(&self, now: Timestamp) -> bool {
        !self.is_expired(now) && self.time_left(now) < RENEWAL_WARNING
    }
}

/// A record that a user is age-verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeVerification {
    pub user: UserId,
    pub verified_at: Timestamp,
}

/// The `state` of an OAuth authorization in flight, bound to the user who started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub state: String,
    pub user: UserId,
    pub created_at: Timestamp,
}

impl PendingAuthorization {
    pub fn new(state: String, user: UserId, now: Timestamp) -> Self {
        Self {
            state,
            user,
            created_at: now,
        }
    }

    /// Usable by `user` until 15 minutes after it was created.
    pub fn is_valid_for(&self, user: UserId, now: Timestamp) -> bool {
        self.user == user && now.since(self.created_at) <= PENDING_TTL
    }
}

/// Strips Discord `||spoiler||` markup (and surrounding whitespace) from a pasted code.
pub fn strip_spoiler(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix("||")
        .and_then(|r| r.strip_suffix("||"))
        .map_or(t, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(ttl_days: u64) -> UserAuth {
        UserAuth::issue(
            UserId::new(7).unwrap(),
            AccessToken::parse("s3cr3t-token").unwrap(),
            Timestamp::EPOCH,
            Duration::from_secs(ttl_days * 86_400),
        )
    }

    #[test]
    fn tokens_are_never_shown_by_debug_or_display() {
        let a = auth(30);
        assert_eq!(a.token.to_string(), "***");
        assert!(!format!("{a:?}").contains("s3cr3t"));
        assert!(!format!("{:#?}", a.token).contains("s3cr3t"));
        assert_eq!(a.token.expose(), "s3cr3t-token");
    }

    #[test]
    fn token_text_is_validated() {
        assert_eq!(AccessToken::parse(""), Err(AuthError::EmptyToken));
        assert_eq!(AccessToken::parse("   "), Err(AuthError::EmptyToken));
        assert_eq!(AccessToken::parse("a b"), Err(AuthError::TokenCharacters));
        assert_eq!(
            AccessToken::parse("a\u{200b}b"),
            Err(AuthError::TokenCharacters)
        );
        assert_eq!(
            AccessToken::parse(&"t".repeat(10_000)),
            Err(AuthError::TokenTooLong)
        );
        assert!(AccessToken::parse(" abc.DEF-123_~ ").is_ok());
    }

    #[test]
    fn tokens_expire_after_their_ttl_and_warn_in_the_last_week() {
        let a = UserAuth::issue(
            UserId::new(7).unwrap(),
            AccessToken::parse("t").unwrap(),
            Timestamp::EPOCH,
            DEFAULT_TOKEN_TTL,
        );
        let day = |d: u64| Timestamp::EPOCH.plus(Duration::from_secs(d * 86_400));
        let cases = [
            (0, false, 30, false),
            (22, false, 8, false),
            (23, false, 7, false),
            (24, false, 6, true),
            (29, false, 1, true),
            (30, true, 0, false),
            (40, true, 0, false),
        ];
        for (at, expired, left, warn) in cases {
            assert_eq!(a.is_expired(day(at)), expired, "day {at}");
            assert_eq!(a.days_left(day(at)), left, "day {at}");
            assert_eq!(a.needs_renewal_warning(day(at)), warn, "day {at}");
        }
        assert_eq!(a.age(day(3)), Duration::from_secs(3 * 86_400));
        assert!(auth(1).needs_renewal_warning(Timestamp::EPOCH));
    }

    #[test]
    fn pending_authorizations_are_bound_to_their_user_and_expire() {
        let p = PendingAuthorization::new("abc".into(), UserId::new(1).unwrap(), Timestamp::EPOCH);
        assert!(p.is_valid_for(
            UserId::new(1).unwrap(),
            Timestamp::EPOCH.plus(Duration::from_secs(60))
        ));
        assert!(!p.is_valid_for(UserId::new(2).unwrap(), Timestamp::EPOCH));
        assert!(!p.is_valid_for(
            UserId::new(1).unwrap(),
            Timestamp::EPOCH.plus(Duration::from_secs(16 * 60))
        ));
    }

    #[test]
    fn spoiler_markup_is_stripped_from_codes() {
        let cases = [
            ("||abc||", "abc"),
            ("  || abc ||  ", "abc"),
            ("abc", "abc"),
            ("||abc", "||abc"),
            ("||||", ""),
        ];
        for (raw, code) in cases {
            assert_eq!(strip_spoiler(raw), code, "{raw:?}");
        }
    }
}
