//! REST errors: retrying what is worth retrying, and mapping the rest onto [`PlatformError`].

use std::future::Future;
use std::time::Duration;

use troupe_ports::PlatformError;
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;

/// Discord error codes the adapter reacts to.
pub mod code {
    pub const UNKNOWN_CHANNEL: u64 = 10_003;
    pub const UNKNOWN_MESSAGE: u64 = 10_008;
    pub const UNKNOWN_WEBHOOK: u64 = 10_015;
    pub const CANNOT_DM: u64 = 50_007;
    pub const MISSING_ACCESS: u64 = 50_001;
    pub const MISSING_PERMISSIONS: u64 = 50_013;
}

/// A failed REST call.
#[derive(Debug)]
pub enum RestError {
    Http(twilight_http::Error),
    /// The body of a successful response did not decode.
    Decode(String),
}

impl From<twilight_http::Error> for RestError {
    fn from(e: twilight_http::Error) -> Self {
        Self::Http(e)
    }
}

impl From<twilight_http::response::DeserializeBodyError> for RestError {
    fn from(e: twilight_http::response::DeserializeBodyError) -> Self {
        Self::Decode(e.to_string())
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // twilight's errors never contain the token.
            Self::Http(e) => write!(f, "{e}"),
            Self::Decode(e) => write!(f, "undecodable response: {e}"),
        }
    }
}

impl RestError {
    /// Discord's JSON error code, when the response carried one.
    pub fn discord_code(&self) -> Option<u64> {
        match self {
            Self::Http(e) => match e.kind() {
                ErrorType::Response {
                    error: ApiError::General(general),
                    ..
                } => Some(general.code),
                _ => None,
            },
            Self::Decode(_) => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Self::Http(e) => match e.kind() {
                ErrorType::Response { status, .. } => Some(status.get()),
                _ => None,
            },
            Self::Decode(_) => None,
        }
    }

    /// Server errors and transport failures are worth another try; 4xx are not (429s are
    /// retried by twilight itself, after the wait Discord asks for).
    fn is_transient(&self) -> bool {
        match self {
            Self::Http(e) => match e.kind() {
                ErrorType::Response { status, .. } => status.is_server_error(),
                // An error body that is not Discord's JSON comes from a proxy or load balancer
                // in front of Discord (an HTML 502 page): transient.
                ErrorType::RequestError
                | ErrorType::RequestTimedOut
                | ErrorType::Parsing { .. } => true,
                _ => false,
            },
            Self::Decode(_) => false,
        }
    }

    /// The port error for this failure.
    pub fn to_platform(&self) -> PlatformError {
        match (self.discord_code(), self.status()) {
            (Some(code::CANNOT_DM), _) => PlatformError::DmClosed,
            (Some(code::MISSING_PERMISSIONS | code::MISSING_ACCESS), _) | (_, Some(403)) => {
                PlatformError::MissingPermission(self.to_string())
            }
            (Some(code::UNKNOWN_MESSAGE | code::UNKNOWN_CHANNEL | code::UNKNOWN_WEBHOOK), _)
            | (_, Some(404)) => PlatformError::NotFound,
            _ if self.is_transient() => PlatformError::Unavailable,
            _ => PlatformError::Unexpected(self.to_string()),
        }
    }
}

/// Backoff between tries of a transient failure.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1200),
];

/// Spaces REST requests so that no sliding one-second window holds more than Discord's global
/// 50 requests (twilight's own limiter counts per fixed second, which lets two bursts meet).
#[derive(Debug)]
pub struct Pacer {
    next: tokio::sync::Mutex<tokio::time::Instant>,
    spacing: Duration,
}

impl Pacer {
    /// At most `per_second` requests in any one-second window.
    pub fn new(per_second: u32) -> Self {
        Self {
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            // A little over 1/n so the window never holds n + 1.
            spacing: Duration::from_micros(1_000_000 / u64::from(per_second.max(1)) + 500),
        }
    }

    /// Waits for this request's slot.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.spacing;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

static PACER: std::sync::OnceLock<Pacer> = std::sync::OnceLock::new();

/// Turns on pacing of every REST request of this process (with the REST rate limiter).
pub fn enable_pacing(per_second: u32) {
    let _ = PACER.set(Pacer::new(per_second));
}

/// Runs `call` until it succeeds, fails for good, or transient failures used up the retries.
pub async fn retry<T, F, Fut>(what: &'static str, mut call: F) -> Result<T, RestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RestError>>,
{
    let mut attempt = 0;
    loop {
        if let Some(pacer) = PACER.get() {
            pacer.wait().await;
        }
        match call().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_transient() && attempt < BACKOFF.len() => {
                tracing::warn!(request = what, error = %e, attempt, "Discord request failed; retrying");
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
