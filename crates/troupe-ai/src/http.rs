//! What the three clients share: building a reqwest client, reading bounded bodies, URL
//! encoding, `Retry-After` and backoff.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use troupe_domain::Duration;

/// Why a client could not be built. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A URL setting is not an absolute http(s) URL.
    #[error("{0} must be an http:// or https:// URL")]
    InvalidUrl(&'static str),
    /// A header name or value cannot be sent (e.g. a line break in a key).
    #[error("{0} cannot be sent as an HTTP header")]
    InvalidHeader(&'static str),
    /// The HTTP client (TLS) could not be set up.
    #[error("cannot build the HTTP client")]
    Client,
}

/// A reqwest client with the given connect timeout and rustls (ring) for TLS.
pub(crate) fn client(connect_timeout: Duration) -> Result<reqwest::Client, SetupError> {
    // reqwest is built without a default crypto provider; whoever installs one first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("troupe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| SetupError::Client)
}

/// Checks that `url` is an absolute http(s) URL.
pub(crate) fn check_url(url: &str, setting: &'static str) -> Result<(), SetupError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && reqwest::Url::parse(url).is_ok();
    if ok {
        Ok(())
    } else {
        Err(SetupError::InvalidUrl(setting))
    }
}

/// Largest body read from a provider; larger bodies are treated as garbage.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// The body, or `None` when it is larger than [`MAX_BODY`] or the connection fails.
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(BodyError::Timeout),
            Err(_) => return Err(BodyError::Broken),
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooLarge,
    Timeout,
    Broken,
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: backoff applies then).
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Exponential backoff with jitter: `base · 2^attempt`, ±25 %, at most `max`.
pub(crate) fn backoff(base: Duration, attempt: u32, max: Duration) -> Duration {
    let exp = base.saturating_mul(1_u32 << attempt.min(16));
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter = (hasher.finish() % 51) as u32; // 0..=50
    let scaled = exp.saturating_mul(75 + jitter) / 100;
    scaled.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b/é?&=~"), "a%20b%2F%C3%A9%3F%26%3D~");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        let first = backoff(base, 0, max);
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        let third = backoff(base, 2, max);
        assert!(third >= Duration::from_millis(300) && third <= Duration::from_millis(500));
        assert_eq!(backoff(base, 30, max), max);
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(check_url("http://127.0.0.1:1/v1", "X").is_ok());
        assert!(check_url("https://api.example.com/v1", "X").is_ok());
        assert_eq!(
            check_url("ftp://x", "TROUPE_AI_BASE_URL"),
            Err(SetupError::InvalidUrl("TROUPE_AI_BASE_URL"))
        );
        assert!(check_url("http://", "X").is_err());
    }
}
