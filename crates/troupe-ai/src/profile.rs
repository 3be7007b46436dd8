//! [`HttpProfileSource`]: the `ProfileSource` port over an HTTP JSON profile service, cached,
//! with at most one request at a time and a minimum spacing between requests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use troupe_domain::Duration;
use troupe_domain::personality::{AvatarUrl, DisplayName, ErrorMessage};
use troupe_ports::{ProfileError, ProfileSource, SourceProfile};

use crate::http::{self, SetupError};

/// Settings of the profile source.
#[derive(Debug, Clone)]
pub struct ProfileConfig {
    /// URL template with `{name}` (percent-encoded in), e.g. `https://p.example/api/{name}`.
    pub url_template: String,
    /// Longest wait for one profile.
    pub timeout: Duration,
    /// How long a fetched profile is reused.
    pub cache_ttl: Duration,
    /// How long "unknown name" is remembered.
    pub miss_ttl: Duration,
    /// Minimum time between two requests to the service.
    pub min_interval: Duration,
    /// Most cached names (the oldest entries are dropped beyond).
    pub max_entries: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            url_template: String::new(),
            timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(60 * 60),
            miss_ttl: Duration::from_secs(5 * 60),
            min_interval: Duration::from_millis(250),
            max_entries: 10_000,
        }
    }
}

/// The HTTP profile source.
pub struct HttpProfileSource {
    http: reqwest::Client,
    config: ProfileConfig,
    cache: Mutex<HashMap<String, (Instant, Option<SourceProfile>)>>,
    /// Held while a request is in flight; holds when the last one started.
    pacer: tokio::sync::Mutex<Option<Instant>>,
}

impl fmt::Debug for HttpProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProfileSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl HttpProfileSource {
    /// A source for `config`. Fails when the template is not an http(s) URL with `{name}`.
    pub fn new(config: ProfileConfig) -> Result<Self, SetupError> {
        if !config.url_template.contains("{name}") {
            return Err(SetupError::InvalidUrl("TROUPE_PROFILE_URL"));
        }
        http::check_url(
            &config.url_template.replace("{name}", "x"),
            "TROUPE_PROFILE_URL",
        )?;
        Ok(Self {
            http: http::client(config.timeout)?,
            config,
            cache: Mutex::new(HashMap::new()),
            pacer: tokio::sync::Mutex::new(None),
        })
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, (Instant, Option<SourceProfile>)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh cache entry: `Ok` with the profile or the remembered miss; `Err(())` when the
    /// name must be fetched.
    fn cached(&self, key: &str) -> Result<Option<SourceProfile>, ()> {
        let cache = self.cache();
        let (at, profile) = cache.get(key).ok_or(())?;
        let ttl = if profile.is_some() {
            self.config.cache_ttl
        } else {
            self.config.miss_ttl
        };
        if at.elapsed() < ttl {
            Ok(profile.clone())
        } else {
            Err(())
        }
    }

    fn remember(&self, key: String, profile: Option<SourceProfile>) {
        let mut cache = self.cache();
        if cache.len() >= self.config.max_entries
            && let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key, (Instant::now(), profile));
    }

    async fn request(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        let url = self
            .config
            .url_template
            .replace("{name}", &http::encode(name));
        let response = match self
            .http
            .get(url)
            .timeout(self.config.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(timeout = e.is_timeout(), "profile request failed");
                return Err(ProfileError::Unavailable);
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ProfileError::Unavailable);
        }
        if !status.is_success() {
            return Err(ProfileError::Unexpected(format!(
                "the profile source answered status {}",
                status.as_u16()
            )));
        }
        let body = http::read_body(response)
            .await
            .map_err(|_| ProfileError::Unavailable)?;
        parse_profile(&body, name).map(Some)
    }
}

#[async_trait]
impl ProfileSource for HttpProfileSource {
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        let key = key(name);
        if key.is_empty() {
            return Ok(None);
        }
        if let Ok(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let mut last = self.pacer.lock().await;
        // Another caller may have fetched it while this one waited for its turn.
        if let Ok(hit) = self.cached(&key) {
            return Ok(hit);
        }
        if let Some(at) = *last
            && let Some(wait) = self.config.min_interval.checked_sub(at.elapsed())
        {
            tokio::time::sleep(wait).await;
        }
        *last = Some(Instant::now());
        let result = self
            .request(&name.split_whitespace().collect::<Vec<_>>().join(" "))
            .await;
        drop(last);
        if let Ok(profile) = &result {
            self.remember(key, profile.clone());
        }
        result
    }
}

/// A profile from JSON, tolerant of field spellings (`display_name`/`displayName`/`name`,
/// `avatar_url`/`avatarUrl`/`avatar`, `error_message`/`errorMessage`) and of invalid optional
/// fields (dropped). A missing or invalid display name falls back to `name`.
pub(crate) fn parse_profile(body: &[u8], name: &str) -> Result<SourceProfile, ProfileError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ProfileError::Unexpected("the profile is not valid JSON".into()))?;
    if !value.is_object() {
        return Err(ProfileError::Unexpected(
            "the profile is not a JSON object".into(),
        ));
    }
    let text = |fields: &[&str]| {
        fields
            .iter()
            .find_map(|f| value.get(*f).and_then(Value::as_str))
            .map(str::to_owned)
    };
    let display_name = text(&["display_name", "displayName", "name"])
        .and_then(|d| DisplayName::parse(&d).ok())
        .or_else(|| DisplayName::parse(name).ok())
        .ok_or_else(|| ProfileError::Unexpected("the profile has no usable display name".into()))?;
    Ok(SourceProfile {
        display_name,
        avatar_url: text(&["avatar_url", "avatarUrl", "avatar"])
            .and_then(|a| AvatarUrl::parse(&a).ok()),
        error_message: text(&["error_message", "errorMessage"])
            .and_then(|e| ErrorMessage::parse(&e).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_tolerantly() {
        let p = parse_profile(
            br#"{"displayName":"Angel Dust","avatar":"https://x/a.png","errorMessage":"Oops!","extra":[1]}"#,
            "angel",
        )
        .unwrap();
        assert_eq!(p.display_name.as_str(), "Angel Dust");
        assert_eq!(p.avatar_url.unwrap().as_str(), "https://x/a.png");
        assert_eq!(p.error_message.unwrap().as_str(), "Oops!");
        let bare =
            parse_profile(br#"{"avatar_url":"not a url","display_name":""}"#, "bob").unwrap();
        assert_eq!(bare.display_name.as_str(), "bob");
        assert!(bare.avatar_url.is_none());
        assert!(matches!(
            parse_profile(b"<html>", "bob"),
            Err(ProfileError::Unexpected(_))
        ));
        assert!(matches!(
            parse_profile(b"[]", "bob"),
            Err(ProfileError::Unexpected(_))
        ));
    }
}
