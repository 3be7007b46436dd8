//! Logging: the `tracing` subscriber of the binary (JSON or human-readable, filtered by
//! `TROUPE_LOG`), with every line redacted before it is written — whoever wrote it, at any
//! level, including the HTTP and gateway libraries' own debug and trace output.
//!
//! Redacted: the configured secrets wherever they appear (Discord token, admin token, API key,
//! token keys, OAuth client secret, ops webhook URL, database password); the token in webhook
//! and interaction paths (`webhooks/<id>/<token>`, `interactions/<id>/<token>`: it lets anyone
//! post as a personality); passwords in URLs; `Bot`/`Bearer` authorization values; and
//! secret-bearing query parameters.
//!
//! Each request's lines carry its span: shard, guild, channel, message or interaction id and
//! command (set by the Discord adapter), so one grep follows one message.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use regex::Regex;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{Config, LogFormat};

/// What replaces a secret.
const REDACTED: &str = "<redacted>";

/// Removes secrets from log text.
#[derive(Debug)]
pub struct Redactor {
    /// Exact values, longest first (so a secret containing another is replaced whole).
    secrets: Vec<String>,
    patterns: Vec<(Regex, &'static str)>,
}

impl Redactor {
    /// A redactor of the patterns and of these exact values (values under 6 characters are
    /// ignored: too short to be secrets, too likely to be ordinary words).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= 6)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let pattern = |re: &str| Regex::new(re).expect("the redaction patterns are valid");
        Self {
            secrets,
            patterns: vec![
                // webhooks/<id>/<token>, interactions/<id>/<token>
                (
                    pattern(r"((?:webhooks|interactions)/[0-9]+/)[A-Za-z0-9._~-]+"),
                    "${1}<redacted>",
                ),
                // scheme://user:password@host
                (pattern(r"(://[^/\s:@]*:)[^/\s@]+@"), "${1}<redacted>@"),
                // Authorization values
                (
                    pattern(r"((?i:bot|bearer)\s+)[A-Za-z0-9._~+/=-]{12,}"),
                    "${1}<redacted>",
                ),
                // secret-bearing query parameters
                (
                    pattern(
                        r"((?i:[?&](?:token|access_token|refresh_token|code|key|api_key|client_secret|secret)=))[^&\s\x22]+",
                    ),
                    "${1}<redacted>",
                ),
            ],
        }
    }

    /// The configured secrets of `config`.
    pub fn for_config(config: &Config) -> Self {
        let mut secrets: Vec<String> = [
            config.discord_token.as_ref(),
            config.admin_token.as_ref(),
            config.token_key.as_ref(),
            config.ai_api_key.as_ref(),
            config.ops_webhook_url.as_ref(),
            config.oauth.as_ref().map(|o| &o.client_secret),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.expose().to_owned())
        .collect();
        secrets.extend(
            config
                .previous_token_keys
                .iter()
                .map(|s| s.expose().to_owned()),
        );
        if let Some(token) = &config.discord_token {
            // As twilight sends it.
            secrets.push(token.expose().trim_start_matches("Bot ").to_owned());
        }
        Self::new(secrets)
    }

    /// `text` without secrets.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        for (re, replacement) in &self.patterns {
            if re.is_match(&out) {
                out = Cow::Owned(re.replace_all(&out, *replacement).into_owned());
            }
        }
        out
    }
}

/// A [`MakeWriter`] whose writers redact each log line before passing it on.
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> RedactingMakeWriter<M> {
    pub fn new(inner: M, redactor: Redactor) -> Self {
        Self {
            inner,
            redactor: Arc::new(redactor),
        }
    }
}

/// Collects one event's output and writes it redacted when dropped.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
    redactor: Arc<Redactor>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let _ = self.inner.write_all(self.redactor.redact(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            buffer: Vec::new(),
            redactor: Arc::clone(&self.redactor),
        }
    }
}

/// Installs the process's subscriber: `TROUPE_LOG` (default `info`, `warn` for the console),
/// the configured format (JSON when stderr is not a terminal; every line lists its spans, so a
/// line logged deep inside a request — by the HTTP library too — still carries the request's
/// ids), every line redacted.
pub fn init(config: &Config, console: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TROUPE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if console { "warn" } else { "info" })
    });
    let format = config
        .log_format
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        });
    let writer = RedactingMakeWriter::new(std::io::stderr, Redactor::for_config(config));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_and_interaction_tokens_are_redacted_wherever_they_appear() {
        let r = Redactor::new([]);
        assert_eq!(
            r.redact(r#"{"path":"webhooks/123456/abcDEF-ghi_jkl.mno"}"#),
            r#"{"path":"webhooks/123456/<redacted>"}"#
        );
        assert_eq!(
            r.redact("POST /api/v10/interactions/987/aW50ZXJhY3Rpb24/callback"),
            "POST /api/v10/interactions/987/<redacted>/callback"
        );
        assert_eq!(
            r.redact("webhooks/1/tok/messages/@original"),
            "webhooks/1/<redacted>/messages/@original"
        );
        assert_eq!(
            r.redact("GET webhooks/1"),
            "GET webhooks/1",
            "no token, nothing to hide"
        );
    }

    #[test]
    fn configured_secrets_urls_with_passwords_and_authorization_values_are_redacted() {
        let r = Redactor::new(["sk-very-secret".to_owned(), "abc".to_owned()]);
        assert_eq!(r.redact("key sk-very-secret used"), "key <redacted> used");
        assert_eq!(
            r.redact("abc stays"),
            "abc stays",
            "too short to be a secret"
        );
        assert_eq!(
            r.redact("postgres://troupe:hunter2@db/troupe"),
            "postgres://troupe:<redacted>@db/troupe"
        );
        assert_eq!(
            r.redact("authorization: Bot MTIzNDU2Nzg5MDEy.abc.def"),
            "authorization: Bot <redacted>"
        );
        assert_eq!(
            r.redact("https://x.example/cb?code=abc123&state=s&access_token=zzz"),
            "https://x.example/cb?code=<redacted>&state=s&access_token=<redacted>"
        );
        assert_eq!(r.redact("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn the_writer_redacts_each_event_before_it_reaches_the_output() {
        #[derive(Clone, Default)]
        struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let out = sink.clone();
        let writer = RedactingMakeWriter::new(move || sink.clone(), Redactor::new([]));
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(writer)
            .json()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", path = "webhooks/42/s3cr3t-token");
            let _entered = span.enter();
            tracing::trace!("permitted");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("webhooks/42/<redacted>"), "{text}");
        assert!(!text.contains("s3cr3t-token"), "{text}");
    }
}
