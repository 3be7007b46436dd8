//! The settings of the gateway/worker mode (ADR 0045): where the NATS server is, the stream,
//! the acknowledgement wait and a worker's concurrency; and the broker connection both
//! subcommands open with them.

use std::time::Duration;

use troupe_broker::{Broker, BrokerConfig};

use crate::config::{ConfigError, Secret, invalid, parse_num};
use crate::exit::UsageError;

/// `TROUPE_NATS_*` and `TROUPE_WORKER_CONCURRENCY`.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// `nats://host:port` (may carry credentials: never printed).
    pub url: Option<Secret>,
    /// The JetStream stream (`TROUPE_NATS_STREAM`, default `TROUPE_EVENTS`).
    pub stream: String,
    /// How long a worker may hold an event unacknowledged before it goes to another worker
    /// (`TROUPE_NATS_ACK_WAIT_MS`; workers report progress meanwhile, so only a dead worker's
    /// events wait so long).
    pub ack_wait_ms: u64,
    /// Events one worker handles at once (`TROUPE_WORKER_CONCURRENCY`).
    pub worker_concurrency: usize,
}

/// Reads the settings (`get`: the merged configuration values).
pub(crate) fn parse_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<BrokerSettings, ConfigError> {
    let stream = get("TROUPE_NATS_STREAM").unwrap_or_else(|| "TROUPE_EVENTS".to_owned());
    if stream.is_empty()
        || stream.len() > 64
        || !stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "TROUPE_NATS_STREAM",
            "must be 1–64 letters, digits, '-' or '_'",
        ));
    }
    Ok(BrokerSettings {
        url: get("TROUPE_NATS_URL").map(Secret::new),
        stream,
        ack_wait_ms: parse_num(
            get("TROUPE_NATS_ACK_WAIT_MS"),
            "TROUPE_NATS_ACK_WAIT_MS",
            30_000u64,
            500,
            3_600_000,
        )?,
        worker_concurrency: parse_num(
            get("TROUPE_WORKER_CONCURRENCY"),
            "TROUPE_WORKER_CONCURRENCY",
            64usize,
            1,
            10_000,
        )?,
    })
}

impl BrokerSettings {
    /// The broker's configuration; a usage error when `TROUPE_NATS_URL` is missing.
    pub fn broker_config(&self, command: &str) -> anyhow::Result<BrokerConfig> {
        let url = self.url.as_ref().ok_or_else(|| {
            UsageError::new(format!(
                "TROUPE_NATS_URL: required by `troupe {command}` (the NATS server with JetStream \
                 that carries events from `troupe gateway` to `troupe worker`)"
            ))
        })?;
        Ok(BrokerConfig {
            stream: self.stream.clone(),
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            batch: self.worker_concurrency,
            ..BrokerConfig::new(url.expose())
        })
    }

    /// Connects to the broker (the stream is created when missing).
    pub async fn connect(&self, command: &str) -> anyhow::Result<Broker> {
        let config = self.broker_config(command)?;
        let url = config.url.clone();
        Broker::connect(config).await.map_err(|e| {
            anyhow::anyhow!(
                "{}",
                e.to_string()
                    .replace(&url, &crate::config::redact_url(&url))
            )
        })
    }
}
