//! `troupe run`: the Discord bot. Builds the Discord platform and the application core over it,
//! runs this process's gateway shards, and shuts down gracefully on SIGTERM or SIGINT: close the
//! gateway sessions so they stay resumable, finish the work already taken within a bound, and
//! save the sessions in the store, where the next process resumes them (no event lost).

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use troupe_application::flow::MessageHandler;
use troupe_discord::{
    Bot, BotDeps, DiscordConfig, DiscordPlatform, EventBudgets, IdentifyPacing, RestLimit,
    ShadowHook, ShardPlan,
};
use troupe_ports::{EventRelay, GatewaySessions, ShardSpan, SharedRateLimit};
use troupe_store::{BackendKind, Store};

use crate::config::Config;
use crate::wiring::{App, Claims, run_shadow};

/// Options of `troupe run` beyond the configuration.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Turn off the client-side REST rate limiter (only against a fake Discord or a proxy that
    /// enforces Discord's limits itself).
    pub no_rest_ratelimit: bool,
    /// The message flow (messages that are not commands); `None`: they are ignored.
    pub messages: Option<Arc<dyn MessageHandler>>,
    /// How long shutdown waits for in-flight work (default `TROUPE_SHUTDOWN_GRACE_MS`).
    pub shutdown_grace: Option<Duration>,
    /// A slash command not answered this long after it arrived is deferred (default 1.5 s).
    pub defer_after: Option<Duration>,
    /// `troupe gateway`: hand the events to this broker instead of handling them.
    pub relay: Option<Arc<dyn EventRelay>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("no_rest_ratelimit", &self.no_rest_ratelimit)
            .field("messages", &self.messages.is_some())
            .finish_non_exhaustive()
    }
}

/// The Discord adapter's settings from the configuration. With `store`, gateway sessions are
/// kept in it across restarts (see [`shares_global_limit`] for the REST limit).
pub fn discord_config(
    config: &Config,
    options: &RunOptions,
    store: Option<&Store>,
) -> anyhow::Result<DiscordConfig> {
    let token = config.discord_token.as_ref().ok_or_else(|| {
        crate::exit::UsageError::new(
            "DISCORD_TOKEN: required by `troupe run` (try `troupe console` to use Troupe without \
             Discord)",
        )
    })?;
    let mut discord = DiscordConfig::new(token.expose());
    discord.gateway_url.clone_from(&config.discord_gateway_url);
    discord.api_proxy.clone_from(&config.discord_api_proxy);
    discord.shards = ShardPlan {
        total: config.shards,
        range: config.shard_range.clone(),
    };
    discord.dev_guild = config.discord_dev_guild;
    let settings = &config.discord;
    discord.budgets = EventBudgets {
        commands_running: settings.commands_running,
        commands_queued: settings.commands_queued,
        messages_running: settings.messages_running,
        messages_queued: settings.messages_queued,
    };
    discord.rest_timeout = Duration::from_millis(settings.rest_timeout_ms);
    discord.reconnect_max_delay = Duration::from_millis(settings.reconnect_max_ms);
    discord.shutdown_grace = options
        .shutdown_grace
        .unwrap_or(Duration::from_millis(settings.shutdown_grace_ms));
    if let Some(defer_after) = options.defer_after {
        discord.defer_after = defer_after;
    }
    discord.rest_limit = (!options.no_rest_ratelimit).then(RestLimit::default);
    discord.sessions = store.map(|s| Arc::new(s.clone()) as Arc<dyn GatewaySessions>);
    // The identify queue is fleet-wide wherever the REST limit is shared (ADR 0041).
    discord.identify = store
        .filter(|s| shares_global_limit(config, s))
        .map(|s| Arc::new(s.clone()) as Arc<dyn SharedRateLimit>);
    discord.identify_pacing = IdentifyPacing {
        interval: Duration::from_millis(settings.identify_interval_ms),
        // A quarter of the interval (at most the default 500 ms) for the time between taking
        // a turn and the IDENTIFY reaching Discord.
        margin: (Duration::from_millis(settings.identify_interval_ms) / 4)
            .min(IdentifyPacing::default().margin),
    };
    Ok(discord)
}

/// Whether Discord's global REST limit is shared through `store` with every process using it:
/// `TROUPE_DISCORD_SHARED_LIMIT`, by default on with PostgreSQL (a fleet) and off with SQLite
/// (one process).
pub fn shares_global_limit(config: &Config, store: &Store) -> bool {
    config
        .discord
        .shared_limit
        .unwrap_or(store.kind() == BackendKind::Postgres)
}

/// The shards this process records in the fleet registry: known when `TROUPE_SHARDS` is set
/// (all of them without a range); `None` when Discord's recommendation decides (one process
/// running every shard).
pub fn shard_span(plan: &ShardPlan) -> Option<ShardSpan> {
    let total = plan.total?;
    Some(ShardSpan {
        total,
        range: plan.range.clone().unwrap_or(0..total),
    })
}

/// Runs the bot until SIGTERM or SIGINT.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<ExitCode> {
    run_until(config, options, shutdown_signal()).await
}

/// Runs the bot until `shutdown` completes (tests pass their own trigger).
pub async fn run_until(
    config: Config,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<ExitCode> {
    let discord = discord_config(&config, &options, None)?;
    troupe_discord::install_crypto_provider();
    let platform = Arc::new(DiscordPlatform::new(&discord));
    let ops = crate::http_wiring::Operations::new(&config)?;
    let app = App::build_with(
        config,
        platform.clone(),
        Some(ops.observer()),
        Claims::InMemory,
    )
    .await?;
    let discord = discord_config(&app.config, &options, Some(&app.store))?;
    if discord.rest_limit.is_some() && shares_global_limit(&app.config, &app.store) {
        platform.share_global_limit(Arc::new(app.store.clone()) as Arc<dyn SharedRateLimit>);
        tracing::info!("Discord's global REST limit is shared with every process of this database");
    }
    let _watcher = app.spawn_flag_watcher(Duration::from_millis(250));
    let membership = crate::fleet::Membership::spawn(
        Arc::new(app.store.clone()),
        Arc::clone(&app.flags),
        Some(platform.monitor() as Arc<dyn troupe_ports::GatewayMonitor>),
        crate::fleet::Member {
            role: "run".into(),
            shards: shard_span(&discord.shards),
        },
        app.deps.config.started_at,
        crate::fleet::HEARTBEAT,
    );
    let http = crate::http_wiring::serve(&app, &ops, platform.monitor()).await?;
    let shadow: ShadowHook = Arc::new(|job| Box::pin(run_shadow(job)));
    let deps = BotDeps {
        dispatcher: Arc::clone(&app.dispatcher),
        messages: options
            .messages
            .clone()
            .or_else(|| app.flow.clone().map(|flow| flow as Arc<dyn MessageHandler>)),
        clock: Arc::clone(&app.deps.clock),
        bot_owners: app.config.bot_owners.clone(),
        shadow: Some(shadow),
    };
    tracing::info!(database = %app.config.database_label(), "starting the Discord bot");
    tokio::spawn(announce_release(app.deps.clone()));
    let mut bot = Bot::new(discord, platform, deps);
    if let Some(relay) = options.relay.clone() {
        bot = bot.relaying(relay);
    }
    let result = bot.run(shutdown).await;
    // The claims of the last commands answered reach the store before the process ends.
    if let Some(claims) = &app.claims
        && let Err(e) = claims.flush().await
    {
        tracing::warn!(error = %e, "cannot write the last message claims");
    }
    membership.leave().await;
    http.shutdown().await;
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            tracing::error!(error = %e, "the bot stopped");
            eprintln!("troupe: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The release notes of this build, from CHANGELOG.md (embedded at build time).
const CHANGELOG: &str = include_str!("../../../CHANGELOG.md");

/// Sends the release DMs of this version to opted-in users (commands.md, notifications), in
/// batches of 50; each user's `last_notified` is saved as it goes, so a restart resends nothing.
async fn announce_release(deps: troupe_application::Deps) {
    let notes = troupe_application::release::ReleaseNotes::parse(CHANGELOG);
    match troupe_application::release::announce_release(&deps, &notes, 50).await {
        Ok(report) => tracing::info!(
            notified = report.notified,
            opted_out = report.opted_out_closed_dms,
            failed = report.failed,
            "release notifications"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "release notifications not sent; retried at the next start");
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown signal received");
}
