//! [`PluralKitAuthors`]: the `ProxyAuthors` port over PluralKit's API
//! (`GET {base}/messages/{id}` → `sender`), bounded in time, cached.
//!
//! PluralKit stores a proxied message right after re-posting it, so the bot may see the
//! re-post before PluralKit can answer for it: a 404 is asked again after a short delay while
//! the time budget lasts, then means "not a PluralKit message" (Tupperbox and other webhooks
//! stay author-by-webhook).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use troupe_domain::{Duration, MessageId, UserId};
use troupe_ports::{ProxyAuthors, ProxyError};

use crate::http::{self, SetupError};

/// PluralKit's public API.
pub const PLURALKIT_API: &str = "https://api.pluralkit.me/v2";

/// Settings of the PluralKit client.
#[derive(Debug, Clone)]
pub struct PluralKitConfig {
    /// The API base, e.g. [`PLURALKIT_API`] (no trailing slash needed).
    pub base_url: String,
    /// Longest time one lookup takes, retries of a 404 included.
    pub timeout: Duration,
    /// Wait before asking again after a 404 (PluralKit may not have stored the message yet).
    pub not_found_retry: Duration,
    /// Most 404 retries.
    pub not_found_retries: u32,
    /// How long an answer (author or "not PluralKit's") is reused.
    pub cache_ttl: Duration,
    /// Most cached messages.
    pub max_entries: usize,
}

impl Default for PluralKitConfig {
    fn default() -> Self {
        Self {
            base_url: PLURALKIT_API.to_owned(),
            timeout: Duration::from_millis(2000),
            not_found_retry: Duration::from_millis(400),
            not_found_retries: 2,
            cache_ttl: Duration::from_secs(10 * 60),
            max_entries: 10_000,
        }
    }
}

/// The PluralKit client.
pub struct PluralKitAuthors {
    http: reqwest::Client,
    config: PluralKitConfig,
    cache: Mutex<HashMap<MessageId, (Instant, Option<UserId>)>>,
}

impl fmt::Debug for PluralKitAuthors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluralKitAuthors")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A cached answer: the author, or `None` for "not PluralKit's".
struct Cached {
    author: Option<UserId>,
}

/// What one request said.
enum Answer {
    Sender(UserId),
    NotFound,
}

impl PluralKitAuthors {
    /// A client for `config`; `InvalidUrl` when the base URL is not http(s).
    pub fn new(config: PluralKitConfig) -> Result<Self, SetupError> {
        http::check_url(&config.base_url, "TROUPE_PLURALKIT_URL")?;
        let http = http::client(config.timeout)?;
        Ok(Self {
            http,
            config,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, message: MessageId) -> Option<Cached> {
        let ttl = self.config.cache_ttl;
        lock(&self.cache)
            .get(&message)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, author)| Cached { author: *author })
    }

    fn remember(&self, message: MessageId, user: Option<UserId>) {
        let ttl = self.config.cache_ttl;
        let mut cache = lock(&self.cache);
        if cache.len() >= self.config.max_entries.max(1) {
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= self.config.max_entries.max(1) {
                cache.clear();
            }
        }
        cache.insert(message, (Instant::now(), user));
    }

    async fn ask(&self, message: MessageId, left: Duration) -> Result<Answer, ProxyError> {
        let url = format!(
            "{}/messages/{}",
            self.config.base_url.trim_end_matches('/'),
            message.get()
        );
        let response = self.http.get(url).timeout(left).send().await.map_err(|e| {
            if e.is_timeout() {
                ProxyError::Timeout
            } else {
                ProxyError::Unavailable("cannot connect".into())
            }
        })?;
        let status = response.status();
        match status.as_u16() {
            200 => {}
            404 => return Ok(Answer::NotFound),
            429 => return Err(ProxyError::RateLimited),
            500..=599 => return Err(ProxyError::Unavailable(format!("HTTP {status}"))),
            _ => return Err(ProxyError::Unexpected(format!("HTTP {status}"))),
        }
        let body = http::read_body(response).await.map_err(|e| match e {
            http::BodyError::Timeout => ProxyError::Timeout,
            _ => ProxyError::Unexpected("unreadable answer".into()),
        })?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| ProxyError::Unexpected("an answer that is not JSON".into()))?;
        let sender = value
            .get("sender")
            .and_then(|s| match s {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .and_then(|id| UserId::new(id).ok())
            .ok_or_else(|| ProxyError::Unexpected("an answer without a sender".into()))?;
        Ok(Answer::Sender(sender))
    }
}

#[async_trait]
impl ProxyAuthors for PluralKitAuthors {
    async fn real_author(&self, message: MessageId) -> Result<Option<UserId>, ProxyError> {
        if let Some(known) = self.cached(message) {
            return Ok(known.author);
        }
        let budget = self.config.timeout;
        let retry = self.config.not_found_retry;
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(ProxyError::Timeout);
            }
            match self.ask(message, left).await? {
                Answer::Sender(user) => {
                    self.remember(message, Some(user));
                    return Ok(Some(user));
                }
                Answer::NotFound => {
                    let left = budget.saturating_sub(started.elapsed());
                    if retries >= self.config.not_found_retries || left <= retry {
                        self.remember(message, None);
                        return Ok(None);
                    }
                    retries += 1;
                    tokio::time::sleep(retry).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_that_is_not_http_is_refused_naming_the_setting() {
        let config = PluralKitConfig {
            base_url: "ftp://pk".into(),
            ..PluralKitConfig::default()
        };
        assert_eq!(
            PluralKitAuthors::new(config).err(),
            Some(SetupError::InvalidUrl("TROUPE_PLURALKIT_URL"))
        );
    }
}
