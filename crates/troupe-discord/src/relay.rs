//! Gateway/worker mode (ADR 0045): the seam between the shard loops and the event handling.
//!
//! A *gateway* process ([`Bot::relaying`]) hands every MESSAGE_CREATE, MESSAGE_DELETE and
//! INTERACTION_CREATE to an [`EventRelay`] instead of its lanes: the event is serialised with
//! what a worker needs besides it (our user and application, when it arrived), queued without
//! waiting (the shard loop must keep polling), and published in order by one task, which tries
//! again while the broker is away. An event counts as started for the resume point only once
//! the broker confirmed it, so events still queued at shutdown are replayed by Discord to the
//! next gateway process.
//!
//! A *worker* process feeds the events it consumes back into the same handling
//! ([`Bot::handle_relayed`]): the lane a message takes, the dispatcher or the message flow,
//! delivery. A redelivered event (its worker died before acknowledging it) is handled again:
//! its claim is granted once more ([`RedeliveryClaims`]) and the message creates of its
//! handling carry nonces derived from the event, so Discord returns the reply the dead worker
//! may already have posted instead of posting it twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use troupe_domain::{MessageId, Timestamp};
use troupe_ports::{EventRelay, ProcessedMessages, RelayError, RelayedEvent, StoreError};
use twilight_gateway::Event;
use twilight_model::application::interaction::Interaction;
use twilight_model::channel::Message;
use twilight_model::gateway::payload::incoming::MessageDelete;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker, GuildMarker, UserMarker};

use crate::bot::{Bot, Ctx};
use crate::gateway::sequence::Sequences;
use crate::{interactions, messages};

/// Version of the envelope; a worker refuses (and drops) others.
const VERSION: u8 = 1;

/// Events waiting for the broker in a gateway process; beyond, new ones are shed and counted.
const OUTBOX: usize = 10_000;

/// An event as it travels from a gateway to a worker.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<M> {
    v: u8,
    shard: u32,
    /// When the gateway received it (Unix ms): a slash command's 3 s run from then.
    received_ms: u64,
    bot_user: Option<Id<UserMarker>>,
    application: Option<Id<ApplicationMarker>>,
    /// The shard's latest heartbeat latency (a worker's `ping` and `status` report it).
    #[serde(default)]
    latency_ms: Option<u64>,
    event: Relayed<M>,
}

/// A relayed event. A gateway sends a message as twilight's `Message` (`Relayed<Message>`); a
/// worker reads only what its handling keeps (`Relayed<messages::WireMessage>`): the same
/// Discord field names either way.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", content = "d")]
enum Relayed<M> {
    MessageCreate(Box<M>),
    MessageDelete(MessageDelete),
    InteractionCreate(Box<Interaction>),
}

/// The Discord id of a relayed message, in whichever form it travels.
trait DiscordId {
    fn discord_id(&self) -> u64;
}

impl DiscordId for Message {
    fn discord_id(&self) -> u64 {
        self.id.get()
    }
}

impl DiscordId for messages::WireMessage {
    fn discord_id(&self) -> u64 {
        self.id().get()
    }
}

impl<M: DiscordId> Relayed<M> {
    fn kind(&self) -> &'static str {
        match self {
            Self::MessageCreate(_) => "MESSAGE_CREATE",
            Self::MessageDelete(_) => "MESSAGE_DELETE",
            Self::InteractionCreate(_) => "INTERACTION_CREATE",
        }
    }

    /// The de-duplication id: the Discord id of the message or interaction, with the kind
    /// (a message's create and delete are two events).
    fn id(&self) -> String {
        let id = match self {
            Self::MessageCreate(m) => m.discord_id(),
            Self::MessageDelete(d) => d.id.get(),
            Self::InteractionCreate(i) => i.id.get(),
        };
        format!("{}-{id}", self.kind())
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A change of Discord state every worker must hear of: it forgets what it cached, and reads
/// it again when it needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "forget", content = "id", rename_all = "snake_case")]
enum Update {
    Channel(Id<ChannelMarker>),
    Guild(Id<GuildMarker>),
}

impl Update {
    fn of(event: &Event) -> Option<Self> {
        Some(match event {
            Event::ChannelCreate(c) => Self::Channel(c.id),
            Event::ChannelUpdate(c) => Self::Channel(c.id),
            Event::ChannelDelete(c) => Self::Channel(c.id),
            Event::ThreadCreate(c) => Self::Channel(c.id),
            Event::ThreadUpdate(c) => Self::Channel(c.id),
            Event::ThreadDelete(t) => Self::Channel(t.id),
            Event::RoleCreate(r) => Self::Guild(r.guild_id),
            Event::RoleUpdate(r) => Self::Guild(r.guild_id),
            Event::RoleDelete(r) => Self::Guild(r.guild_id),
            Event::GuildUpdate(g) => Self::Guild(g.id),
            Event::GuildDelete(g) => Self::Guild(g.id),
            _ => return None,
        })
    }
}

/// One event waiting for the broker, with its place in its shard's resume point.
struct Pending {
    event: RelayedEvent,
    sequence: Option<(Arc<Sequences>, u64)>,
    /// A cache update for every worker (not stored, not retried).
    broadcast: bool,
}

/// A gateway process's queue to the broker.
pub(crate) struct Outbox {
    tx: Mutex<Option<mpsc::Sender<Pending>>>,
    /// Events shed because the queue was full.
    shed: AtomicU64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("shed", &self.shed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Starts the publishing task (tracked by `tasks`, stopped by `cancel`).
    fn start(relay: Arc<dyn EventRelay>, tasks: &TaskTracker, cancel: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(OUTBOX);
        tasks.spawn(publish_all(relay, rx, cancel));
        Self {
            tx: Mutex::new(Some(tx)),
            shed: AtomicU64::new(0),
        }
    }

    /// Queues `event` (never waits); `seq` stays in the resume point until it is published.
    fn offer(&self, event: RelayedEvent, sequences: &Arc<Sequences>, seq: Option<u64>) {
        let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(tx) = tx.as_ref() else {
            return;
        };
        if let Some(seq) = seq {
            sequences.queued(seq);
        }
        let pending = Pending {
            event,
            sequence: seq.map(|seq| (Arc::clone(sequences), seq)),
            broadcast: false,
        };
        if tx.try_send(pending).is_err() {
            // Left in the resume point: a restart gets it replayed.
            let shed = self.shed.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                shed,
                "event not relayed: the queue to the broker is full (is the broker down?)"
            );
        }
    }

    /// Queues a cache update for every worker (never waits; dropped when the queue is full).
    fn offer_update(&self, update: Update) {
        let Ok(payload) = serde_json::to_vec(&update) else {
            return;
        };
        let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = tx.as_ref() {
            let _ = tx.try_send(Pending {
                event: RelayedEvent {
                    id: String::new(),
                    kind: "CACHE_UPDATE",
                    payload,
                },
                sequence: None,
                broadcast: true,
            });
        }
    }

    /// No more events: the task publishes what is queued, then ends.
    pub(crate) fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Publishes queued events in order; an event the broker did not confirm is tried again
/// (same id, so it is stored once) with a capped backoff.
async fn publish_all(
    relay: Arc<dyn EventRelay>,
    mut rx: mpsc::Receiver<Pending>,
    cancel: CancellationToken,
) {
    let mut outage: Option<Instant> = None;
    while let Some(pending) = rx.recv().await {
        if pending.broadcast {
            if let Err(e) = relay
                .broadcast(pending.event.kind, pending.event.payload)
                .await
            {
                tracing::debug!(error = %e, "a cache update did not reach the workers");
            }
            continue;
        }
        let mut delay = Duration::from_millis(50);
        loop {
            match relay.publish(pending.event.clone()).await {
                Ok(()) => {
                    if let Some(since) = outage.take() {
                        tracing::info!(after = ?since.elapsed(), "the event broker is back");
                    }
                    break;
                }
                Err(RelayError::Unexpected(e)) => {
                    tracing::error!(event = %pending.event.id, error = %e, "the event broker refused an event; dropped");
                    break;
                }
                Err(RelayError::Unavailable(e)) => {
                    if outage.is_none() {
                        outage = Some(Instant::now());
                        tracing::warn!(error = %e, "the event broker is unavailable; events wait and are tried again");
                    }
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
        if let Some((sequences, seq)) = &pending.sequence {
            sequences.started(*seq);
        }
    }
}

/// In a gateway process, hands `event` to the broker when it is one the workers handle.
/// `true`: the relay took it (the shard loop is done with it).
pub(crate) fn divert(
    ctx: &Ctx,
    shard: u32,
    event: &Event,
    sequences: &Arc<Sequences>,
    seq: Option<u64>,
    latency: Option<Duration>,
) -> bool {
    let Some(outbox) = &ctx.relay else {
        return false;
    };
    let cache = ctx.platform.cache();
    let relayed = match event {
        Event::MessageCreate(message) => {
            if Some(message.author.id) == cache.bot_user() {
                return true;
            }
            Relayed::MessageCreate(Box::new(message.message.clone()))
        }
        Event::MessageDelete(deleted) => Relayed::MessageDelete(deleted.clone()),
        Event::InteractionCreate(interaction) => {
            Relayed::InteractionCreate(Box::new(interaction.as_ref().0.clone()))
        }
        other => {
            // The gateway keeps handling it (cache, monitor); workers forget what changed.
            if let Some(update) = Update::of(other) {
                outbox.offer_update(update);
            }
            return false;
        }
    };
    let (id, kind) = (relayed.id(), relayed.kind());
    let envelope = Envelope {
        v: VERSION,
        shard,
        received_ms: unix_ms(SystemTime::now()),
        bot_user: cache.bot_user(),
        application: cache.application(),
        latency_ms: latency.map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
        event: relayed,
    };
    match serde_json::to_vec(&envelope) {
        Ok(payload) => {
            outbox.offer(RelayedEvent { id, kind, payload }, sequences, seq);
        }
        Err(e) => {
            tracing::error!(error = %e, event = %id, "cannot serialise an event for the broker");
        }
    }
    true
}

/// Why a relayed event could not be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayedEventError {
    /// Not an event this version writes (malformed, or from a newer gateway): dropping it is
    /// all a worker can do.
    Unreadable(String),
}

impl std::fmt::Display for RelayedEventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => write!(f, "unreadable relayed event: {why}"),
        }
    }
}

impl std::error::Error for RelayedEventError {}

/// Claims granted once more to redelivered events (see the module).
///
/// A worker that died after claiming an event's message id but before answering leaves a claim
/// that would make the redelivered event be ignored: [`Bot::handle_relayed`] marks the id of a
/// redelivered event here, and the next claim of that id is granted (and recorded) whatever the
/// store says. Wrap the store's [`ProcessedMessages`] with it in a worker.
pub struct RedeliveryClaims {
    inner: Arc<dyn ProcessedMessages>,
    again: Mutex<HashSet<MessageId>>,
}

impl std::fmt::Debug for RedeliveryClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeliveryClaims").finish_non_exhaustive()
    }
}

impl RedeliveryClaims {
    pub fn new(inner: Arc<dyn ProcessedMessages>) -> Self {
        Self {
            inner,
            again: Mutex::new(HashSet::new()),
        }
    }

    fn grant_again(&self, id: MessageId) {
        self.again
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }

    fn take(&self, id: MessageId) -> bool {
        self.again
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }
}

#[async_trait]
impl ProcessedMessages for RedeliveryClaims {
    async fn claim(
        &self,
        id: MessageId,
        now: Timestamp,
        ttl: troupe_domain::Duration,
    ) -> Result<bool, StoreError> {
        let fresh = self.inner.claim(id, now, ttl).await?;
        Ok(fresh || self.take(id))
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        self.inner.clear().await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.inner.count().await
    }
}

tokio::task_local! {
    /// The event whose handling runs in this task (a worker), for deterministic nonces.
    static EVENT: EventScope;
}

struct EventScope {
    id: u64,
    creates: AtomicU32,
}

/// Runs `work` as the handling of the event (message or interaction) `id`: the message creates
/// it makes carry nonces derived from the event (see [`scoped_nonce`]), so handling the same
/// event again (a replay after a restart, a redelivery to another worker) posts nothing twice.
///
/// Not an `async fn`: one would keep `work` both as its argument and inside the scope it awaits
/// (rustc#62958), twice the memory of every queued event.
pub(crate) fn in_event<F: std::future::Future>(
    id: u64,
    work: F,
) -> impl std::future::Future<Output = F::Output> {
    EVENT.scope(
        EventScope {
            id,
            creates: AtomicU32::new(0),
        },
        work,
    )
}

/// In an event's handling (see [`in_event`]), the nonce of the next message create: the same for the same
/// create when the event is handled again, so Discord (`enforce_nonce`) returns the message
/// the first attempt posted. `None` outside an event's handling.
pub(crate) fn scoped_nonce() -> Option<String> {
    EVENT
        .try_with(|scope| {
            let n = scope.creates.fetch_add(1, Ordering::Relaxed);
            // At most 25 characters: 16 hex digits, a dash, the create's number.
            format!("{:x}-{n}", scope.id)
        })
        .ok()
}

impl Bot {
    /// This bot becomes a gateway: it holds its shards and hands the events workers handle to
    /// `relay` instead of handling them. Call before [`Bot::run`], inside a tokio runtime.
    pub fn relaying(mut self, relay: Arc<dyn EventRelay>) -> Self {
        let ctx = Arc::get_mut(&mut self.ctx).expect("relaying is set before the bot runs");
        ctx.relay = Some(Outbox::start(relay, &ctx.tasks, ctx.cancel.clone()));
        self
    }

    /// The claims a worker's application core must use (wrapping the store's), so a
    /// redelivered event is handled again. Pass the same value to [`Bot::with_claims`].
    pub fn redelivery_claims(store: Arc<dyn ProcessedMessages>) -> Arc<RedeliveryClaims> {
        Arc::new(RedeliveryClaims::new(store))
    }

    /// A worker's bot: `claims` are those its application core uses.
    pub fn with_claims(mut self, claims: Arc<RedeliveryClaims>) -> Self {
        let ctx = Arc::get_mut(&mut self.ctx).expect("claims are set before the bot is shared");
        ctx.claims = Some(claims);
        self
    }

    /// In a worker: applies a cache update a gateway broadcast (see [`Bot::relaying`]).
    pub fn apply_relayed_update(&self, payload: &[u8]) {
        match serde_json::from_slice::<Update>(payload) {
            Ok(Update::Channel(id)) => self.ctx.platform.cache().forget_channel(id),
            Ok(Update::Guild(id)) => self.ctx.platform.cache().forget_guild(id),
            Err(e) => tracing::debug!(error = %e, "unreadable cache update ignored"),
        }
    }

    /// In a worker: handles one event a gateway relayed, through the same path a shard loop's
    /// event takes, and returns when its handling finished (then the broker may forget it).
    /// `attempt`: how many times the broker delivered it (more than 1: a worker died before
    /// acknowledging it, so its claim is granted again and the answer is not posted twice).
    pub async fn handle_relayed(
        &self,
        payload: &[u8],
        attempt: u64,
    ) -> Result<(), RelayedEventError> {
        // As text, as a shard reads a MESSAGE_CREATE: one reader's code for both.
        let text = std::str::from_utf8(payload)
            .map_err(|e| RelayedEventError::Unreadable(e.to_string()))?;
        let envelope: Envelope<messages::WireMessage> =
            serde_json::from_str(text).map_err(|e| RelayedEventError::Unreadable(e.to_string()))?;
        if envelope.v != VERSION {
            return Err(RelayedEventError::Unreadable(format!(
                "envelope version {} (this worker reads {VERSION})",
                envelope.v
            )));
        }
        let ctx = &self.ctx;
        ctx.platform
            .cache()
            .set_identity(envelope.bot_user, envelope.application);
        let shard = envelope.shard;
        if let Some(ms) = envelope.latency_ms {
            ctx.platform
                .monitor()
                .heartbeat_ack(shard, Some(Duration::from_millis(ms)));
        }
        if attempt > 1 {
            tracing::info!(
                event = %envelope.event.id(),
                attempt,
                "handling a redelivered event (a worker stopped before finishing it)"
            );
        }
        match envelope.event {
            Relayed::MessageCreate(message) => {
                let message = messages::Received::from(*message);
                let Some(lane) = messages::lane_of(ctx, &message) else {
                    return Ok(());
                };
                if attempt > 1
                    && let Some(claims) = &ctx.claims
                {
                    claims.grant_again(crate::ids::message(message.id));
                }
                let span = tracing::info_span!(
                    "message",
                    shard,
                    guild = message.guild.map(Id::get),
                    channel = message.channel.get(),
                    message = message.id.get(),
                    attempt,
                    command = tracing::field::Empty,
                );
                in_event(
                    message.id.get(),
                    tracing::Instrument::instrument(
                        messages::handle(Arc::clone(ctx), message, lane),
                        span,
                    ),
                )
                .await;
            }
            Relayed::MessageDelete(deleted) => {
                if let Some(handler) = &ctx.deps.messages {
                    handler
                        .message_deleted(
                            crate::ids::channel(deleted.channel_id),
                            crate::ids::message(deleted.id),
                        )
                        .await;
                }
            }
            Relayed::InteractionCreate(interaction) => {
                let interaction = *interaction;
                let Some(data) = interactions::command_data(&interaction) else {
                    return Ok(());
                };
                if attempt > 1
                    && let Some(claims) = &ctx.claims
                {
                    claims.grant_again(crate::ids::message(interaction.id));
                }
                let span = tracing::info_span!(
                    "interaction",
                    shard,
                    guild = interaction.guild_id.map(Id::get),
                    channel = interaction.channel.as_ref().map(|c| c.id.get()),
                    interaction = interaction.id.get(),
                    attempt,
                    command = data.name.as_str(),
                );
                let waited = Duration::from_millis(
                    unix_ms(SystemTime::now()).saturating_sub(envelope.received_ms),
                );
                let received = Instant::now()
                    .checked_sub(waited)
                    .unwrap_or_else(Instant::now);
                let id = interaction.id.get();
                in_event(
                    id,
                    tracing::Instrument::instrument(
                        interactions::handle(Arc::clone(ctx), interaction, None, received),
                        span,
                    ),
                )
                .await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_names_its_kind_and_its_discord_id() {
        let deleted = Relayed::<Message>::MessageDelete(MessageDelete {
            channel_id: Id::new(7),
            guild_id: None,
            id: Id::new(42),
        });
        assert_eq!(deleted.id(), "MESSAGE_DELETE-42");
        assert_eq!(deleted.kind(), "MESSAGE_DELETE");
        let json = serde_json::to_vec(&deleted).unwrap();
        let back: Relayed<messages::WireMessage> = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.id(), deleted.id(), "the envelope reads back");
    }

    #[test]
    fn a_worker_reads_the_message_a_gateway_sends_as_twilights() {
        let message: Message = serde_json::from_value(serde_json::json!({
            "id": "1001", "channel_id": "2002", "guild_id": "3003",
            "author": {"id": "4004", "username": "ada", "global_name": null,
                       "discriminator": "0", "avatar": null, "bot": true},
            "member": {"roles": ["77"], "nick": "Countess", "joined_at": null,
                       "deaf": false, "mute": false, "flags": 0},
            "content": "!tz ping", "timestamp": "2026-12-01T00:00:00+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0, "webhook_id": "55",
            "message_reference": {"message_id": "999", "channel_id": "2002"}
        }))
        .unwrap();
        let sent = Relayed::MessageCreate(Box::new(message));
        let json = serde_json::to_vec(&sent).unwrap();
        let back: Relayed<messages::WireMessage> = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.id(), sent.id());
        let Relayed::MessageCreate(read) = back else {
            panic!("not a message create");
        };
        let read = messages::Received::from(*read);
        assert_eq!(
            (read.id.get(), read.channel.get(), read.guild.map(Id::get)),
            (1001, 2002, Some(3003))
        );
        assert_eq!((read.author.get(), read.author_is_bot), (4004, true));
        assert_eq!(read.webhook.map(Id::get), Some(55));
        assert_eq!(read.display_name, "Countess");
        assert_eq!(read.roles, [Id::new(77)]);
        assert_eq!(read.content, "!tz ping");
        assert_eq!(read.reply_to.map(Id::get), Some(999));
    }

    #[tokio::test]
    async fn nonces_repeat_for_the_same_event_and_are_absent_outside_an_event() {
        assert!(scoped_nonce().is_none());
        let run = || {
            in_event(1_234_567_890_123_456_789, async {
                (scoped_nonce().unwrap(), scoped_nonce().unwrap())
            })
        };
        let first = run().await;
        let again = run().await;
        assert_eq!(first, again);
        assert_ne!(first.0, first.1);
        assert!(first.0.len() <= 25 && first.1.len() <= 25);
    }

    #[test]
    fn an_event_scope_holds_its_work_once() {
        let work = async {
            let state = [7u8; 1024];
            tokio::task::yield_now().await;
            std::hint::black_box(&state);
        };
        let alone = std::mem::size_of_val(&work);
        let scoped = in_event(1, work);
        assert!(
            std::mem::size_of_val(&scoped) < alone + 128,
            "{} bytes for {alone} bytes of work",
            std::mem::size_of_val(&scoped)
        );
    }

    #[tokio::test]
    async fn a_redelivered_event_is_granted_its_claim_once_more() {
        let store = Arc::new(troupe_testkit::InMemoryStore::new());
        let claims = RedeliveryClaims::new(store);
        let id = MessageId::new(5).unwrap();
        let now = Timestamp::from_millis(0);
        let ttl = troupe_domain::Duration::from_secs(60);
        assert!(claims.claim(id, now, ttl).await.unwrap());
        assert!(!claims.claim(id, now, ttl).await.unwrap(), "a duplicate");
        claims.grant_again(id);
        assert!(claims.claim(id, now, ttl).await.unwrap(), "a redelivery");
        assert!(!claims.claim(id, now, ttl).await.unwrap(), "only once");
    }
}
