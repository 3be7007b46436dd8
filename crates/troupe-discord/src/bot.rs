//! The gateway side: shard loops, event → request mapping, outcome delivery, shutdown.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use troupe_application::catalog::slash::arguments;
use troupe_application::dispatch::{Dispatched, Dispatcher};
use troupe_application::flow::{Author, IncomingMessage, MessageHandler};
use troupe_application::shadow::ShadowJob;
use troupe_application::{
    Category, CommandRequest, FollowUp, Invoker, Location, Permissions, RequestSource,
};
use troupe_domain::UserId;
use troupe_ports::{ChatPlatform, Clock, GatewayState};
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, MessageSender, Shard, ShardId,
    StreamExt as _,
};
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::Message;
use twilight_model::channel::message::MessageFlags;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::Permissions as DiscordPermissions;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker};

use crate::config::DiscordConfig;
use crate::errors::{RestError, retry};
use crate::ids;
use crate::platform::DiscordPlatform;
use crate::render::reply_embed;
use crate::slash::{command_named, discord_commands, option_values};

/// Runs a shadow job after its outcome was delivered (the binary passes its `run_shadow`).
pub type ShadowHook =
    Arc<dyn Fn(ShadowJob) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What the bot hands Discord events to.
pub struct BotDeps {
    pub dispatcher: Arc<Dispatcher>,
    /// The message flow; `None`: messages that are not commands are ignored.
    pub messages: Option<Arc<dyn MessageHandler>>,
    pub clock: Arc<dyn Clock>,
    pub bot_owners: BTreeSet<UserId>,
    pub shadow: Option<ShadowHook>,
}

impl std::fmt::Debug for BotDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotDeps")
            .field("messages", &self.messages.is_some())
            .finish_non_exhaustive()
    }
}

/// A running shard, as seen from outside its loop.
#[derive(Debug, Clone)]
pub struct ShardHandle {
    pub id: ShardId,
    sender: MessageSender,
}

/// Why the bot stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotError {
    /// The shard range does not fit the shard count.
    InvalidShards(String),
    /// Every shard closed for good (bad token, disallowed intents, …).
    GatewayClosed,
}

impl std::fmt::Display for BotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidShards(why) => write!(f, "invalid shard configuration: {why}"),
            Self::GatewayClosed => f.write_str(
                "the Discord gateway closed every shard for good (check the token and the privileged intents)",
            ),
        }
    }
}

impl std::error::Error for BotError {}

/// The intents Troupe needs.
pub fn intents() -> Intents {
    Intents::GUILDS
        | Intents::GUILD_MESSAGES
        | Intents::DIRECT_MESSAGES
        | Intents::MESSAGE_CONTENT
        | Intents::GUILD_WEBHOOKS
}

fn wanted_events() -> EventTypeFlags {
    EventTypeFlags::GATEWAY_HELLO
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
        | EventTypeFlags::MESSAGE_CREATE
        | EventTypeFlags::MESSAGE_DELETE
        | EventTypeFlags::INTERACTION_CREATE
}

/// Shared state of the shard loops and event tasks.
struct Ctx {
    platform: Arc<DiscordPlatform>,
    deps: BotDeps,
    config: DiscordConfig,
    /// False once shutdown began: new events are not taken.
    accepting: AtomicBool,
    /// True once the gateway is being closed on purpose.
    closing: AtomicBool,
    /// Permits for in-flight event handling.
    in_flight: Arc<tokio::sync::Semaphore>,
    commands_registered: AtomicBool,
}

/// The Discord bot: this process's shards and the event handling.
pub struct Bot {
    ctx: Arc<Ctx>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("config", &self.ctx.config)
            .finish_non_exhaustive()
    }
}

impl Bot {
    /// A bot over `platform` (whose REST client and caches it shares).
    pub fn new(config: DiscordConfig, platform: Arc<DiscordPlatform>, deps: BotDeps) -> Self {
        let permits = config.max_in_flight.max(1);
        Self {
            ctx: Arc::new(Ctx {
                platform,
                deps,
                accepting: AtomicBool::new(true),
                closing: AtomicBool::new(false),
                in_flight: Arc::new(tokio::sync::Semaphore::new(permits)),
                commands_registered: AtomicBool::new(false),
                config,
            }),
        }
    }

    /// Runs the shards until `shutdown` completes, then stops taking new events, lets
    /// in-flight work finish (up to `shutdown_grace`), and closes every shard with a normal
    /// close so the sessions end cleanly. Returns early with an error when every shard closed
    /// for good.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), BotError> {
        let ctx = self.ctx;
        let shards = create_shards(&ctx).await?;
        let handles: Vec<ShardHandle> = shards
            .iter()
            .map(|s| ShardHandle {
                id: s.id(),
                sender: s.sender(),
            })
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for shard in shards {
            ctx.platform.monitor().register(shard.id().number());
            tasks.spawn(shard_loop(Arc::clone(&ctx), shard));
        }
        tokio::pin!(shutdown);
        let fatal = tokio::select! {
            () = &mut shutdown => false,
            () = async { while tasks.join_next().await.is_some() {} } => true,
        };
        if fatal {
            return Err(BotError::GatewayClosed);
        }
        tracing::info!("shutting down: finishing in-flight work");
        ctx.accepting.store(false, Ordering::SeqCst);
        let all = u32::try_from(ctx.config.max_in_flight.max(1)).unwrap_or(u32::MAX);
        let finished =
            tokio::time::timeout(ctx.config.shutdown_grace, ctx.in_flight.acquire_many(all)).await;
        if finished.is_ok() {
            tracing::info!("in-flight work finished");
        } else {
            tracing::warn!(
                grace = ?ctx.config.shutdown_grace,
                "in-flight work did not finish in time; closing anyway"
            );
        }
        ctx.closing.store(true, Ordering::SeqCst);
        for handle in &handles {
            let _ = handle.sender.close(CloseFrame::NORMAL);
        }
        if tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("a shard did not close in time");
            tasks.abort_all();
        }
        for handle in &handles {
            ctx.platform
                .monitor()
                .set_state(handle.id.number(), GatewayState::Disconnected);
        }
        tracing::info!("gateway closed");
        Ok(())
    }
}

async fn create_shards(ctx: &Ctx) -> Result<Vec<Shard<InMemoryQueue>>, BotError> {
    let http = ctx.platform.http();
    let info = retry("get gateway", || async {
        Ok(http.gateway().authed().await?.model().await?)
    })
    .await;
    let (total, queue) = match &info {
        Ok(info) => {
            let limit = &info.session_start_limit;
            (
                ctx.config.shards.total.unwrap_or(info.shards.max(1)),
                InMemoryQueue::new(
                    limit.max_concurrency,
                    limit.remaining.min(limit.total),
                    Duration::from_millis(limit.reset_after),
                    limit.total,
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read Discord's gateway information; using defaults");
            (
                ctx.config.shards.total.unwrap_or(1),
                InMemoryQueue::default(),
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
    let mut builder = ConfigBuilder::new(ctx.config.token.clone(), intents()).queue(queue);
    if let Some(url) = &ctx.config.gateway_url {
        builder = builder.proxy_url(url.trim_end_matches('/').to_owned());
    }
    let config = builder.build();
    tracing::info!(shards = ?range, total, "starting gateway shards");
    Ok(range
        .map(|n| Shard::with_config(ShardId::new(n, total), config.clone()))
        .collect())
}

async fn shard_loop(ctx: Arc<Ctx>, mut shard: Shard<InMemoryQueue>) {
    let number = shard.id().number();
    let monitor = ctx.platform.monitor();
    loop {
        let Some(item) = shard.next_event(wanted_events()).await else {
            tracing::error!(shard = number, "shard closed for good");
            monitor.set_state(number, GatewayState::Disconnected);
            return;
        };
        monitor.event(number);
        let event = match item {
            Ok(event) => event,
            Err(e) => {
                // Malformed or unknown payloads: log and skip, never crash.
                tracing::warn!(shard = number, error = %e, "gateway message skipped");
                continue;
            }
        };
        ctx.platform.cache().apply(&event);
        match event {
            Event::GatewayHello(hello) => {
                monitor.hello(number, Duration::from_millis(hello.heartbeat_interval));
                monitor.set_state(
                    number,
                    if shard.session().is_some() {
                        GatewayState::Resuming
                    } else {
                        GatewayState::Connecting
                    },
                );
            }
            Event::GatewayHeartbeatAck => {
                monitor.heartbeat_ack(number, shard.latency().recent().first().copied());
            }
            Event::Ready(ready) => {
                tracing::info!(shard = number, guilds = ready.guilds.len(), "gateway ready");
                monitor.set_state(number, GatewayState::Connected);
                for guild in &ready.guilds {
                    monitor.guild_available(guild.id.get());
                }
                if !ctx.commands_registered.swap(true, Ordering::SeqCst)
                    && ctx.config.register_commands
                {
                    tokio::spawn(register_commands(Arc::clone(&ctx), ready.application.id));
                }
            }
            Event::Resumed => {
                tracing::info!(shard = number, "gateway session resumed");
                monitor.set_state(number, GatewayState::Connected);
            }
            Event::GatewayClose(frame) => {
                if ctx.closing.load(Ordering::SeqCst) {
                    monitor.set_state(number, GatewayState::Disconnected);
                    return;
                }
                tracing::info!(shard = number, code = ?frame.as_ref().map(|f| f.code), "gateway connection closed; reconnecting");
                monitor.set_state(number, GatewayState::Resuming);
            }
            Event::GatewayReconnect | Event::GatewayInvalidateSession(_) => {
                monitor.set_state(number, GatewayState::Resuming);
            }
            Event::GuildCreate(create) => {
                if let GuildCreate::Available(guild) = create.as_ref() {
                    monitor.guild_available(guild.id.get());
                }
            }
            Event::GuildDelete(delete) if !delete.unavailable.unwrap_or(false) => {
                monitor.guild_gone(delete.id.get());
            }
            Event::MessageCreate(message) => {
                spawn_work(&ctx, on_message(Arc::clone(&ctx), message.message)).await;
            }
            Event::MessageDelete(deleted) => {
                if let Some(handler) = ctx.deps.messages.clone() {
                    let (channel, message) =
                        (ids::channel(deleted.channel_id), ids::message(deleted.id));
                    spawn_work(&ctx, async move {
                        handler.message_deleted(channel, message).await;
                    })
                    .await;
                }
            }
            Event::InteractionCreate(interaction) => {
                spawn_work(&ctx, on_interaction(Arc::clone(&ctx), (*interaction).0)).await;
            }
            _ => {}
        }
    }
}

/// Spawns event handling holding an in-flight permit (waits for one: back-pressure), unless
/// shutdown began.
async fn spawn_work(ctx: &Arc<Ctx>, work: impl Future<Output = ()> + Send + 'static) {
    if !ctx.accepting.load(Ordering::SeqCst) {
        tracing::debug!("shutting down: event not taken");
        return;
    }
    let Ok(permit) = Arc::clone(&ctx.in_flight).acquire_owned().await else {
        return;
    };
    tokio::spawn(async move {
        work.await;
        drop(permit);
    });
}

async fn register_commands(
    ctx: Arc<Ctx>,
    application: Id<twilight_model::id::marker::ApplicationMarker>,
) {
    let commands = discord_commands();
    let client = ctx.platform.http().interaction(application);
    let result = retry("register commands", || async {
        match ctx.config.dev_guild {
            Some(guild) => {
                client
                    .set_guild_commands(ids::to_guild(guild), &commands)
                    .await?
            }
            None => client.set_global_commands(&commands).await?,
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
}

fn to_permissions(p: DiscordPermissions) -> Permissions {
    Permissions {
        administrator: p.contains(DiscordPermissions::ADMINISTRATOR),
        manage_messages: p.contains(DiscordPermissions::MANAGE_MESSAGES),
    }
}

/// Where a guild event happened, resolving unknown channels and guilds over REST once.
async fn guild_location(
    ctx: &Ctx,
    guild: Id<GuildMarker>,
    channel: Id<ChannelMarker>,
    user: Id<UserMarker>,
    roles: &[Id<RoleMarker>],
    with_visible: bool,
) -> (Location, DiscordPermissions) {
    let cache = ctx.platform.cache();
    if cache.age_restricted(channel).is_none()
        && let Ok(facts) = ctx.platform.channel_facts(channel).await
        && let (true, Some(parent)) = (facts.is_thread(), facts.parent)
    {
        let _ = ctx.platform.channel_facts(parent).await;
    }
    if !cache.has_guild(guild) {
        let http = ctx.platform.http();
        match retry("get guild", || async {
            Ok(http.guild(guild).await?.model().await?)
        })
        .await
        {
            Ok(g) => cache.insert_guild(guild, g.owner_id, &g.roles),
            Err(e) => tracing::warn!(error = %e, "cannot read the guild's roles"),
        }
    }
    let permissions = cache
        .permissions(guild, channel, user, roles)
        .unwrap_or_else(DiscordPermissions::empty);
    let visible = if with_visible {
        cache
            .visible_age_restricted(guild, user, roles, 5)
            .into_iter()
            .map(|(id, name)| (ids::channel(id), name))
            .collect()
    } else {
        Vec::new()
    };
    (
        Location::Guild {
            guild: ids::guild(guild),
            channel: ids::channel(channel),
            age_restricted: cache.age_restricted(channel).unwrap_or(false),
            visible_age_restricted: visible,
        },
        permissions,
    )
}

async fn on_message(ctx: Arc<Ctx>, message: Message) {
    let cache = ctx.platform.cache();
    if Some(message.author.id) == cache.bot_user() {
        return;
    }
    let own_webhook = message.webhook_id.is_some_and(|w| cache.is_own_webhook(w));
    let via_proxy = message.webhook_id.is_some() && !own_webhook;
    let maybe_command = message
        .content
        .trim_start()
        .starts_with(ctx.deps.dispatcher.prefix());
    let (location, permissions) = match message.guild_id {
        None => {
            cache.insert_dm(message.author.id, message.channel_id);
            (
                Location::Dm {
                    channel: ids::channel(message.channel_id),
                },
                DiscordPermissions::empty(),
            )
        }
        Some(guild) => {
            let roles = message
                .member
                .as_ref()
                .map(|m| m.roles.as_slice())
                .unwrap_or_default();
            guild_location(
                &ctx,
                guild,
                message.channel_id,
                message.author.id,
                roles,
                maybe_command,
            )
            .await
        }
    };
    let author = ids::user(message.author.id);
    let display_name = message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .unwrap_or_else(|| message.author.name.clone());
    let received_at = ctx.deps.clock.now();
    let is_bot = message.author.bot && message.webhook_id.is_none();
    if maybe_command && !is_bot && !own_webhook {
        let invoker = Invoker {
            id: author,
            display_name: display_name.clone(),
            is_bot_owner: ctx.deps.bot_owners.contains(&author),
            permissions: to_permissions(permissions),
            via_proxy,
        };
        if let Some(dispatched) = ctx
            .deps
            .dispatcher
            .dispatch_text(
                &message.content,
                invoker,
                location.clone(),
                RequestSource::Message(ids::message(message.id)),
                received_at,
            )
            .await
        {
            deliver_message_outcome(&ctx, &message, dispatched).await;
            return;
        }
    }
    let Some(handler) = &ctx.deps.messages else {
        return;
    };
    let incoming = IncomingMessage {
        id: ids::message(message.id),
        author: Author {
            id: author,
            display_name,
            is_bot,
            is_own_webhook: own_webhook,
            via_proxy,
        },
        location,
        content: message.content.clone(),
        reply_to: message
            .reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(ids::message),
        quoted: message
            .referenced_message
            .as_ref()
            .map(|m| m.content.clone()),
        images: message
            .attachments
            .iter()
            .filter(|a| {
                a.content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"))
            })
            .map(|a| a.url.clone())
            .collect(),
        received_at,
    };
    handler.handle(incoming).await;
}

async fn deliver_message_outcome(ctx: &Arc<Ctx>, message: &Message, mut dispatched: Dispatched) {
    let platform = &ctx.platform;
    let mut reply_id = None;
    if let Some(reply) = &dispatched.outcome.reply {
        match platform
            .send_reply(message.channel_id, &[reply_embed(reply)], Some(message.id))
            .await
        {
            Ok(id) => reply_id = Some(id),
            Err(e) => {
                tracing::warn!(error = %e, reference = ?dispatched.outcome.reference.map(|r| r.to_string()), "cannot deliver a command reply");
            }
        }
    }
    for follow_up in std::mem::take(&mut dispatched.outcome.follow_ups) {
        match follow_up {
            FollowUp::SendDm { user, message } => {
                if let Err(e) = platform.send_dm(user, message).await {
                    tracing::info!(error = %e, "follow-up DM not delivered");
                }
            }
            FollowUp::DeleteInvokingMessage => {
                if let Err(e) = platform
                    .delete_message(ids::channel(message.channel_id), ids::message(message.id))
                    .await
                {
                    tracing::info!(error = %e, "cannot delete the invoking message");
                }
            }
            FollowUp::DeleteReplyAfter(after) => {
                if let Some(reply) = reply_id {
                    let platform = Arc::clone(platform);
                    let channel = ids::channel(message.channel_id);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = platform.delete_message(channel, ids::message(reply)).await;
                    });
                }
            }
        }
    }
    run_shadow(ctx, &mut dispatched).await;
}

async fn run_shadow(ctx: &Ctx, dispatched: &mut Dispatched) {
    if let (Some(job), Some(hook)) = (dispatched.take_shadow_job(), &ctx.deps.shadow) {
        hook(job).await;
    }
}

async fn on_interaction(ctx: Arc<Ctx>, interaction: Interaction) {
    if interaction.kind != InteractionType::ApplicationCommand {
        return;
    }
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        return;
    };
    let client = ctx.platform.http().interaction(interaction.application_id);
    let Some(command) = command_named(&data.name) else {
        tracing::warn!(name = %data.name, "unknown slash command");
        let response = InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(InteractionResponseData {
                content: Some(format!(
                    "Unknown command. Try `{} help`.",
                    ctx.deps.dispatcher.prefix()
                )),
                flags: Some(MessageFlags::EPHEMERAL),
                ..InteractionResponseData::default()
            }),
        };
        let _ = retry("respond to interaction", || async {
            client
                .create_response(interaction.id, &interaction.token, &response)
                .await?;
            Ok(())
        })
        .await;
        return;
    };
    let user = interaction
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(interaction.user.as_ref());
    let Some(user) = user else {
        tracing::warn!("interaction without a user; skipped");
        return;
    };
    let channel = interaction.channel.as_ref().map(|c| c.id).or({
        #[allow(deprecated)]
        interaction.channel_id
    });
    let Some(channel) = channel else {
        tracing::warn!("interaction without a channel; skipped");
        return;
    };
    if let Some(c) = &interaction.channel
        && ctx.platform.cache().channel(c.id).is_none()
        && interaction.guild_id.is_some()
        && !c.kind.is_thread()
    {
        // The partial channel carries the age-restricted flag.
        let mut full = c.clone();
        full.guild_id = interaction.guild_id;
        ctx.platform.cache().insert_channel(&full);
    }
    let (location, permissions) = match interaction.guild_id {
        None => {
            ctx.platform.cache().insert_dm(user.id, channel);
            (
                Location::Dm {
                    channel: ids::channel(channel),
                },
                DiscordPermissions::empty(),
            )
        }
        Some(guild) => {
            let roles = interaction
                .member
                .as_ref()
                .map(|m| m.roles.as_slice())
                .unwrap_or_default();
            let (location, computed) =
                guild_location(&ctx, guild, channel, user.id, roles, true).await;
            // Discord computes the member's permissions in the channel for interactions.
            let permissions = interaction
                .member
                .as_ref()
                .and_then(|m| m.permissions)
                .unwrap_or(computed);
            (location, permissions)
        }
    };
    let invoker_id = ids::user(user.id);
    let display_name = interaction
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| user.global_name.clone())
        .unwrap_or_else(|| user.name.clone());
    let pairs = option_values(&data.options);
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = CommandRequest {
        invoker: Invoker {
            id: invoker_id,
            display_name,
            is_bot_owner: ctx.deps.bot_owners.contains(&invoker_id),
            permissions: to_permissions(permissions),
            via_proxy: false,
        },
        location,
        source: RequestSource::Interaction(ids::message(interaction.id)),
        command,
        invoked_as: command.as_str().to_owned(),
        args: arguments(command, &borrowed),
        received_at: ctx.deps.clock.now(),
    };
    let dispatch = ctx.deps.dispatcher.dispatch(&request);
    tokio::pin!(dispatch);
    let mut deferred = false;
    let mut dispatched = tokio::select! {
        d = &mut dispatch => d,
        () = tokio::time::sleep(ctx.config.defer_after) => {
            deferred = true;
            let ephemeral = command.category() == Category::Authentication;
            let response = InteractionResponse {
                kind: InteractionResponseType::DeferredChannelMessageWithSource,
                data: Some(InteractionResponseData {
                    flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                    ..InteractionResponseData::default()
                }),
            };
            if let Err(e) = retry("defer interaction", || async {
                client.create_response(interaction.id, &interaction.token, &response).await?;
                Ok(())
            }).await {
                tracing::warn!(error = %e, "cannot defer an interaction");
            }
            dispatch.await
        }
    };
    let delivered: Result<bool, RestError> = match (&dispatched.outcome.reply, deferred) {
        (Some(reply), false) => {
            let embeds = [reply_embed(reply)];
            let response = InteractionResponse {
                kind: InteractionResponseType::ChannelMessageWithSource,
                data: Some(InteractionResponseData {
                    embeds: Some(embeds.to_vec()),
                    flags: reply.ephemeral.then_some(MessageFlags::EPHEMERAL),
                    ..InteractionResponseData::default()
                }),
            };
            retry("respond to interaction", || async {
                client
                    .create_response(interaction.id, &interaction.token, &response)
                    .await?;
                Ok(true)
            })
            .await
        }
        (Some(reply), true) => {
            let embeds = [reply_embed(reply)];
            retry("edit interaction response", || async {
                client
                    .update_response(&interaction.token)
                    .embeds(Some(&embeds))
                    .await?;
                Ok(true)
            })
            .await
        }
        (None, true) => {
            retry("delete interaction response", || async {
                client.delete_response(&interaction.token).await?;
                Ok(false)
            })
            .await
        }
        (None, false) => Ok(false),
    };
    let replied = match delivered {
        Ok(replied) => replied,
        Err(e) => {
            tracing::warn!(error = %e, "cannot deliver a slash command reply");
            false
        }
    };
    for follow_up in std::mem::take(&mut dispatched.outcome.follow_ups) {
        match follow_up {
            FollowUp::SendDm { user, message } => {
                if let Err(e) = ctx.platform.send_dm(user, message).await {
                    tracing::info!(error = %e, "follow-up DM not delivered");
                }
            }
            FollowUp::DeleteInvokingMessage => {}
            FollowUp::DeleteReplyAfter(after) if replied => {
                let platform = Arc::clone(&ctx.platform);
                let application = interaction.application_id;
                let token = interaction.token.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let client = platform.http().interaction(application);
                    let _ = retry("delete interaction response", || async {
                        client.delete_response(&token).await?;
                        Ok(())
                    })
                    .await;
                });
            }
            FollowUp::DeleteReplyAfter(_) => {}
        }
    }
    run_shadow(&ctx, &mut dispatched).await;
}
