//! The profile-source client and the OAuth client against their loopback fakes.

use std::time::Duration;

use troupe_ai::{HttpProfileSource, OAuthClient, OAuthConfig, ProfileConfig};
use troupe_ports::{AuthProvider, AuthProviderError, ProfileError, ProfileSource};
use troupe_testkit::ai::{FakeAiServer, FakeOAuthServer, FakeProfile};

fn profiles(server: &FakeAiServer, min_interval_ms: u64) -> HttpProfileSource {
    HttpProfileSource::new(ProfileConfig {
        url_template: server.profile_url(),
        timeout: Duration::from_secs(2),
        min_interval: Duration::from_millis(min_interval_ms),
        ..ProfileConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_known_profile_is_fetched_once_and_then_served_from_the_cache() {
    let server = FakeAiServer::start().await;
    server.set_profile(
        "angel dust",
        FakeProfile {
            display_name: "Angel Dust".into(),
            avatar_url: Some("https://cdn.example/angel.png".into()),
            error_message: Some("Ugh, my head.".into()),
        },
    );
    let source = profiles(&server, 0);
    let p = source.fetch("Angel  Dust").await.unwrap().unwrap();
    assert_eq!(p.display_name.as_str(), "Angel Dust");
    assert_eq!(
        p.avatar_url.unwrap().as_str(),
        "https://cdn.example/angel.png"
    );
    assert_eq!(p.error_message.unwrap().as_str(), "Ugh, my head.");
    source.fetch("angel dust").await.unwrap().unwrap();
    let hits = server.profile_hits();
    assert_eq!(hits.len(), 1, "the second fetch is cached");
    assert_eq!(
        hits[0].0, "Angel Dust",
        "the name is sent with its spaces collapsed, percent-encoded"
    );
}

#[tokio::test]
async fn unknown_names_are_none_and_remembered() {
    let server = FakeAiServer::start().await;
    let source = profiles(&server, 0);
    assert_eq!(source.fetch("nobody").await.unwrap(), None);
    assert_eq!(source.fetch("nobody").await.unwrap(), None);
    assert_eq!(server.profile_hits().len(), 1);
}

#[tokio::test]
async fn an_unavailable_source_is_reported_and_not_cached() {
    let server = FakeAiServer::start().await;
    server.set_profile(
        "bob",
        FakeProfile {
            display_name: "Bob".into(),
            ..FakeProfile::default()
        },
    );
    server.fail_profiles(1);
    let source = profiles(&server, 0);
    assert_eq!(source.fetch("bob").await, Err(ProfileError::Unavailable));
    assert!(source.fetch("bob").await.unwrap().is_some());
}

#[tokio::test]
async fn requests_to_the_source_are_spaced_politely() {
    let server = FakeAiServer::start().await;
    let source = std::sync::Arc::new(profiles(&server, 100));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let source = std::sync::Arc::clone(&source);
        tasks.push(tokio::spawn(async move {
            source.fetch(&format!("name{i}")).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut at: Vec<_> = server
        .profile_hits()
        .into_iter()
        .map(|(_, at)| at)
        .collect();
    at.sort();
    assert_eq!(at.len(), 4);
    // The source starts requests 100 ms apart; the server's arrival times add the machine's
    // scheduling jitter, so a gap is judged with a margin of half the interval (unpaced
    // requests arrive within a few milliseconds of each other).
    for pair in at.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(50), "gap {gap:?}");
    }
    let span = at[3].duration_since(at[0]);
    assert!(span >= Duration::from_millis(250), "span {span:?}");
}

fn oauth(server: &FakeOAuthServer, secret: &str) -> OAuthClient {
    OAuthClient::new(OAuthConfig {
        authorize_url: server.authorize_url(),
        token_url: server.token_url(),
        client_id: "troupe".into(),
        client_secret: secret.into(),
        redirect_url: "http://127.0.0.1/show-code".into(),
        scope: None,
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

#[tokio::test]
async fn a_code_is_exchanged_once_for_a_token_with_its_expiry() {
    let server = FakeOAuthServer::start("troupe", "client-secret-1").await;
    let client = oauth(&server, "client-secret-1");
    assert!(client.requires_user_auth());
    let url = client.authorize_url("state-123");
    assert!(url.starts_with(&server.authorize_url()));
    assert!(url.contains("state=state-123") && url.contains("client_id=troupe"));
    let code = server.approve("state-123");
    let issued = client.exchange_code(&code).await.unwrap();
    assert_eq!(issued.token.expose(), server.issued_tokens()[0]);
    assert_eq!(issued.expires_in, Some(Duration::from_secs(30 * 86_400)));
    let form = &server.token_requests()[0];
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], "http://127.0.0.1/show-code");
    assert_eq!(
        client.exchange_code(&code).await.unwrap_err(),
        AuthProviderError::InvalidCode,
        "codes work once"
    );
    assert_eq!(
        client.exchange_code("made-up").await.unwrap_err(),
        AuthProviderError::InvalidCode
    );
}

#[tokio::test]
async fn provider_trouble_is_unavailable_and_bad_client_credentials_unexpected() {
    let server = FakeOAuthServer::start("troupe", "client-secret-1").await;
    let client = oauth(&server, "client-secret-1");
    server.fail_next(1);
    let code = server.approve("s");
    assert_eq!(
        client.exchange_code(&code).await.unwrap_err(),
        AuthProviderError::Unavailable
    );
    let wrong = oauth(&server, "wrong-secret");
    let error = wrong.exchange_code(&server.approve("s")).await.unwrap_err();
    assert!(matches!(error, AuthProviderError::Unexpected(_)));
    assert!(!error.to_string().contains("wrong-secret"));
    server.set_expires_in(None);
    let issued = client.exchange_code(&server.approve("s")).await.unwrap();
    assert_eq!(
        issued.expires_in, None,
        "the configured default applies then"
    );
}
