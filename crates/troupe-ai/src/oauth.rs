//! [`OAuthClient`]: the `AuthProvider` port with the OAuth 2.0 authorization-code grant
//! (client credentials in the form body).

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use troupe_domain::Duration;
use troupe_domain::auth::AccessToken;
use troupe_ports::{AuthProvider, AuthProviderError, IssuedToken};

use crate::http::{self, SetupError};

/// Settings of the OAuth client.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The authorization endpoint users open.
    pub authorize_url: String,
    /// The token endpoint codes are exchanged at.
    pub token_url: String,
    /// The registered client id.
    pub client_id: String,
    /// The client secret (never printed).
    pub client_secret: secrecy::SecretString,
    /// The registered redirect URL (where the provider shows the code).
    pub redirect_url: String,
    /// Space-separated scopes, when the provider wants them.
    pub scope: Option<String>,
    /// Longest wait for the token endpoint.
    pub timeout: Duration,
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The OAuth 2.0 authorization-code client. Users must authenticate when it is configured.
pub struct OAuthClient {
    http: reqwest::Client,
    config: OAuthConfig,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// A client for `config`. Fails when an endpoint or the redirect URL is not http(s).
    pub fn new(config: OAuthConfig) -> Result<Self, SetupError> {
        http::check_url(&config.authorize_url, "TROUPE_OAUTH_AUTHORIZE_URL")?;
        http::check_url(&config.token_url, "TROUPE_OAUTH_TOKEN_URL")?;
        http::check_url(&config.redirect_url, "TROUPE_OAUTH_REDIRECT_URL")?;
        Ok(Self {
            http: http::client(config.timeout)?,
            config,
        })
    }
}

#[async_trait]
impl AuthProvider for OAuthClient {
    fn requires_user_auth(&self) -> bool {
        true
    }

    fn authorize_url(&self, state: &str) -> String {
        let c = &self.config;
        let sep = if c.authorize_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut url = format!(
            "{}{sep}response_type=code&client_id={}&redirect_uri={}&state={}",
            c.authorize_url,
            http::encode(&c.client_id),
            http::encode(&c.redirect_url),
            http::encode(state)
        );
        if let Some(scope) = &c.scope {
            url.push_str("&scope=");
            url.push_str(&http::encode(scope));
        }
        url
    }

    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError> {
        let c = &self.config;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &c.redirect_url),
            ("client_id", &c.client_id),
            (
                "client_secret",
                secrecy::ExposeSecret::expose_secret(&c.client_secret),
            ),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", http::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let response = match self
            .http
            .post(&c.token_url)
            .timeout(c.timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => {
                tracing::info!(timeout = e.is_timeout(), "token request failed");
                return Err(AuthProviderError::Unavailable);
            }
        };
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "token endpoint answered");
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(AuthProviderError::Unavailable);
        }
        let body = http::read_body(response)
            .await
            .map_err(|_| AuthProviderError::Unavailable)?;
        let value: Option<Value> = serde_json::from_slice(&body).ok();
        let error = value
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str);
        if !status.is_success() {
            return Err(match error {
                Some("invalid_client" | "unauthorized_client") => AuthProviderError::Unexpected(
                    "the provider refused the client credentials".into(),
                ),
                _ if status == reqwest::StatusCode::BAD_REQUEST
                    || status == reqwest::StatusCode::UNAUTHORIZED =>
                {
                    AuthProviderError::InvalidCode
                }
                _ => AuthProviderError::Unexpected(format!(
                    "the token endpoint answered status {}",
                    status.as_u16()
                )),
            });
        }
        parse_token(value.as_ref())
    }
}

/// The token of a successful token response: `access_token`, and `expires_in` in seconds (a
/// number or a numeric string) when present.
fn parse_token(value: Option<&Value>) -> Result<IssuedToken, AuthProviderError> {
    let value = value.ok_or_else(|| {
        AuthProviderError::Unexpected("the token response is not valid JSON".into())
    })?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .and_then(|t| AccessToken::parse(t).ok())
        .ok_or_else(|| {
            AuthProviderError::Unexpected("the token response has no usable access token".into())
        })?;
    let expires_in = value.get("expires_in").and_then(|e| match e {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    Ok(IssuedToken {
        token,
        expires_in: expires_in.filter(|s| *s > 0).map(Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_are_read_tolerantly() {
        let ok: Value =
            serde_json::from_str(r#"{"access_token":"abc","expires_in":"3600","x":1}"#).unwrap();
        let t = parse_token(Some(&ok)).unwrap();
        assert_eq!(t.token.expose(), "abc");
        assert_eq!(t.expires_in, Some(Duration::from_secs(3600)));
        let no_expiry: Value = serde_json::from_str(r#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(parse_token(Some(&no_expiry)).unwrap().expires_in, None);
        let bad: Value = serde_json::from_str(r#"{"access_token":"a b"}"#).unwrap();
        assert!(matches!(
            parse_token(Some(&bad)),
            Err(AuthProviderError::Unexpected(_))
        ));
        assert!(matches!(
            parse_token(None),
            Err(AuthProviderError::Unexpected(_))
        ));
    }

    #[test]
    fn the_authorize_url_carries_the_state_and_the_client() {
        let client = OAuthClient::new(OAuthConfig {
            authorize_url: "https://p.example/authorize?x=1".into(),
            token_url: "https://p.example/token".into(),
            client_id: "troupe bot".into(),
            client_secret: "cs-secret".into(),
            redirect_url: "https://p.example/show-code".into(),
            scope: Some("chat read".into()),
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        let url = client.authorize_url("st4te");
        assert_eq!(
            url,
            "https://p.example/authorize?x=1&response_type=code&client_id=troupe%20bot&redirect_uri=https%3A%2F%2Fp.example%2Fshow-code&state=st4te&scope=chat%20read"
        );
        assert!(!format!("{client:?}").contains("cs-secret"));
    }
}
