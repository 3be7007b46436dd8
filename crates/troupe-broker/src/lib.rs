//! Troupe's event broker adapter, and the only crate that sees NATS (`async-nats`). In the
//! optional gateway/worker mode (ADR 0045) a gateway process publishes the Discord events its
//! shards receive to a JetStream stream ([`NatsRelay`], the [`EventRelay`] port), each with the
//! event's Discord id as its `Nats-Msg-Id`, so an event published again (a replay after a
//! resume, a retry after an unconfirmed publish) is stored once. Worker processes share one
//! durable pull consumer ([`Deliveries`]): each event goes to one worker, which acknowledges it
//! after handling it; an event not acknowledged within the acknowledgement wait (its worker
//! died) is delivered again, to any worker.
//!
//! The payload is opaque here: this crate knows nothing of Discord, the application or the
//! store. It does not know twilight, sqlx, axum or reqwest.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures_util::StreamExt as _;
use troupe_ports::{EventRelay, RelayError, RelayedEvent};

/// Where the broker is and how its stream and consumer are set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `nats://host:port` (or `host:port`).
    pub url: String,
    /// The JetStream stream's name (letters, digits, `-`, `_`); its subjects are
    /// `troupe.<stream>.<event kind>`, so several bots (or tests) can share one server.
    pub stream: String,
    /// The workers' durable consumer's name.
    pub consumer: String,
    /// How long a delivered event may stay unacknowledged before it is delivered again (a
    /// worker reports progress while it handles one, so only a dead worker's events wait so
    /// long). Set when the consumer is created.
    pub ack_wait: Duration,
    /// Deliveries of one event at most (then it is given up and logged by the server).
    pub max_deliver: i64,
    /// Events published again with the same id within this window are stored once.
    pub duplicate_window: Duration,
    /// Events older than this are dropped from the stream, handled or not.
    pub max_age: Duration,
    /// How long one publish waits for the stream's confirmation.
    pub publish_timeout: Duration,
    /// Events a worker fetches ahead (its concurrency).
    pub batch: usize,
}

impl BrokerConfig {
    /// Defaults for everything but the server's address.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "TROUPE_EVENTS".to_owned(),
            consumer: "troupe-workers".to_owned(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 20,
            duplicate_window: Duration::from_secs(10 * 60),
            max_age: Duration::from_secs(24 * 60 * 60),
            publish_timeout: Duration::from_secs(5),
            batch: 64,
        }
    }

    fn subjects(&self) -> String {
        format!("troupe.{}.>", self.stream.to_ascii_lowercase())
    }

    /// Cache updates for every worker: outside the stream's subjects (not stored).
    fn updates_subject(&self) -> String {
        format!("troupe.{}-updates", self.stream.to_ascii_lowercase())
    }

    fn subject(&self, kind: &str) -> String {
        format!(
            "troupe.{}.{}",
            self.stream.to_ascii_lowercase(),
            kind.to_ascii_lowercase()
        )
    }
}

/// Why the broker could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The server cannot be reached.
    #[error("cannot reach the NATS server at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The server refused to set up the stream or the consumer (JetStream off, a name taken by
    /// a different configuration, …).
    #[error("cannot set up the JetStream {what}: {message}")]
    Setup { what: &'static str, message: String },
    /// A setting cannot be used.
    #[error("invalid broker setting: {0}")]
    Invalid(String),
    /// Receiving from the consumer failed.
    #[error("cannot receive from the JetStream consumer: {0}")]
    Receive(String),
}

/// A connection to the broker, with the stream set up.
#[derive(Clone)]
pub struct Broker {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: stream::Stream,
    config: Arc<BrokerConfig>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Connects to the server at `url` within `timeout`; `false` when none answers (the e2e
/// suites' SKIPPED check).
pub async fn reachable(url: &str, timeout: Duration) -> bool {
    let connect = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .connect(url);
    matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_)))
}

impl Broker {
    /// Connects and creates the stream when it is not there yet (an existing stream is used as
    /// it is).
    pub async fn connect(config: BrokerConfig) -> Result<Self, BrokerError> {
        for (what, name) in [("stream", &config.stream), ("consumer", &config.consumer)] {
            if !valid_name(name) {
                return Err(BrokerError::Invalid(format!(
                    "the {what} name {name:?} must be 1–64 letters, digits, '-' or '_'"
                )));
            }
        }
        let client = async_nats::ConnectOptions::new()
            .name("troupe")
            .connection_timeout(Duration::from_secs(5))
            .connect(config.url.as_str())
            .await
            .map_err(|e| BrokerError::Unreachable {
                url: config.url.clone(),
                message: e.to_string(),
            })?;
        let mut context = jetstream::new(client.clone());
        context.set_timeout(config.publish_timeout);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![config.subjects()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: config.duplicate_window,
                max_age: config.max_age,
                ..stream::Config::default()
            })
            .await
            .map_err(|e| BrokerError::Setup {
                what: "stream",
                message: e.to_string(),
            })?;
        Ok(Self {
            client,
            jetstream: context,
            stream,
            config: Arc::new(config),
        })
    }

    /// The publishing side, for a gateway process.
    pub fn relay(&self) -> NatsRelay {
        NatsRelay {
            client: self.client.clone(),
            jetstream: self.jetstream.clone(),
            config: Arc::clone(&self.config),
        }
    }

    /// The consuming side, for a worker process: the shared durable pull consumer (created
    /// when missing), fetching up to `batch` events ahead.
    pub async fn deliveries(&self) -> Result<Deliveries, BrokerError> {
        let setup = |e: &dyn std::fmt::Display| BrokerError::Setup {
            what: "consumer",
            message: e.to_string(),
        };
        let consumer: consumer::PullConsumer = self
            .stream
            .get_or_create_consumer(
                &self.config.consumer,
                consumer::pull::Config {
                    durable_name: Some(self.config.consumer.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    max_deliver: self.config.max_deliver,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..consumer::pull::Config::default()
                },
            )
            .await
            .map_err(|e| setup(&e))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.config.batch.max(1))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| setup(&e))?;
        Ok(Deliveries { messages })
    }

    /// The cache updates gateways broadcast, for a worker (only those sent from now on).
    pub async fn updates(&self) -> Result<Updates, BrokerError> {
        let subscriber = self
            .client
            .subscribe(self.config.updates_subject())
            .await
            .map_err(|e| BrokerError::Receive(e.to_string()))?;
        Ok(Updates { subscriber })
    }

    /// Events stored and not yet acknowledged by a worker (for tests and the bench).
    pub async fn pending(&self) -> Result<u64, BrokerError> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(|e| BrokerError::Setup {
            what: "stream",
            message: e.to_string(),
        })?;
        Ok(info.state.messages)
    }

    /// Deletes the stream (and its consumer): tests and the bench clean up with it.
    pub async fn delete_stream(&self) -> Result<(), BrokerError> {
        self.jetstream
            .delete_stream(&self.config.stream)
            .await
            .map(|_| ())
            .map_err(|e| BrokerError::Setup {
                what: "stream",
                message: e.to_string(),
            })
    }
}

/// The [`EventRelay`] on JetStream.
#[derive(Clone)]
pub struct NatsRelay {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: Arc<BrokerConfig>,
}

impl std::fmt::Debug for NatsRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsRelay")
            .field("stream", &self.config.stream)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EventRelay for NatsRelay {
    async fn publish(&self, event: RelayedEvent) -> Result<(), RelayError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event.id.as_str());
        let ack = self
            .jetstream
            .publish_with_headers(
                self.config.subject(event.kind),
                headers,
                event.payload.into(),
            )
            .await
            .map_err(|e| RelayError::Unavailable(e.to_string()))?;
        match ack.await {
            Ok(ack) => {
                if ack.duplicate {
                    tracing::debug!(event = %event.id, "event already stored (a replay)");
                }
                Ok(())
            }
            Err(e) => Err(publish_error(&e)),
        }
    }

    async fn broadcast(&self, kind: &'static str, payload: Vec<u8>) -> Result<(), RelayError> {
        let _ = kind;
        self.client
            .publish(self.config.updates_subject(), payload.into())
            .await
            .map_err(|e| RelayError::Unavailable(e.to_string()))
    }
}

/// Cache updates broadcast by gateways.
pub struct Updates {
    subscriber: async_nats::Subscriber,
}

impl std::fmt::Debug for Updates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updates").finish_non_exhaustive()
    }
}

impl Updates {
    /// The next update's payload; `None` when the subscription ended.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        self.subscriber
            .next()
            .await
            .map(|message| message.payload.to_vec())
    }
}

/// An unconfirmed publish may be tried again (same id); a refused one may not.
fn publish_error(e: &jetstream::context::PublishError) -> RelayError {
    use jetstream::context::PublishErrorKind;
    match e.kind() {
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::StreamNotFound
        | PublishErrorKind::Other => RelayError::Unavailable(e.to_string()),
        _ => RelayError::Unexpected(e.to_string()),
    }
}

/// The events delivered to this worker.
pub struct Deliveries {
    messages: consumer::pull::Stream,
}

impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliveries").finish_non_exhaustive()
    }
}

impl Deliveries {
    /// The next event; `None` when the consumer ended. A receive error is returned and the
    /// stream goes on (the client reconnects by itself).
    pub async fn next(&mut self) -> Option<Result<Delivery, BrokerError>> {
        let next = self.messages.next().await?;
        Some(
            next.map(|message| Delivery { message })
                .map_err(|e| BrokerError::Receive(e.to_string())),
        )
    }
}

/// One delivered event, to acknowledge once handled.
pub struct Delivery {
    message: jetstream::Message,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.message.subject)
            .field("attempt", &self.attempt())
            .finish()
    }
}

impl Delivery {
    /// The event as the gateway wrote it.
    pub fn payload(&self) -> &[u8] {
        &self.message.payload
    }

    /// How many times it was delivered (1 the first time).
    pub fn attempt(&self) -> u64 {
        self.message
            .info()
            .map_or(1, |info| u64::try_from(info.delivered).unwrap_or(1).max(1))
    }

    /// Done: the stream forgets it.
    pub async fn ack(&self) {
        if let Err(e) = self.message.ack().await {
            tracing::warn!(error = %e, "cannot acknowledge an event; it will be delivered again");
        }
    }

    /// Still working on it: its acknowledgement wait starts again.
    pub async fn in_progress(&self) {
        if let Err(e) = self.message.ack_with(jetstream::AckKind::Progress).await {
            tracing::debug!(error = %e, "cannot report progress on an event");
        }
    }

    /// Cannot handle it now: deliver it again (to any worker) after `delay`.
    pub async fn retry_after(&self, delay: Duration) {
        if let Err(e) = self
            .message
            .ack_with(jetstream::AckKind::Nak(Some(delay)))
            .await
        {
            tracing::debug!(error = %e, "cannot hand an event back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_per_stream_and_event_kind() {
        let config = BrokerConfig {
            stream: "Bot_A".into(),
            ..BrokerConfig::new("nats://127.0.0.1:4222")
        };
        assert_eq!(config.subjects(), "troupe.bot_a.>");
        assert_eq!(
            config.subject("MESSAGE_CREATE"),
            "troupe.bot_a.message_create"
        );
    }

    #[test]
    fn names_with_subject_characters_are_refused() {
        assert!(valid_name("TROUPE_EVENTS"));
        assert!(valid_name("troupe-workers"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("*"));
        assert!(!valid_name(""));
    }

    #[tokio::test]
    async fn a_replayed_event_is_stored_once_and_an_unacknowledged_one_is_delivered_again() {
        let url = "nats://127.0.0.1:4222";
        if !reachable(url, Duration::from_secs(2)).await {
            eprintln!("NATS broker test SKIPPED: no NATS server with JetStream at {url}");
            return;
        }
        let config = BrokerConfig {
            stream: format!("TROUPE_TEST_{}", std::process::id()),
            ack_wait: Duration::from_secs(1),
            batch: 4,
            ..BrokerConfig::new(url)
        };
        let broker = Broker::connect(config).await.unwrap();
        let relay = broker.relay();
        for payload in [b"first".to_vec(), b"replayed".to_vec()] {
            relay
                .publish(RelayedEvent {
                    id: "MESSAGE_CREATE-1".into(),
                    kind: "MESSAGE_CREATE",
                    payload,
                })
                .await
                .unwrap();
        }
        assert_eq!(broker.pending().await.unwrap(), 1, "stored once");
        let mut deliveries = broker.deliveries().await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), deliveries.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((first.payload(), first.attempt()), (&b"first"[..], 1));
        // Not acknowledged (its worker "died"): delivered again after the wait.
        let again = tokio::time::timeout(Duration::from_secs(20), deliveries.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((again.payload(), again.attempt()), (&b"first"[..], 2));
        again.ack().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while broker.pending().await.unwrap() != 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            broker.pending().await.unwrap(),
            0,
            "acknowledged: forgotten"
        );
        broker.delete_stream().await.unwrap();
    }
}
