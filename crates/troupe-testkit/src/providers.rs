//! Fakes of the profile source and the OAuth provider.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use troupe_domain::Duration;
use troupe_domain::auth::AccessToken;
use troupe_ports::{
    AuthProvider, AuthProviderError, IssuedToken, ProfileError, ProfileSource, SourceProfile,
};

/// Locks a mutex, ignoring poisoning (a panicking test must not break the next assertion).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The case-insensitive key of a name: whitespace collapsed, lower-cased.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A [`ProfileSource`] that knows the profiles it was given (names case-insensitive), answers
/// `Ok(None)` for any other name, and records every name it was asked for.
#[derive(Debug, Default)]
pub struct FakeProfileSource {
    profiles: Mutex<HashMap<String, SourceProfile>>,
    fetches: Mutex<Vec<String>>,
    failing: AtomicBool,
}

impl FakeProfileSource {
    /// A source that knows nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// This source, also knowing `name` (builder style).
    pub fn with(self, name: impl AsRef<str>, profile: SourceProfile) -> Self {
        self.insert(name, profile);
        self
    }

    /// Teaches the source `name`, replacing any earlier profile of that name.
    pub fn insert(&self, name: impl AsRef<str>, profile: SourceProfile) {
        lock(&self.profiles).insert(name_key(name.as_ref()), profile);
    }

    /// While on, every fetch returns `ProfileError::Unavailable`.
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    /// Every name fetched so far, as asked, oldest first (failed fetches included).
    pub fn fetches(&self) -> Vec<String> {
        lock(&self.fetches).clone()
    }
}

#[async_trait]
impl ProfileSource for FakeProfileSource {
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        lock(&self.fetches).push(name.to_owned());
        if self.failing.load(Ordering::SeqCst) {
            return Err(ProfileError::Unavailable);
        }
        Ok(lock(&self.profiles).get(&name_key(name)).cloned())
    }
}

/// What [`FakeAuthProvider::accept_code`] takes as the token: an [`AccessToken`], or text that
/// must parse as one (test code, so an invalid token panics).
pub trait IntoAccessToken {
    /// The token.
    fn into_access_token(self) -> AccessToken;
}

impl IntoAccessToken for AccessToken {
    fn into_access_token(self) -> AccessToken {
        self
    }
}

impl IntoAccessToken for &str {
    fn into_access_token(self) -> AccessToken {
        AccessToken::parse(self).expect("a test token must be a valid access token")
    }
}

impl IntoAccessToken for String {
    fn into_access_token(self) -> AccessToken {
        self.as_str().into_access_token()
    }
}

/// An [`AuthProvider`] whose codes are declared by the test. Codes are single-use, like real
/// OAuth codes: a second exchange of the same code returns `InvalidCode`.
#[derive(Debug)]
pub struct FakeAuthProvider {
    requires_user_auth: bool,
    codes: Mutex<HashMap<String, IssuedToken>>,
    failing: AtomicBool,
}

impl FakeAuthProvider {
    /// A provider that does (or does not) require users to authenticate.
    pub fn new(requires_user_auth: bool) -> Self {
        Self {
            requires_user_auth,
            codes: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
        }
    }

    /// Makes `code` exchangeable (once) for `token`, living `expires_in` when given.
    pub fn accept_code(
        &self,
        code: impl Into<String>,
        token: impl IntoAccessToken,
        expires_in: Option<Duration>,
    ) {
        let token = token.into_access_token();
        lock(&self.codes).insert(code.into(), IssuedToken { token, expires_in });
    }

    /// While on, every exchange returns `AuthProviderError::Unavailable` (and uses no code).
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }
}

#[async_trait]
impl AuthProvider for FakeAuthProvider {
    fn requires_user_auth(&self) -> bool {
        self.requires_user_auth
    }

    fn authorize_url(&self, state: &str) -> String {
        format!("http://127.0.0.1/oauth/authorize?state={state}")
    }

    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuthProviderError::Unavailable);
        }
        lock(&self.codes)
            .remove(code)
            .ok_or(AuthProviderError::InvalidCode)
    }
}
