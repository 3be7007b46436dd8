//! One shard's loop. It only polls the gateway and hands events on: updating the cache and the
//! monitor is quick and synchronous, and work goes to the event lanes with a try that never
//! waits, so heartbeats go out on time whatever the work does. A failed reconnect is followed
//! by this crate's capped backoff (the shard is rebuilt with its session, so twilight's own
//! doubling up to 128 s never applies). On stop it closes with a resumable close and returns
//! the session.

use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream as _;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;
use twilight_gateway::error::ReceiveMessageErrorType;
use twilight_gateway::queue::Queue;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Message, Session, Shard, ShardState,
};

use super::backoff;
use crate::bot::Ctx;
use crate::lanes::{Lane, ShardQueues};
use crate::{interactions, messages};

/// How long a closing shard waits for Discord to confirm the close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a shard loop leaves behind.
#[derive(Debug)]
pub(crate) struct ShardExit {
    pub number: u32,
    /// The session to resume (absent when the shard never identified or closed for good).
    pub session: Option<Session>,
    pub resume_url: Option<String>,
    pub queues: ShardQueues,
    /// Closed for good by Discord (bad token, disallowed intents).
    pub fatal: bool,
}

/// The events twilight parses. A MESSAGE_CREATE only in a gateway process (`relaying`), which
/// relays twilight's whole message; elsewhere the shard loop reads it itself.
pub(crate) fn wanted_events(relaying: bool) -> EventTypeFlags {
    let message_create = if relaying {
        EventTypeFlags::MESSAGE_CREATE
    } else {
        EventTypeFlags::empty()
    };
    message_create
        | EventTypeFlags::GATEWAY_HELLO
        | EventTypeFlags::GATEWAY_HEARTBEAT_ACK
        | EventTypeFlags::GATEWAY_INVALIDATE_SESSION
        | EventTypeFlags::GATEWAY_RECONNECT
        | EventTypeFlags::READY
        | EventTypeFlags::RESUMED
        | EventTypeFlags::GUILD_CREATE
        | EventTypeFlags::GUILD_UPDATE
        | EventTypeFlags::GUILD_DELETE
        | EventTypeFlags::CHANNEL_CREATE
        | EventTypeFlags::CHANNEL_UPDATE
        | EventTypeFlags::CHANNEL_DELETE
        | EventTypeFlags::THREAD_CREATE
        | EventTypeFlags::THREAD_UPDATE
        | EventTypeFlags::THREAD_DELETE
        | EventTypeFlags::ROLE_CREATE
        | EventTypeFlags::ROLE_UPDATE
        | EventTypeFlags::ROLE_DELETE
        | EventTypeFlags::MESSAGE_DELETE
        | EventTypeFlags::INTERACTION_CREATE
}

fn exit<Q>(shard: &Shard<Q>, queues: ShardQueues, fatal: bool) -> ShardExit {
    ShardExit {
        number: shard.id().number(),
        session: shard.session().cloned(),
        resume_url: shard.resume_url().map(str::to_owned),
        queues,
        fatal,
    }
}

/// The same shard with its session, to connect again at once (no twilight backoff).
fn rebuilt<Q: Clone>(shard: &Shard<Q>) -> Shard<Q> {
    let builder = ConfigBuilder::from(shard.config().clone());
    let builder = match shard.session() {
        Some(session) => builder.session(session.clone()),
        None => builder,
    };
    Shard::with_config(shard.id(), builder.build())
}

/// Runs the shard until `stop` turns true or Discord closes it for good.
pub(crate) async fn run<Q>(
    ctx: Arc<Ctx>,
    mut shard: Shard<Q>,
    queues: ShardQueues,
    mut stop: watch::Receiver<bool>,
) -> ShardExit
where
    Q: Queue + Clone + Send + Sync + Unpin + 'static,
{
    let number = shard.id().number();
    let monitor = ctx.platform.monitor();
    let mut failures = 0u32;
    let mut closing: Option<Instant> = None;
    loop {
        let item = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop), if closing.is_none() => {
                if matches!(shard.state(), ShardState::Disconnected { .. } | ShardState::FatallyClosed) {
                    return exit(&shard, queues, false);
                }
                // Not 1000/1001: Discord keeps the session for the next process to resume.
                shard.close(CloseFrame::RESUME);
                closing = Some(Instant::now() + CLOSE_TIMEOUT);
                continue;
            }
            () = tokio::time::sleep_until(closing.unwrap_or_else(Instant::now)), if closing.is_some() => {
                tracing::warn!(shard = number, "the gateway did not confirm the close in time");
                return exit(&shard, queues, false);
            }
            item = std::future::poll_fn(|cx| std::pin::Pin::new(&mut shard).poll_next(cx)) => item,
        };
        let item = match item {
            // A MESSAGE_CREATE is read straight into what its work keeps, except in a gateway
            // process, which relays twilight's whole message (relay.rs).
            Some(Ok(Message::Text(json))) if ctx.relay.is_none() && is_message_create(&json) => {
                match messages::received_from_gateway(&json) {
                    Ok(message) => {
                        monitor.event(number);
                        let seq = shard.session().map(Session::sequence);
                        on_message(&ctx, number, &queues, seq, message);
                    }
                    // Malformed: log the reader's error (not the frame) and skip, never crash.
                    Err(e) => {
                        tracing::warn!(shard = number, error = %e, "gateway message skipped");
                    }
                }
                continue;
            }
            Some(Ok(Message::Text(json))) => {
                match twilight_gateway::parse(json, wanted_events(ctx.relay.is_some())) {
                    Ok(Some(event)) => Some(Ok(Event::from(event))),
                    Ok(None) => continue,
                    Err(e) => Some(Err(e)),
                }
            }
            Some(Ok(Message::Close(frame))) => Some(Ok(Event::GatewayClose(frame))),
            Some(Err(e)) => Some(Err(e)),
            None => None,
        };
        let event = match item {
            None => {
                if closing.is_none() {
                    tracing::error!(shard = number, "shard closed for good");
                }
                monitor.stopped(number);
                return exit(&shard, queues, closing.is_none());
            }
            Some(Err(e)) if matches!(e.kind(), ReceiveMessageErrorType::Reconnect) => {
                if closing.is_some() {
                    return exit(&shard, queues, false);
                }
                monitor.reconnect_failed(number);
                failures = failures.saturating_add(1);
                let wait =
                    backoff::delay(failures, ctx.config.reconnect_max_delay, fastrand::f64());
                tracing::warn!(shard = number, attempt = failures, retry_in = ?wait, error = %e, "cannot reach the Discord gateway");
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return exit(&shard, queues, false),
                    () = tokio::time::sleep(wait) => {}
                }
                shard = rebuilt(&shard);
                continue;
            }
            Some(Err(e)) => {
                // Malformed or unknown payloads: log and skip, never crash.
                tracing::warn!(shard = number, error = %e, "gateway message skipped");
                continue;
            }
            Some(Ok(event)) => event,
        };
        monitor.event(number);
        ctx.platform.cache().apply(&event);
        let seq = shard.session().map(Session::sequence);
        let latency = shard.latency().recent().first().copied();
        if crate::relay::divert(&ctx, number, &event, &queues.sequences, seq, latency) {
            continue;
        }
        match event {
            Event::GatewayHello(_) if closing.is_some() => {
                // The gateway ended the connection without confirming the close, and twilight
                // connected again: leave before it resumes (the session stays resumable).
                monitor.stopped(number);
                return exit(&shard, queues, false);
            }
            Event::GatewayHello(hello) => {
                monitor.hello(
                    number,
                    Duration::from_millis(hello.heartbeat_interval),
                    shard.session().is_some(),
                );
            }
            Event::GatewayHeartbeatAck => {
                monitor.heartbeat_ack(number, shard.latency().recent().first().copied());
            }
            Event::Ready(ready) => {
                tracing::info!(shard = number, guilds = ready.guilds.len(), "gateway ready");
                monitor.connected(number);
                failures = 0;
                for guild in &ready.guilds {
                    monitor.guild_available(guild.id.get());
                }
                super::register_commands_once(&ctx, ready.application.id);
            }
            Event::Resumed => {
                tracing::info!(shard = number, "gateway session resumed");
                monitor.connected(number);
                failures = 0;
            }
            Event::GatewayClose(frame) => {
                if closing.is_some() {
                    monitor.stopped(number);
                    return exit(&shard, queues, false);
                }
                tracing::info!(shard = number, code = ?frame.as_ref().map(|f| f.code), "gateway connection closed; reconnecting");
                monitor.connection_lost(number);
            }
            Event::GatewayReconnect | Event::GatewayInvalidateSession(_) => {
                monitor.connection_lost(number);
            }
            Event::GuildCreate(guild) => monitor.guild_available(guild.id().get()),
            Event::GuildDelete(guild) => monitor.guild_gone(guild.id.get()),
            Event::MessageDelete(deleted) => messages::deleted(&ctx, &deleted),
            Event::InteractionCreate(interaction) => {
                let interaction = interaction.0;
                let Some(data) = interactions::command_data(&interaction) else {
                    continue;
                };
                let span = tracing::info_span!(
                    "interaction",
                    shard = number,
                    guild = tracing::field::Empty,
                    channel = tracing::field::Empty,
                    interaction = interaction.id.get(),
                    command = data.name.as_str(),
                );
                if let Some(guild) = interaction.guild_id {
                    span.record("guild", guild.get());
                }
                if let Some(channel) = interaction.channel.as_ref() {
                    span.record("channel", channel.id.get());
                }
                let received = Instant::now();
                let seq = shard.session().map(Session::sequence);
                match ctx.lanes.admit(Lane::Commands, &queues, seq) {
                    Some(ticket) => {
                        let task_ctx = Arc::clone(&ctx);
                        let id = interaction.id.get();
                        ctx.spawn(
                            crate::relay::in_event(
                                id,
                                interactions::handle(task_ctx, interaction, Some(ticket), received),
                            )
                            .instrument(span),
                        );
                    }
                    None => span.in_scope(|| interactions::shed(&ctx, interaction)),
                }
            }
            _ => {}
        }
    }
}

/// A MESSAGE_CREATE to its lane: its work queued as data, or shed when the lane is full.
fn on_message(
    ctx: &Arc<Ctx>,
    number: u32,
    queues: &ShardQueues,
    seq: Option<u64>,
    message: messages::Received,
) {
    let Some(lane) = messages::lane_of(ctx, &message) else {
        return;
    };
    let span = tracing::info_span!(
        "message",
        shard = number,
        guild = tracing::field::Empty,
        channel = message.channel.get(),
        message = message.id.get(),
        command = tracing::field::Empty,
    );
    if let Some(guild) = message.guild {
        span.record("guild", guild.get());
    }
    match ctx.lanes.admit(lane, queues, seq) {
        Some(ticket) => {
            // A queued message waits as data (what its handling reads); its task is spawned
            // when a slot is handed to it, so a full queue stays small.
            let task_ctx = Arc::clone(ctx);
            ticket.then(move |running| {
                let id = message.id.get();
                let spawner = Arc::clone(&task_ctx);
                spawner.spawn(
                    crate::relay::in_event(id, async move {
                        let _running = running.begin();
                        messages::handle(task_ctx, message, lane).await;
                    })
                    .instrument(span),
                );
            });
        }
        None => span.in_scope(|| messages::shed(ctx, &message, lane)),
    }
}

/// Whether a gateway text is a MESSAGE_CREATE dispatch, from its `t` key alone (one scan, where
/// twilight's `GatewayEventDeserializer` scans for `op`, `s` and `t`; only a dispatch has a
/// string `t`). It judges as twilight does — the string after the first `"t":` — so what this
/// does not call a MESSAGE_CREATE, twilight's parser would not either.
fn is_message_create(json: &str) -> bool {
    json.find(r#""t":"#).is_some_and(|at| {
        json[at + 4..]
            .trim_start()
            .starts_with(r#""MESSAGE_CREATE""#)
    })
}

#[cfg(test)]
mod tests {
    use super::is_message_create;

    #[test]
    fn a_message_create_is_told_by_its_event_type_wherever_the_key_is() {
        for json in [
            r#"{"t":"MESSAGE_CREATE","s":3,"op":0,"d":{}}"#,
            r#"{"d":{"content":"\"t\":\"READY\""},"op":0,"s":3,"t": "MESSAGE_CREATE"}"#,
        ] {
            assert!(is_message_create(json), "{json}");
        }
        for json in [
            r#"{"t":"MESSAGE_DELETE","s":3,"op":0,"d":{}}"#,
            r#"{"t":null,"s":null,"op":11,"d":null}"#,
            r#"{"d":{"content":"\"t\":\"MESSAGE_CREATE\""},"op":0,"s":3,"t":"READY"}"#,
            r#"{"op":1}"#,
            r#"{"t":"#,
        ] {
            assert!(!is_message_create(json), "{json}");
        }
    }
}
