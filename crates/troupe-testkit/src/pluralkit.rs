//! A fake PluralKit API on loopback: `GET /v2/messages/{id}` answers what PluralKit's
//! "get proxied message information" endpoint answers (`sender` is the real author's id, as a
//! string), 404 for a message it did not proxy. It can lag (404 for the first lookups of a
//! message, as PluralKit does until it has stored the message), fail with 500, limit with 429
//! or hang. Needs a tokio runtime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PluralKitMode {
    /// Answers from its messages.
    #[default]
    Normal,
    /// 500 to everything.
    Down,
    /// 429 to everything.
    RateLimited,
    /// Never answers (the connection stays open).
    Hang,
}

#[derive(Debug, Default)]
struct PkState {
    /// message id → (sender id, lookups answered 404 before it is known).
    messages: HashMap<u64, (u64, usize)>,
    /// The sender of every message not in `messages`, when set.
    everyone: Option<u64>,
    mode: PluralKitMode,
    /// Every message id looked up, in order.
    lookups: Vec<String>,
}

/// The fake PluralKit API. Dropping it stops the server.
#[derive(Debug)]
pub struct FakePluralKit {
    addr: SocketAddr,
    state: Arc<Mutex<PkState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakePluralKit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakePluralKit {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(PkState::default()));
        let app = Router::new()
            .route("/v2/messages/{id}", get(message))
            .with_state(Arc::clone(&state));
        let (addr, task) = crate::loopback::serve(app).await;
        Self { addr, state, task }
    }

    /// The API base URL (what `TROUPE_PLURALKIT_URL` takes): `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// PluralKit proxied `message` for `sender`.
    pub fn proxied(&self, message: u64, sender: u64) {
        self.proxied_after(message, sender, 0);
    }

    /// Like [`Self::proxied`], but the first `misses` lookups answer 404 (not stored yet).
    pub fn proxied_after(&self, message: u64, sender: u64, misses: usize) {
        lock(&self.state).messages.insert(message, (sender, misses));
    }

    /// Every message it was not told about was proxied for `sender` (a test whose proxied
    /// messages are all one user's, with ids it does not know in advance).
    pub fn all_from(&self, sender: u64) {
        lock(&self.state).everyone = Some(sender);
    }

    /// Sets how every request is answered.
    pub fn set_mode(&self, mode: PluralKitMode) {
        lock(&self.state).mode = mode;
    }

    /// The message ids looked up, oldest first.
    pub fn lookups(&self) -> Vec<String> {
        lock(&self.state).lookups.clone()
    }
}

async fn message(State(state): State<Arc<Mutex<PkState>>>, Path(id): Path<String>) -> Response {
    let mode = {
        let mut s = lock(&state);
        s.lookups.push(id.clone());
        s.mode
    };
    match mode {
        PluralKitMode::Normal => {}
        PluralKitMode::Down => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
        PluralKitMode::RateLimited => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                json!({"message": "429: too many requests", "code": 0}).to_string(),
            )
                .into_response();
        }
        PluralKitMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
    }
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            json!({"message": "Message not found.", "code": 20006}).to_string(),
        )
            .into_response()
    };
    let Ok(message_id) = id.parse::<u64>() else {
        return not_found();
    };
    let mut s = lock(&state);
    let everyone = s.everyone;
    let sender = match s.messages.get_mut(&message_id) {
        Some((_, misses)) if *misses > 0 => {
            *misses -= 1;
            return not_found();
        }
        Some((sender, _)) => *sender,
        None => match everyone {
            Some(sender) => sender,
            None => return not_found(),
        },
    };
    let body = json!({
        "timestamp": "2025-06-14T10:30:00.000000Z",
        "id": message_id.to_string(),
        "original": message_id.saturating_sub(1).to_string(),
        "sender": sender.to_string(),
        "channel": "1",
        "guild": "1",
        "system": null,
        "member": null,
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An in-process [`troupe_ports::ProxyAuthors`]: answers what it was told per message
/// (`Ok(None)` — not a PluralKit message — by default), or never answers when hanging; counts
/// lookups.
#[derive(Debug, Default)]
pub struct FakeProxyAuthors {
    answers: Mutex<
        HashMap<
            troupe_domain::MessageId,
            Result<Option<troupe_domain::UserId>, troupe_ports::ProxyError>,
        >,
    >,
    hang: std::sync::atomic::AtomicBool,
    lookups: std::sync::atomic::AtomicUsize,
}

impl FakeProxyAuthors {
    pub fn new() -> Self {
        Self::default()
    }

    /// `message` was proxied for `user`.
    pub fn proxied(&self, message: troupe_domain::MessageId, user: troupe_domain::UserId) {
        lock(&self.answers).insert(message, Ok(Some(user)));
    }

    /// Looking `message` up fails with `error`.
    pub fn fail(&self, message: troupe_domain::MessageId, error: troupe_ports::ProxyError) {
        lock(&self.answers).insert(message, Err(error));
    }

    /// Every lookup from now on never completes.
    pub fn hang(&self) {
        self.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many lookups were made.
    pub fn lookups(&self) -> usize {
        self.lookups.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl troupe_ports::ProxyAuthors for FakeProxyAuthors {
    async fn real_author(
        &self,
        message: troupe_domain::MessageId,
    ) -> Result<Option<troupe_domain::UserId>, troupe_ports::ProxyError> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        lock(&self.answers)
            .get(&message)
            .cloned()
            .unwrap_or(Ok(None))
    }
}
