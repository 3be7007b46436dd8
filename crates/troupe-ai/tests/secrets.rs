//! The API key, the client secret, users' tokens and codes never reach a log line or an error,
//! whatever happens (every log level captured, every failure path taken).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use troupe_ai::{ChatConfig, OAuthClient, OAuthConfig, OpenAiChat};
use troupe_domain::auth::AccessToken;
use troupe_ports::{AiChat, AuthProvider, ChatMessage, ChatRequest, ChatRole};
use troupe_testkit::ai::{AiReply, FakeAiServer, FakeOAuthServer};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRETS: [&str; 4] = [
    "sk-SECRET-api-key",
    "usertoken-SECRET",
    "client-SECRET-xyz",
    "SECRET",
];

#[tokio::test]
async fn no_secret_appears_in_logs_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(ChatConfig {
        base_url: server.base_url(),
        api_key: Some(SECRETS[0].into()),
        timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(5),
        ..ChatConfig::default()
    })
    .unwrap();
    let request = ChatRequest {
        model: None,
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "hi".into(),
            images: vec![],
        }],
        user_token: Some(AccessToken::parse(SECRETS[1]).unwrap()),
    };
    let mut errors = Vec::new();
    for reply in [
        AiReply::Status(500),
        AiReply::Status(500),
        AiReply::Status(500),
        AiReply::Status(401),
        AiReply::TooManyRequests {
            retry_after_secs: Some(3600),
        },
        AiReply::Malformed,
        AiReply::EmptyChoices,
        AiReply::delayed(1000, AiReply::answer("late")),
    ] {
        server.push(reply);
    }
    for _ in 0..6 {
        if let Err(e) = chat.complete(request.clone()).await {
            errors.push(format!("{e} {e:?}"));
        }
    }
    let oauth_server = FakeOAuthServer::start("troupe", SECRETS[2]).await;
    let oauth = OAuthClient::new(OAuthConfig {
        authorize_url: oauth_server.authorize_url(),
        token_url: oauth_server.token_url(),
        client_id: "troupe".into(),
        client_secret: SECRETS[2].into(),
        redirect_url: "http://127.0.0.1/code".into(),
        scope: None,
        timeout: Duration::from_secs(1),
    })
    .unwrap();
    let code = oauth_server.approve("st");
    let token = oauth.exchange_code(&code).await.unwrap();
    errors.push(format!("{token:?}"));
    for bad in [code.as_str(), "code-SECRET-guess"] {
        if let Err(e) = oauth.exchange_code(bad).await {
            errors.push(format!("{e} {e:?}"));
        }
    }
    errors.push(format!("{chat:?} {oauth:?}"));

    assert!(errors.len() >= 7, "every failure path ran: {errors:?}");
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("AI request retried") && logs.contains("AI answered"),
        "the logs were captured: {logs}"
    );
    let issued = oauth_server.issued_tokens();
    for text in errors.iter().chain(std::iter::once(&logs)) {
        for secret in SECRETS
            .iter()
            .copied()
            .chain(issued.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(!text.contains(&code), "the code leaked in {text}");
    }
}
