//! REST errors: which failures are worth another try, and the mapping onto [`PlatformError`].

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
    pub const ALREADY_ACKNOWLEDGED: u64 = 40_060;
}

/// A failed REST call.
#[derive(Debug)]
pub enum RestError {
    Http(twilight_http::Error),
    /// The body of a successful response did not decode.
    Decode(String),
    /// No slot of the global limit came free within the longest wait.
    Busy,
    /// Discord (or what stands in front of it) answered a message create with an error
    /// status: Discord's JSON error code and message when the body had them.
    Status {
        status: u16,
        code: Option<u64>,
        message: String,
    },
    /// A message create failed in transport: connect, TLS, I/O, a malformed response.
    Transport(String),
    /// A message create got no complete response within the REST timeout.
    TimedOut,
    /// A message create's global slot went stale while it waited for its route's limit; it
    /// never left.
    Cancelled,
}

/// The longest Discord error message kept in a [`RestError::Status`].
const MESSAGE_MAX: usize = 200;

impl RestError {
    /// The error for a response of `status` with `body` (Discord's `{"code", "message"}` when
    /// it is JSON; an HTML page from a proxy keeps neither).
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            code: u64,
            #[serde(default)]
            message: String,
        }
        let (code, mut message) = match serde_json::from_slice::<Body>(body) {
            Ok(body) => (Some(body.code), body.message),
            Err(_) => (None, String::new()),
        };
        if message.len() > MESSAGE_MAX {
            let mut end = MESSAGE_MAX;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        Self::Status {
            status,
            code,
            message,
        }
    }
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
            // twilight's errors carry neither the token nor the path.
            Self::Http(e) => write!(f, "{e}"),
            Self::Decode(e) => write!(f, "undecodable response: {e}"),
            Self::Busy => f.write_str("Discord's global rate limit is busy"),
            Self::Status {
                status,
                code,
                message,
            } => {
                write!(f, "Discord answered {status}")?;
                match code {
                    Some(code) => write!(f, ": {message} (code {code})"),
                    None => Ok(()),
                }
            }
            Self::Transport(e) => write!(f, "request to Discord failed: {e}"),
            Self::TimedOut => f.write_str("request to Discord timed out"),
            Self::Cancelled => f.write_str("request cancelled before it left"),
        }
    }
}

impl std::error::Error for RestError {}

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
            Self::Status { code, .. } => *code,
            _ => None,
        }
    }

    /// The request was cancelled before it left (its global slot went stale).
    pub(crate) fn is_cancelled(&self) -> bool {
        match self {
            Self::Http(e) => matches!(e.kind(), ErrorType::RequestCanceled),
            Self::Cancelled => true,
            _ => false,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Self::Http(e) => match e.kind() {
                ErrorType::Response { status, .. } => Some(status.get()),
                _ => None,
            },
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request may have reached Discord and done its work although the answer
    /// says otherwise: server errors, timeouts and transport failures (an error body that is
    /// not Discord's JSON comes from a proxy or load balancer in front of Discord, like an HTML
    /// 502 page). Such failures are worth another try, but a post tried again after one may
    /// post twice unless it is made safe (a nonce, or a check). 4xx are not (429s are retried
    /// by twilight itself, after the wait Discord asks for).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Http(e) => match e.kind() {
                ErrorType::Response { status, .. } => status.is_server_error(),
                ErrorType::RequestError
                | ErrorType::RequestTimedOut
                | ErrorType::Parsing { .. } => true,
                _ => false,
            },
            Self::Status { status, .. } => *status >= 500,
            Self::Transport(_) | Self::TimedOut => true,
            Self::Decode(_) | Self::Busy | Self::Cancelled => false,
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
            _ if self.is_ambiguous() || matches!(self, Self::Busy) => PlatformError::Unavailable,
            // Still rate limited after the waits Discord asked for.
            (_, Some(429)) => PlatformError::Unavailable,
            _ => PlatformError::Unexpected(self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_global_limit_is_unavailable_and_never_ambiguous() {
        assert!(!RestError::Busy.is_ambiguous());
        assert_eq!(RestError::Busy.to_platform(), PlatformError::Unavailable);
        let decode = RestError::Decode("bad".into());
        assert!(!decode.is_ambiguous());
        assert!(matches!(decode.to_platform(), PlatformError::Unexpected(_)));
    }
}
