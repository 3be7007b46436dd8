//! A fake OAuth 2.0 authorization server on loopback (authorization-code grant):
//! `GET /oauth/authorize` redirects to the redirect URL with a fresh code and the `state`;
//! `POST /oauth/token` exchanges a code once for a bearer token.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct OAuthState {
    client_id: String,
    client_secret: String,
    /// code → state it was issued for.
    codes: HashMap<String, String>,
    issued: Vec<String>,
    token_requests: Vec<HashMap<String, String>>,
    expires_in: Option<u64>,
    unavailable: usize,
    next: u64,
}

impl OAuthState {
    fn new_code(&mut self, state: &str) -> String {
        self.next += 1;
        let code = format!("code-{}-{}", self.next, state.len());
        self.codes.insert(code.clone(), state.to_owned());
        code
    }
}

/// The fake authorization server. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeOAuthServer {
    addr: SocketAddr,
    state: Arc<Mutex<OAuthState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOAuthServer {
    /// Starts on an ephemeral loopback port, accepting this client. Tokens live 30 days
    /// (`expires_in` = 2,592,000) unless changed.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(OAuthState {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            expires_in: Some(30 * 86_400),
            ..OAuthState::default()
        }));
        let app = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .with_state(Arc::clone(&state));
        let (addr, task) = crate::loopback::serve(app).await;
        Self { addr, state, task }
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("http://{}/oauth/authorize", self.addr)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    /// A user approving the request carrying `state`: the code the redirect would carry.
    pub fn approve(&self, state: &str) -> String {
        lock(&self.state).new_code(state)
    }

    /// Sets the `expires_in` of issued tokens (`None`: the field is left out).
    pub fn set_expires_in(&self, secs: Option<u64>) {
        lock(&self.state).expires_in = secs;
    }

    /// The next `n` token requests answer 503.
    pub fn fail_next(&self, n: usize) {
        lock(&self.state).unavailable = n;
    }

    /// Every access token issued, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state).issued.clone()
    }

    /// Every token request's form fields, oldest first.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        lock(&self.state).token_requests.clone()
    }
}

async fn authorize(
    State(state): State<Arc<Mutex<OAuthState>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    let (Some(client), Some(redirect), Some(st)) = (
        query.get("client_id"),
        query.get("redirect_uri"),
        query.get("state"),
    ) else {
        return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
    };
    if *client != s.client_id || query.get("response_type").map(String::as_str) != Some("code") {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let code = s.new_code(st);
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{sep}code={code}&state={st}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn token(State(state): State<Arc<Mutex<OAuthState>>>, body: String) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let mut s = lock(&state);
    s.token_requests.push(form.clone());
    if s.unavailable > 0 {
        s.unavailable -= 1;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("client_id") != s.client_id || field("client_secret") != s.client_secret {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type") != "authorization_code" {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if s.codes.remove(field("code")).is_none() {
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    s.next += 1;
    let token = format!("tok-{:08}-secret", s.next);
    s.issued.push(token.clone());
    let mut body = json!({"access_token": token, "token_type": "Bearer", "scope": "chat"});
    if let Some(expires_in) = s.expires_in {
        body["expires_in"] = json!(expires_in);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": code}).to_string(),
    )
        .into_response()
}
