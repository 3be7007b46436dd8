//! Secrets cross the crate boundaries as `secrecy::SecretString` (issue 14): the Discord token,
//! the AI API key, the OAuth client secret, the admin token and the token keys. Whatever is
//! printed with `Debug` — the configuration, or the adapters' settings built from it, as a log
//! line or a panic message would print them — shows none of their values.

use std::collections::BTreeMap;
use std::time::Duration;

use troupe::config::{Config, Secret};
use troupe::run::{RunOptions, discord_config};

const DISCORD: &str = "discord-SECRET-token.abc.def";
const ADMIN: &str = "admin-SECRET-token-0123456789abcdefghij";
const AI_KEY: &str = "sk-SECRET-api-key";
const CLIENT_SECRET: &str = "client-SECRET-xyz";
const TOKEN_KEY: &str = "c2VjcmV0LWtleS1TRUNSRVQtMDEyMzQ1Njc4OWFiY2Q=";
const PREVIOUS_KEY: &str = "cHJldmlvdXMta2V5LVNFQ1JFVC0wMTIzNDU2Nzg5YWI=";

fn config() -> Config {
    let env: Vec<(String, String)> = [
        ("TROUPE_DATA_DIR", "/tmp/troupe-secrets-test"),
        ("DISCORD_TOKEN", DISCORD),
        ("TROUPE_ADMIN_TOKEN", ADMIN),
        ("TROUPE_AI_BASE_URL", "http://127.0.0.1:9/v1"),
        ("TROUPE_AI_API_KEY", AI_KEY),
        ("TROUPE_OAUTH_AUTHORIZE_URL", "http://127.0.0.1:9/authorize"),
        ("TROUPE_OAUTH_TOKEN_URL", "http://127.0.0.1:9/token"),
        ("TROUPE_OAUTH_CLIENT_ID", "troupe"),
        ("TROUPE_OAUTH_CLIENT_SECRET", CLIENT_SECRET),
        ("TROUPE_OAUTH_REDIRECT_URL", "http://127.0.0.1:9/callback"),
        ("TROUPE_TOKEN_KEY", TOKEN_KEY),
        ("TROUPE_TOKEN_KEY_PREVIOUS", PREVIOUS_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::from_sources(&BTreeMap::new(), env).expect("a valid configuration")
}

fn assert_no_secret(what: &str, printed: &str) {
    for secret in [
        DISCORD,
        ADMIN,
        AI_KEY,
        CLIENT_SECRET,
        TOKEN_KEY,
        PREVIOUS_KEY,
    ] {
        assert!(
            !printed.contains(secret),
            "{what} shows {secret}: {printed}"
        );
    }
}

#[test]
fn the_configuration_and_every_adapter_setting_built_from_it_print_no_secret() {
    let config = config();
    assert_no_secret("Config", &format!("{config:?} {config:#?}"));
    // The values are there, only never printed.
    assert_eq!(config.discord_token.as_ref().unwrap().expose(), DISCORD);

    let discord = discord_config(&config, &RunOptions::default(), None).unwrap();
    assert_no_secret("DiscordConfig", &format!("{discord:?}"));
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&discord.token),
        DISCORD
    );

    let admin = troupe_http::AdminConfig {
        token: config.admin_token.as_ref().map(Secret::to_secret_string),
        ..Default::default()
    };
    assert_no_secret("AdminConfig", &format!("{admin:?} {:?}", admin.token));

    let chat = troupe_ai::ChatConfig {
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key: config.ai_api_key.as_ref().map(Secret::to_secret_string),
        ..troupe_ai::ChatConfig::default()
    };
    assert_no_secret("ChatConfig", &format!("{chat:?} {:?}", chat.api_key));

    let oauth = config.oauth.as_ref().unwrap();
    let client = troupe_ai::OAuthConfig {
        authorize_url: oauth.authorize_url.clone(),
        token_url: oauth.token_url.clone(),
        client_id: oauth.client_id.clone(),
        client_secret: oauth.client_secret.to_secret_string(),
        redirect_url: oauth.redirect_url.clone(),
        scope: None,
        timeout: Duration::from_secs(1),
    };
    assert_no_secret(
        "OAuthConfig",
        &format!("{client:?} {:?}", client.client_secret),
    );
    assert_no_secret(
        "token keys",
        &format!("{:?} {:?}", config.token_key, config.previous_token_keys),
    );
}
