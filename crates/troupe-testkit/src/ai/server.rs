//! A fake OpenAI-compatible provider on loopback: `POST /v1/chat/completions` with scripted
//! replies (answers, delays, 429 with `Retry-After`, 5xx, malformed JSON, empty choices), and
//! `GET /profiles/{name}` as a profile source. Every request is recorded.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use troupe_domain::Duration;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One scripted reply of [`FakeAiServer`] to a chat-completion request.
#[derive(Debug, Clone)]
pub enum AiReply {
    /// 200 with this answer in `choices[0].message.content`.
    Answer(String),
    /// 200 with the answer as content parts (`[{type: text, text}]`) and unknown extra fields.
    AnswerParts(Vec<String>),
    /// Wait, then give the inner reply.
    Delay(Duration, Box<AiReply>),
    /// 429, with `Retry-After: <seconds>` when given.
    TooManyRequests { retry_after_secs: Option<u64> },
    /// This status with an OpenAI-style error body.
    Status(u16),
    /// This status with an OpenAI-style error body carrying this `code` and `message`.
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with `choices: []`.
    EmptyChoices,
    /// 200 with `content: null`.
    NullContent,
}

impl AiReply {
    /// An answer.
    pub fn answer(text: impl Into<String>) -> Self {
        Self::Answer(text.into())
    }

    /// `reply` after `millis` milliseconds.
    pub fn delayed(millis: u64, reply: AiReply) -> Self {
        Self::Delay(Duration::from_millis(millis), Box::new(reply))
    }
}

/// A chat-completion request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedChat {
    /// The `Authorization` header, as sent.
    pub authorization: Option<String>,
    /// Every header, names lower-cased (for per-user token headers).
    pub headers: HashMap<String, String>,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl RecordedChat {
    /// The `model` of the body.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    /// The `messages` of the body.
    pub fn messages(&self) -> Vec<Value> {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

/// A profile the fake profile source serves.
#[derive(Debug, Clone, Default)]
pub struct FakeProfile {
    /// `display_name`.
    pub display_name: String,
    /// `avatar_url`.
    pub avatar_url: Option<String>,
    /// `error_message`.
    pub error_message: Option<String>,
}

#[derive(Debug, Default)]
struct AiState {
    script: VecDeque<AiReply>,
    default: Option<AiReply>,
    chats: Vec<RecordedChat>,
    profiles: HashMap<String, FakeProfile>,
    profile_hits: Vec<(String, Instant)>,
    profile_failures: usize,
}

/// The fake provider. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeAiServer {
    addr: SocketAddr,
    state: Arc<Mutex<AiState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAiServer {
    /// Starts on an ephemeral loopback port. Without a script it echoes: `echo: <content of
    /// the last user message>`.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(AiState::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/profiles/{name}", get(profile))
            .with_state(Arc::clone(&state));
        let (addr, task) = crate::loopback::serve(app).await;
        Self { addr, state, task }
    }

    /// The base URL to configure (`http://127.0.0.1:<port>/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The profile URL template (`http://127.0.0.1:<port>/profiles/{name}`).
    pub fn profile_url(&self) -> String {
        format!("http://{}/profiles/{{name}}", self.addr)
    }

    /// Queues a reply (replies are used once, in order).
    pub fn push(&self, reply: AiReply) {
        lock(&self.state).script.push_back(reply);
    }

    /// The reply once the script is used up (`None`: echo).
    pub fn set_default(&self, reply: Option<AiReply>) {
        lock(&self.state).default = reply;
    }

    /// Every chat request received, oldest first.
    pub fn chats(&self) -> Vec<RecordedChat> {
        lock(&self.state).chats.clone()
    }

    /// Number of chat requests received.
    pub fn chat_count(&self) -> usize {
        lock(&self.state).chats.len()
    }

    /// Serves `profile` for `name` (case-insensitive).
    pub fn set_profile(&self, name: &str, profile: FakeProfile) {
        lock(&self.state)
            .profiles
            .insert(name.to_lowercase(), profile);
    }

    /// The next `n` profile requests answer 503.
    pub fn fail_profiles(&self, n: usize) {
        lock(&self.state).profile_failures = n;
    }

    /// Every profile request (name as requested, arrival time), oldest first.
    pub fn profile_hits(&self) -> Vec<(String, Instant)> {
        lock(&self.state).profile_hits.clone()
    }
}

async fn chat(
    State(state): State<Arc<Mutex<AiState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        })
        .unwrap_or_default();
    let reply = {
        let mut s = lock(&state);
        s.chats.push(RecordedChat {
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
            at: Instant::now(),
        });
        s.script
            .pop_front()
            .or_else(|| s.default.clone())
            .unwrap_or_else(|| AiReply::Answer(format!("echo: {last_user}")))
    };
    render(reply).await
}

async fn render(mut reply: AiReply) -> Response {
    loop {
        return match reply {
            AiReply::Delay(wait, next) => {
                tokio::time::sleep(wait).await;
                reply = *next;
                continue;
            }
            AiReply::Answer(text) => completion(&json!(text)),
            AiReply::AnswerParts(parts) => {
                let parts: Vec<Value> = parts
                    .iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect();
                completion(&Value::Array(parts))
            }
            AiReply::NullContent => completion(&Value::Null),
            AiReply::EmptyChoices => {
                json_response(StatusCode::OK, &json!({"id": "x", "choices": []}))
            }
            AiReply::Malformed => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"choices\": [ this is not json",
            )
                .into_response(),
            AiReply::TooManyRequests { retry_after_secs } => {
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({"error": {"message": "rate limited", "type": "rate_limit"}}),
                );
                if let Some(secs) = retry_after_secs
                    && let Ok(value) = secs.to_string().parse()
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            AiReply::Status(code) => json_response(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &json!({"error": {"message": "scripted failure", "type": "server_error"}}),
            ),
            AiReply::Error {
                status,
                code,
                message,
            } => json_response(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                &json!({"error": {"message": message, "type": "invalid_request_error", "code": code}}),
            ),
        };
    }
}

fn completion(content: &Value) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1,
            "model": "fake",
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        }),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn profile(State(state): State<Arc<Mutex<AiState>>>, Path(name): Path<String>) -> Response {
    let mut s = lock(&state);
    s.profile_hits.push((name.clone(), Instant::now()));
    if s.profile_failures > 0 {
        s.profile_failures -= 1;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match s.profiles.get(&name.to_lowercase()) {
        Some(p) => json_response(
            StatusCode::OK,
            &json!({
                "name": name,
                "display_name": p.display_name,
                "avatar_url": p.avatar_url,
                "error_message": p.error_message,
                "unknown_field": {"nested": true}
            }),
        ),
        None => json_response(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
    }
}
