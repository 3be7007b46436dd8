//! The OpenAI-compatible chat client against the loopback fake provider.

use std::time::{Duration, Instant};

use troupe_ai::{ChatConfig, OpenAiChat};
use troupe_domain::auth::AccessToken;
use troupe_ports::{AiChat, AiError, ChatMessage, ChatRequest, ChatRole};
use troupe_testkit::ai::{AiReply, FakeAiServer};

const KEY: &str = "sk-test-key-0000";

fn config(server: &FakeAiServer) -> ChatConfig {
    ChatConfig {
        base_url: server.base_url(),
        api_key: Some(KEY.into()),
        default_model: "default-model".into(),
        // The budget of a whole request; generous so a loaded machine does not eat it.
        timeout: Duration::from_millis(1_000),
        max_retries: 2,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(2),
        ..ChatConfig::default()
    }
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        model: None,
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: "You are Bob.".into(),
                images: vec![],
            },
            ChatMessage {
                role: ChatRole::User,
                content: text.into(),
                images: vec![],
            },
        ],
        user_token: None,
    }
}

#[tokio::test]
async fn an_answer_is_read_from_the_first_choice_and_the_request_is_well_formed() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::answer("Hello, Ann."));
    assert_eq!(
        chat.complete(request("Ann: hi")).await.unwrap(),
        "Hello, Ann."
    );
    let sent = &server.chats()[0];
    assert_eq!(
        sent.authorization.as_deref(),
        Some("Bearer sk-test-key-0000")
    );
    assert_eq!(sent.model(), Some("default-model"));
    let messages = sent.messages();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[0]["content"], "You are Bob.");
    assert_eq!(messages[1]["role"], "user");
    assert_eq!(messages[1]["content"], "Ann: hi");
}

#[tokio::test]
async fn the_personality_model_wins_over_the_default() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    let mut r = request("hi");
    r.model = Some("special/model-1".into());
    chat.complete(r).await.unwrap();
    assert_eq!(server.chats()[0].model(), Some("special/model-1"));
}

#[tokio::test]
async fn content_parts_and_unknown_fields_are_tolerated() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::AnswerParts(vec!["one ".into(), "two".into()]));
    assert_eq!(chat.complete(request("x")).await.unwrap(), "one two");
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_retry_after_delay() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(ChatConfig {
        timeout: Duration::from_secs(3),
        ..config(&server)
    })
    .unwrap();
    server.push(AiReply::TooManyRequests {
        retry_after_secs: Some(1),
    });
    server.push(AiReply::answer("finally"));
    let started = Instant::now();
    assert_eq!(chat.complete(request("x")).await.unwrap(), "finally");
    let chats = server.chats();
    assert_eq!(chats.len(), 2);
    let gap = chats[1].at.duration_since(chats[0].at);
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_ends_the_request_as_rate_limited() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::TooManyRequests {
        retry_after_secs: Some(600),
    });
    let error = chat.complete(request("x")).await.unwrap_err();
    assert_eq!(
        error,
        AiError::RateLimited {
            retry_after: Some(Duration::from_secs(600))
        }
    );
    assert_eq!(server.chat_count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported_as_unavailable() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::Status(502));
    server.push(AiReply::answer("recovered"));
    assert_eq!(chat.complete(request("x")).await.unwrap(), "recovered");

    server.set_default(Some(AiReply::Status(500)));
    assert_eq!(chat.complete(request("x")).await, Err(AiError::Unavailable));
    assert_eq!(server.chat_count(), 2 + 3, "one try and two retries");
}

#[tokio::test]
async fn a_slow_provider_times_out_without_retrying() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::delayed(2000, AiReply::answer("too late")));
    let started = Instant::now();
    assert_eq!(chat.complete(request("x")).await, Err(AiError::Timeout));
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(server.chat_count(), 1);
}

#[tokio::test]
async fn garbage_and_empty_answers_are_errors_not_panics() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(config(&server)).unwrap();
    server.push(AiReply::Malformed);
    assert!(matches!(
        chat.complete(request("x")).await,
        Err(AiError::Unexpected(_))
    ));
    server.push(AiReply::EmptyChoices);
    assert_eq!(chat.complete(request("x")).await, Err(AiError::EmptyAnswer));
    server.push(AiReply::NullContent);
    assert_eq!(chat.complete(request("x")).await, Err(AiError::EmptyAnswer));
    server.push(AiReply::Status(401));
    assert_eq!(
        chat.complete(request("x")).await,
        Err(AiError::Unauthorized)
    );
    server.push(AiReply::Status(404));
    assert_eq!(
        chat.complete(request("x")).await,
        Err(AiError::Rejected(404)),
        "a 404 that names no model is the provider refusing the request"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let server = FakeAiServer::start().await;
    let mut c = config(&server);
    drop(server);
    c.base_url = "http://127.0.0.1:9/v1".into();
    c.max_retries = 1;
    let chat = OpenAiChat::new(c).unwrap();
    assert_eq!(chat.complete(request("x")).await, Err(AiError::Unavailable));
}

#[tokio::test]
async fn a_user_token_replaces_the_key_or_goes_in_its_configured_header() {
    let server = FakeAiServer::start().await;
    let token = AccessToken::parse("user-token-abc").unwrap();
    let chat = OpenAiChat::new(config(&server)).unwrap();
    let mut r = request("x");
    r.user_token = Some(token.clone());
    chat.complete(r.clone()).await.unwrap();
    assert_eq!(
        server.chats()[0].authorization.as_deref(),
        Some("Bearer user-token-abc")
    );

    let with_header = OpenAiChat::new(ChatConfig {
        user_token_header: Some("X-User-Token".into()),
        ..config(&server)
    })
    .unwrap();
    with_header.complete(r).await.unwrap();
    let sent = &server.chats()[1];
    assert_eq!(
        sent.authorization.as_deref(),
        Some("Bearer sk-test-key-0000")
    );
    assert_eq!(
        sent.headers.get("x-user-token").map(String::as_str),
        Some("user-token-abc")
    );
}

#[tokio::test]
async fn images_are_image_parts_for_vision_models_and_text_otherwise() {
    let server = FakeAiServer::start().await;
    let mut r = request("look at this");
    r.messages[1].images = vec!["https://cdn.example/cat.png".into()];
    let plain = OpenAiChat::new(config(&server)).unwrap();
    plain.complete(r.clone()).await.unwrap();
    let vision = OpenAiChat::new(ChatConfig {
        vision_models: vec!["default-model".into()],
        ..config(&server)
    })
    .unwrap();
    vision.complete(r).await.unwrap();
    let chats = server.chats();
    let text = &chats[0].messages()[1]["content"];
    assert!(
        text.as_str()
            .unwrap()
            .contains("https://cdn.example/cat.png")
    );
    let parts = &chats[1].messages()[1]["content"];
    assert_eq!(parts[0]["type"], "text");
    assert_eq!(parts[1]["type"], "image_url");
    assert_eq!(parts[1]["image_url"]["url"], "https://cdn.example/cat.png");
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let e = OpenAiChat::new(ChatConfig {
        base_url: "ftp://x".into(),
        ..ChatConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("TROUPE_AI_BASE_URL"), "{e}");
    let e = OpenAiChat::new(ChatConfig {
        base_url: "http://127.0.0.1:1".into(),
        api_key: Some("line\nbreak".into()),
        ..ChatConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("TROUPE_AI_API_KEY"), "{e}");
    assert!(!e.to_string().contains("line"));
}

/// A client with a budget of `budget_ms` and the default retry settings (2 retries, 500 ms
/// backoff, `Retry-After` honoured up to 20 s).
fn budgeted(server: &FakeAiServer, budget_ms: u64) -> OpenAiChat {
    OpenAiChat::new(ChatConfig {
        base_url: server.base_url(),
        api_key: Some(KEY.into()),
        default_model: "default-model".into(),
        timeout: Duration::from_millis(budget_ms),
        ..ChatConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_at_once_with_the_rate_limit_error() {
    let server = FakeAiServer::start().await;
    let chat = budgeted(&server, 3_000);
    server.set_default(Some(AiReply::TooManyRequests {
        retry_after_secs: Some(10),
    }));
    let started = Instant::now();
    let error = chat.complete(request("x")).await.unwrap_err();
    assert!(matches!(error, AiError::RateLimited { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.chat_count(),
        1,
        "no retry that could not finish in time"
    );
}

#[tokio::test]
async fn slow_server_errors_and_their_retries_stay_within_the_budget() {
    let server = FakeAiServer::start().await;
    let chat = budgeted(&server, 3_000);
    server.set_default(Some(AiReply::delayed(2_000, AiReply::Status(500))));
    let started = Instant::now();
    let error = chat.complete(request("x")).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, AiError::Unavailable | AiError::Timeout),
        "{error:?}"
    );
    // The budget is the limit; a little slack for the scheduler, none for another attempt.
    assert!(waited < Duration::from_millis(3_500), "waited {waited:?}");
}

#[tokio::test]
async fn a_hanging_provider_is_a_timeout_at_the_budget() {
    let server = FakeAiServer::start().await;
    let chat = budgeted(&server, 1_000);
    server.set_default(Some(AiReply::delayed(60_000, AiReply::answer("never"))));
    let started = Instant::now();
    assert_eq!(chat.complete(request("x")).await, Err(AiError::Timeout));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    assert!(waited < Duration::from_millis(1_500), "waited {waited:?}");
}

#[tokio::test]
async fn provider_errors_are_reported_as_what_they_are() {
    let server = FakeAiServer::start().await;
    let chat = OpenAiChat::new(ChatConfig {
        max_retries: 0,
        ..config(&server)
    })
    .unwrap();
    let cases: Vec<(AiReply, AiError)> = vec![
        (AiReply::Status(408), AiError::Timeout),
        (AiReply::Status(504), AiError::Timeout),
        (
            AiReply::Error {
                status: 400,
                code: "context_length_exceeded".into(),
                message: "This model's maximum context length is 8192 tokens.".into(),
            },
            AiError::ContextTooLong,
        ),
        (
            AiReply::Error {
                status: 404,
                code: "model_not_found".into(),
                message: "The model `gpt-9` does not exist.".into(),
            },
            AiError::UnknownModel,
        ),
        (
            AiReply::Error {
                status: 400,
                code: "invalid_value".into(),
                message: "temperature is out of range".into(),
            },
            AiError::Rejected(400),
        ),
        (AiReply::Status(401), AiError::Unauthorized),
        (AiReply::Status(503), AiError::Unavailable),
        (AiReply::Malformed, AiError::Unexpected(String::new())),
    ];
    for (reply, expected) in cases {
        server.push(reply.clone());
        let got = chat.complete(request("x")).await.unwrap_err();
        match (&got, &expected) {
            (AiError::Unexpected(_), AiError::Unexpected(_)) => {}
            _ => assert_eq!(got, expected, "{reply:?}"),
        }
    }
}
