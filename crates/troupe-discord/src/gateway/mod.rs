//! The gateway side: which shards this process runs, their loops, resuming the sessions the
//! previous process left, and the shutdown that leaves them for the next one.
//!
//! Shutdown: every shard closes with a resumable close (so Discord keeps its session and
//! queues the events that follow), the work already taken finishes within the grace, and each
//! session is saved with the sequence number to resume after: the last event whose work
//! started. The next process resumes there, and Discord replays the rest: a restart loses no
//! event and answers none twice.

mod backoff;
pub(crate) mod queue;
pub(crate) mod sequence;
mod shard;

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use troupe_ports::StoredSession;
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{ConfigBuilder, Intents, Session, Shard, ShardId};
use twilight_model::id::Id;
use twilight_model::id::marker::ApplicationMarker;

use crate::bot::{BotError, Ctx};
use crate::ids;
use crate::rest::fresh;
use crate::slash::discord_commands;
use queue::{IdentifyQueue, SharedQueue};
use shard::ShardExit;

/// Saved sessions older than this are not resumed (Discord has forgotten them).
const SESSION_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The intents Troupe needs.
pub(crate) fn intents() -> Intents {
    Intents::GUILDS
        | Intents::GUILD_MESSAGES
        | Intents::DIRECT_MESSAGES
        | Intents::MESSAGE_CONTENT
        | Intents::GUILD_WEBHOOKS
}

/// The shards of this process.
struct Plan {
    total: u32,
    range: Range<u32>,
    queue: IdentifyQueue,
}

/// The identify queue: fleet-wide through the store when configured, else this process's.
fn identify_queue(
    ctx: &Ctx,
    max_concurrency: u32,
    local: impl FnOnce() -> InMemoryQueue,
) -> IdentifyQueue {
    match &ctx.config.identify {
        Some(shared) => IdentifyQueue::Shared(SharedQueue::new(
            Arc::clone(shared),
            max_concurrency,
            ctx.config.identify_pacing,
            ctx.platform.monitor(),
        )),
        None => IdentifyQueue::Local(local()),
    }
}

async fn plan(ctx: &Ctx) -> Result<Plan, BotError> {
    let http = ctx.platform.http();
    let info = ctx
        .platform
        .rest()
        .global("get gateway", || async {
            Ok(fresh(http.gateway().authed()).await?.model().await?)
        })
        .await;
    let fleet_wide = ctx.config.identify.is_some();
    let (total, queue) = match &info {
        Ok(info) => {
            let limit = &info.session_start_limit;
            ctx.platform
                .monitor()
                .set_session_starts(queue::session_starts(
                    limit.total,
                    limit.remaining,
                    Duration::from_millis(limit.reset_after),
                    u32::from(limit.max_concurrency),
                    fleet_wide,
                    ctx.deps.clock.now(),
                ));
            (
                ctx.config.shards.total.unwrap_or(info.shards.max(1)),
                identify_queue(ctx, u32::from(limit.max_concurrency), || {
                    InMemoryQueue::new(
                        limit.max_concurrency,
                        limit.remaining.min(limit.total),
                        Duration::from_millis(limit.reset_after),
                        limit.total,
                    )
                }),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read Discord's gateway information; using defaults");
            (
                ctx.config.shards.total.unwrap_or(1),
                identify_queue(ctx, 1, InMemoryQueue::default),
            )
        }
    };
    let range = ctx.config.shards.range.clone().unwrap_or(0..total);
    if range.start >= range.end || range.end > total {
        return Err(BotError::InvalidShards(format!(
            "shard range {}..{} must be a non-empty part of 0..{total}",
            range.start, range.end
        )));
    }
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    if range.len() > workers {
        tracing::info!(
            shards = range.len(),
            workers,
            "more shards than runtime workers: set TROUPE_SHARDS to size the runtime for them"
        );
    }
    Ok(Plan {
        total,
        range,
        queue,
    })
}

fn queue_kind(config: &twilight_gateway::Config<IdentifyQueue>) -> &'static str {
    match config.queue() {
        IdentifyQueue::Local(_) => "this process",
        IdentifyQueue::Shared(_) => "fleet-wide",
    }
}

/// The sessions the previous process left for these shards.
async fn load_sessions(ctx: &Ctx, total: u32, range: Range<u32>) -> HashMap<u32, StoredSession> {
    let Some(store) = &ctx.config.sessions else {
        return HashMap::new();
    };
    let not_before = ctx.deps.clock.now().minus(SESSION_MAX_AGE);
    match store.take_sessions(total, range, not_before).await {
        Ok(sessions) => sessions.into_iter().map(|s| (s.shard, s)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the saved gateway sessions; identifying anew");
            HashMap::new()
        }
    }
}

/// Saves each shard's session with its resume point.
async fn save_sessions(ctx: &Ctx, total: u32, exits: &[ShardExit]) {
    let Some(store) = &ctx.config.sessions else {
        return;
    };
    for exit in exits {
        let Some(session) = &exit.session else {
            continue;
        };
        let sequence = exit.queues.sequences.resume_point(session.sequence());
        let stored = StoredSession {
            shard: exit.number,
            total,
            session_id: session.id().to_owned(),
            sequence,
            resume_url: exit.resume_url.clone(),
            saved_at: ctx.deps.clock.now(),
        };
        match store.save_session(&stored).await {
            Ok(()) => tracing::info!(
                shard = exit.number,
                sequence,
                received = session.sequence(),
                "gateway session saved for the next process"
            ),
            Err(e) => {
                tracing::warn!(shard = exit.number, error = %e, "cannot save the gateway session; the next process identifies anew");
            }
        }
    }
}

/// Registers the slash commands once per process (after the first READY).
pub(crate) fn register_commands_once(ctx: &Arc<Ctx>, application: Id<ApplicationMarker>) {
    if !ctx.config.register_commands || ctx.commands_registered.swap(true, Ordering::SeqCst) {
        return;
    }
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        let commands = discord_commands();
        let client = ctx.platform.http().interaction(application);
        let result = ctx
            .platform
            .rest()
            .global("register commands", || async {
                match ctx.config.dev_guild {
                    Some(guild) => {
                        fresh(client.set_guild_commands(ids::to_guild(guild), &commands)).await?
                    }
                    None => fresh(client.set_global_commands(&commands)).await?,
                };
                Ok(())
            })
            .await;
        match result {
            Ok(()) => tracing::info!(
                count = commands.len(),
                scope = if ctx.config.dev_guild.is_some() {
                    "guild"
                } else {
                    "global"
                },
                "slash commands registered"
            ),
            Err(e) => tracing::error!(error = %e, "cannot register slash commands"),
        }
    });
}

/// Runs the shards until `shutdown`, then stops as the module says.
pub(crate) async fn run(
    ctx: Arc<Ctx>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BotError> {
    let Plan {
        total,
        range,
        queue,
    } = plan(&ctx).await?;
    let mut saved = load_sessions(&ctx, total, range.clone()).await;
    let mut builder = ConfigBuilder::new(
        secrecy::ExposeSecret::expose_secret(&ctx.config.token).to_owned(),
        intents(),
    )
    .queue(queue);
    if let Some(url) = &ctx.config.gateway_url {
        builder = builder.proxy_url(url.trim_end_matches('/').to_owned());
    }
    let config = builder.build();
    tracing::info!(shards = ?range, total, resuming = saved.len(), queue = ?queue_kind(&config), "starting gateway shards");
    let (stop, stopping) = watch::channel(false);
    let monitor = ctx.platform.monitor();
    let mut loops = tokio::task::JoinSet::new();
    for number in range.clone() {
        let mut builder = ConfigBuilder::from(config.clone());
        if let Some(s) = saved.remove(&number) {
            builder = builder.session(Session::new(s.sequence, s.session_id));
            if let Some(url) = s.resume_url {
                builder = builder.resume_url(url);
            }
        }
        monitor.register(number);
        let shard = Shard::with_config(ShardId::new(number, total), builder.build());
        loops.spawn(shard::run(
            Arc::clone(&ctx),
            shard,
            ctx.lanes.shard_queues(),
            stopping.clone(),
        ));
    }
    tokio::pin!(shutdown);
    let mut exits = Vec::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            joined = loops.join_next() => match joined {
                Some(Ok(exit)) => {
                    if exit.fatal {
                        tracing::error!(shard = exit.number, "this shard stopped for good; the others go on");
                    }
                    exits.push(exit);
                }
                Some(Err(e)) => tracing::error!(error = %e, "a shard loop failed"),
                None => return Err(BotError::GatewayClosed),
            },
        }
    }
    tracing::info!(
        "shutting down: closing the gateway sessions so the next process can resume them"
    );
    let _ = stop.send(true);
    while let Some(joined) = loops.join_next().await {
        if let Ok(exit) = joined {
            exits.push(exit);
        }
    }
    tracing::info!("finishing in-flight work");
    if let Some(relay) = &ctx.relay {
        relay.close();
    }
    ctx.tasks.close();
    if tokio::time::timeout(ctx.config.shutdown_grace, ctx.tasks.wait())
        .await
        .is_ok()
    {
        tracing::info!("in-flight work finished");
    } else {
        tracing::warn!(
            grace = ?ctx.config.shutdown_grace,
            "in-flight work did not finish in time; stopping it (events not started yet are replayed to the next process)"
        );
        ctx.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), ctx.tasks.wait()).await;
    }
    save_sessions(&ctx, total, &exits).await;
    for number in range {
        monitor.stopped(number);
    }
    tracing::info!("gateway closed");
    Ok(())
}
