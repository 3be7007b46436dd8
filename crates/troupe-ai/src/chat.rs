//! [`OpenAiChat`]: the `AiChat` port over an OpenAI-compatible `POST {base}/chat/completions`.

use std::fmt;

use async_trait::async_trait;
use serde_json::{Value, json};
use troupe_domain::Duration;
use troupe_ports::{AiChat, AiError, ChatMessage, ChatRequest, ChatRole};

use crate::http::{self, BodyError, SetupError};

/// Settings of the chat client.
#[derive(Clone)]
pub struct ChatConfig {
    /// The API base, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended).
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` (unless a user token replaces it, see below).
    pub api_key: Option<secrecy::SecretString>,
    /// The model of requests that name none.
    pub default_model: String,
    /// The time budget of one request: the longest a caller waits for the answer or the error,
    /// every attempt and every wait between attempts included (`TROUPE_AI_TIMEOUT_MS`). A retry
    /// that cannot start within it is not made: the last error is returned at once.
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Retries after a 429, a 5xx or a refused connection (0: none).
    pub max_retries: u32,
    /// First backoff delay; doubles with each retry.
    pub backoff: Duration,
    /// Longest backoff delay, and the longest `Retry-After` honoured: a longer one ends the
    /// request at once with `RateLimited`.
    pub max_backoff: Duration,
    /// Header carrying the user's own token when a request has one. `None`: the user's token
    /// replaces the API key as the bearer token.
    pub user_token_header: Option<String>,
    /// Models that accept image parts (`*` = all). Images for other models are passed as their
    /// URLs in the text.
    pub vision_models: Vec<String>,
    /// `max_tokens` of every request, when set.
    pub max_tokens: Option<u32>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            default_model: "gpt-4o-mini".to_owned(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 2,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            user_token_header: None,
            vision_models: Vec::new(),
            max_tokens: None,
        }
    }
}

impl fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("default_model", &self.default_model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("user_token_header", &self.user_token_header)
            .field("vision_models", &self.vision_models)
            .finish_non_exhaustive()
    }
}

impl ChatConfig {
    fn supports_images(&self, model: &str) -> bool {
        self.vision_models
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(model))
    }
}

/// The OpenAI-compatible chat client.
pub struct OpenAiChat {
    http: reqwest::Client,
    endpoint: String,
    config: ChatConfig,
}

impl fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One attempt's failure: retry (after at least this long) or give up.
enum Attempt {
    Retry(AiError, Duration),
    Final(AiError),
}

impl OpenAiChat {
    /// A client for `config`. Fails when the base URL is not http(s) or the key or header
    /// name cannot be sent.
    pub fn new(config: ChatConfig) -> Result<Self, SetupError> {
        http::check_url(&config.base_url, "TROUPE_AI_BASE_URL")?;
        if let Some(key) = &config.api_key
            && reqwest::header::HeaderValue::from_str(&format!(
                "Bearer {}",
                secrecy::ExposeSecret::expose_secret(key)
            ))
            .is_err()
        {
            return Err(SetupError::InvalidHeader("TROUPE_AI_API_KEY"));
        }
        if let Some(name) = &config.user_token_header
            && reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return Err(SetupError::InvalidHeader("TROUPE_AI_USER_TOKEN_HEADER"));
        }
        let http = http::client(config.connect_timeout)?;
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            endpoint,
            config,
        })
    }

    /// The JSON body of `request`.
    fn body(&self, request: &ChatRequest) -> Value {
        let model = request
            .model
            .clone()
            .unwrap_or_else(|| self.config.default_model.clone());
        let images = self.config.supports_images(&model);
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| message_json(m, images))
            .collect();
        let mut body = json!({ "model": model, "messages": messages });
        if let Some(max) = self.config.max_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    }

    async fn attempt(
        &self,
        request: &ChatRequest,
        body: &[u8],
        attempt: u32,
        remaining: Duration,
    ) -> Result<String, Attempt> {
        let mut builder = self
            .http
            .post(&self.endpoint)
            .timeout(remaining)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        let user_token = request.user_token.as_ref().map(|t| t.expose().to_owned());
        let bearer = match (&user_token, &self.config.user_token_header) {
            (Some(token), None) => Some(token.clone()),
            _ => self
                .config
                .api_key
                .as_ref()
                .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned()),
        };
        if let Some(bearer) = bearer {
            builder = builder.bearer_auth(bearer);
        }
        if let (Some(token), Some(header)) = (user_token, &self.config.user_token_header) {
            builder = builder.header(header.as_str(), token);
        }
        let backoff = http::backoff(self.config.backoff, attempt, self.config.max_backoff);
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(Attempt::Final(AiError::Timeout)),
            Err(e) => {
                tracing::debug!(connect = e.is_connect(), attempt, "AI request failed");
                return Err(Attempt::Retry(AiError::Unavailable, backoff));
            }
        };
        let status = response.status();
        tracing::debug!(status = status.as_u16(), attempt, "AI answered");
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = http::retry_after(&response);
            let error = AiError::RateLimited { retry_after };
            return Err(match retry_after {
                Some(wait) if wait > self.config.max_backoff => Attempt::Final(error),
                Some(wait) => Attempt::Retry(error, wait.max(backoff)),
                None => Attempt::Retry(error, backoff),
            });
        }
        if status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::GATEWAY_TIMEOUT
        {
            return Err(Attempt::Retry(AiError::Timeout, backoff));
        }
        if status.is_server_error() {
            return Err(Attempt::Retry(AiError::Unavailable, backoff));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(Attempt::Final(AiError::Unauthorized));
        }
        if status.is_client_error() {
            let body = http::read_body(response).await.unwrap_or_default();
            return Err(Attempt::Final(client_error(status.as_u16(), &body)));
        }
        if !status.is_success() {
            return Err(Attempt::Final(AiError::Unexpected(format!(
                "the AI provider answered status {}",
                status.as_u16()
            ))));
        }
        let body = match http::read_body(response).await {
            Ok(body) => body,
            Err(BodyError::Timeout) => return Err(Attempt::Final(AiError::Timeout)),
            Err(BodyError::TooLarge) => {
                return Err(Attempt::Final(AiError::Unexpected(
                    "the AI answer is too large".into(),
                )));
            }
            Err(BodyError::Broken) => return Err(Attempt::Retry(AiError::Unavailable, backoff)),
        };
        parse_answer(&body).map_err(Attempt::Final)
    }
}

#[async_trait]
impl AiChat for OpenAiChat {
    async fn complete(&self, request: ChatRequest) -> Result<String, AiError> {
        let body = self.body(&request).to_string().into_bytes();
        // One budget for the whole request: attempts and the waits between them.
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let mut attempt = 0;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(AiError::Timeout);
            }
            let outcome =
                tokio::time::timeout(remaining, self.attempt(&request, &body, attempt, remaining))
                    .await
                    .unwrap_or(Err(Attempt::Final(AiError::Timeout)));
            match outcome {
                Ok(text) => return Ok(text),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Retry(error, _)) if attempt >= self.config.max_retries => {
                    return Err(error);
                }
                Err(Attempt::Retry(error, wait)) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if wait >= left {
                        // The retry could not start within the budget: end now, truthfully.
                        tracing::info!(%error, attempt, wait_ms = wait.as_millis() as u64, "AI retry beyond the time budget; giving up");
                        return Err(error);
                    }
                    tracing::info!(%error, attempt, wait_ms = wait.as_millis() as u64, "AI request retried");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// A 4xx other than 401/403/408/429, read from its OpenAI-style error body (the body text is
/// only matched, never passed on: it may echo the request).
pub(crate) fn client_error(status: u16, body: &[u8]) -> AiError {
    let text = String::from_utf8_lossy(body).to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if status == 413
        || has(&[
            "context_length_exceeded",
            "contextwindowexceeded",
            "context length",
            "context window",
            "maximum context",
            "too many tokens",
            "prompt is too long",
        ])
    {
        return AiError::ContextTooLong;
    }
    if has(&[
        "model_not_found",
        "model not found",
        "invalid model",
        "unknown model",
        "no such model",
        "does not exist",
    ]) || (status == 404 && text.contains("model"))
    {
        return AiError::UnknownModel;
    }
    AiError::Rejected(status)
}

fn role(role: ChatRole) -> &'static str {
    match role {
        ChatRole::System => "system",
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
    }
}

/// One message as JSON: text content, or text + `image_url` parts when images are supported.
fn message_json(message: &ChatMessage, images: bool) -> Value {
    if message.images.is_empty() {
        return json!({ "role": role(message.role), "content": message.content });
    }
    if images {
        let mut parts = vec![json!({ "type": "text", "text": message.content })];
        parts.extend(
            message
                .images
                .iter()
                .map(|url| json!({ "type": "image_url", "image_url": { "url": url } })),
        );
        return json!({ "role": role(message.role), "content": parts });
    }
    let mut content = message.content.clone();
    for url in &message.images {
        content.push_str("\n[attached image: ");
        content.push_str(url);
        content.push(']');
    }
    json!({ "role": role(message.role), "content": content })
}

/// The answer text of a chat-completions body: `choices[0].message.content` as a string or as
/// text parts. Unknown fields are ignored; missing content is `EmptyAnswer`; a body that is
/// not JSON or not an object is `Unexpected`.
pub(crate) fn parse_answer(body: &[u8]) -> Result<String, AiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AiError::Unexpected("the AI answer is not valid JSON".into()))?;
    if !value.is_object() {
        return Err(AiError::Unexpected(
            "the AI answer is not a JSON object".into(),
        ));
    }
    let content = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .and_then(|choice| {
            choice
                .get("message")
                .and_then(|m| m.get("content"))
                .or_else(|| choice.get("text"))
        });
    let text = match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                other => other.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        Err(AiError::EmptyAnswer)
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_tolerantly() {
        let cases: &[(&str, Result<&str, AiError>)] = &[
            (r#"{"choices":[{"message":{"content":"hi"}}]}"#, Ok("hi")),
            (
                r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}],"x":1}"#,
                Ok("ab"),
            ),
            (r#"{"choices":[{"text":"legacy"}]}"#, Ok("legacy")),
            (r#"{"choices":[]}"#, Err(AiError::EmptyAnswer)),
            (
                r#"{"choices":[{"message":{"content":null}}]}"#,
                Err(AiError::EmptyAnswer),
            ),
            (
                r#"{"choices":[{"message":{"content":"  "}}]}"#,
                Err(AiError::EmptyAnswer),
            ),
            ("{}", Err(AiError::EmptyAnswer)),
            (r#"{"choices":"what"}"#, Err(AiError::EmptyAnswer)),
        ];
        for (body, expected) in cases {
            assert_eq!(
                parse_answer(body.as_bytes())
                    .as_deref()
                    .map_err(Clone::clone),
                expected.clone(),
                "{body}"
            );
        }
        for garbage in ["", "not json", "[1,2]", "\"text\"", "{\"choices\": [ oops"] {
            assert!(
                matches!(
                    parse_answer(garbage.as_bytes()),
                    Err(AiError::Unexpected(_))
                ),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn client_errors_are_told_apart_by_status_and_body() {
        let cases: &[(u16, &str, AiError)] = &[
            (
                400,
                r#"{"error":{"code":"context_length_exceeded","message":"This model's maximum context length is 8192 tokens"}}"#,
                AiError::ContextTooLong,
            ),
            (
                400,
                r#"{"error":{"message":"litellm.ContextWindowExceededError: too long"}}"#,
                AiError::ContextTooLong,
            ),
            (413, "", AiError::ContextTooLong),
            (
                404,
                r#"{"error":{"code":"model_not_found","message":"The model `gpt-9` does not exist"}}"#,
                AiError::UnknownModel,
            ),
            (
                400,
                r#"{"error":{"message":"Invalid model name passed in model=gpt-9"}}"#,
                AiError::UnknownModel,
            ),
            (
                400,
                r#"{"error":{"message":"temperature must be at most 2"}}"#,
                AiError::Rejected(400),
            ),
            (404, "not found", AiError::Rejected(404)),
            (422, "", AiError::Rejected(422)),
        ];
        for (status, body, expected) in cases {
            assert_eq!(
                &client_error(*status, body.as_bytes()),
                expected,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn images_become_parts_only_for_vision_models() {
        let m = ChatMessage {
            role: ChatRole::User,
            content: "look".into(),
            images: vec!["https://img/1.png".into()],
        };
        let parts = message_json(&m, true);
        assert_eq!(parts["content"][1]["image_url"]["url"], "https://img/1.png");
        let text = message_json(&m, false);
        assert_eq!(text["content"], "look\n[attached image: https://img/1.png]");
    }

    #[test]
    fn the_api_key_is_never_in_debug_output() {
        let config = ChatConfig {
            api_key: Some("sk-very-secret".into()),
            ..ChatConfig::default()
        };
        assert!(!format!("{config:?}").contains("sk-very-secret"));
    }
}
