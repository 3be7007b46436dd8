//! `troupe worker` (gateway/worker mode, ADR 0045): handles the events `troupe gateway`
//! processes publish to NATS JetStream, with the same command and conversation code and the
//! same delivery as `troupe run`, posting through the REST limit the fleet shares in its store.
//! It holds no gateway connection, so workers start, stop and scale without Discord noticing.
//!
//! Each event is acknowledged after its handling finished; while it runs the worker reports
//! progress, so the acknowledgement wait only runs out for a worker that died, and its events
//! then go to another worker. A redelivered event is handled again, and the processed-message
//! claim and Discord's enforced nonces keep its answer single (see troupe-discord's relay).
//! On SIGTERM the worker stops taking events, finishes those it has within the shutdown grace
//! and leaves the rest unacknowledged for the other workers.

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use troupe_application::flow::MessageHandler;
use troupe_broker::Delivery;
use troupe_discord::{Bot, BotDeps, DiscordPlatform, RedeliveryClaims, ShadowHook};
use troupe_ports::{ProcessedMessages, SharedRateLimit};

use crate::config::Config;
use crate::run::{RunOptions, discord_config, shares_global_limit, shutdown_signal};
use crate::wiring::{App, Claims, run_shadow};

/// Runs a worker until SIGTERM or SIGINT.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<ExitCode> {
    run_until(config, options, shutdown_signal()).await
}

/// Runs a worker until `shutdown` completes.
pub async fn run_until(
    config: Config,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<ExitCode> {
    let broker_config = config.broker.broker_config("worker")?;
    let concurrency = config.broker.worker_concurrency;
    let discord = discord_config(&config, &options, None)?;
    troupe_discord::install_crypto_provider();
    let platform = Arc::new(DiscordPlatform::new(&discord));
    let ops = crate::http_wiring::Operations::new(&config)?;
    let claims: Arc<OnceLock<Arc<RedeliveryClaims>>> = Arc::new(OnceLock::new());
    let slot = Arc::clone(&claims);
    let redelivered = Claims::Wrapped(Box::new(move |store| {
        let wrapped = Bot::redelivery_claims(store);
        let _ = slot.set(Arc::clone(&wrapped));
        wrapped as Arc<dyn ProcessedMessages>
    }));
    let app = App::build_with(config, platform.clone(), Some(ops.observer()), redelivered).await?;
    let claims = claims
        .get()
        .cloned()
        .context("the application core was built without its claims")?;
    let discord = discord_config(&app.config, &options, Some(&app.store))?;
    if discord.rest_limit.is_some() && shares_global_limit(&app.config, &app.store) {
        platform.share_global_limit(Arc::new(app.store.clone()) as Arc<dyn SharedRateLimit>);
        tracing::info!("Discord's global REST limit is shared with every process of this database");
    }
    let grace = discord.shutdown_grace;
    let _watcher = app.spawn_flag_watcher(Duration::from_millis(250));
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
    let bot = Arc::new(Bot::new(discord, platform, deps).with_claims(claims));
    let broker = app.config.broker.connect("worker").await?;
    let mut deliveries = broker.deliveries().await?;
    let mut updates = broker.updates().await?;
    let updates_bot = Arc::clone(&bot);
    let _updates = tokio::spawn(async move {
        while let Some(update) = updates.next().await {
            updates_bot.apply_relayed_update(&update);
        }
    });
    let ack_wait = broker_config.ack_wait;
    tracing::info!(
        stream = %broker_config.stream,
        concurrency,
        database = %app.config.database_label(),
        "worker taking events from NATS JetStream"
    );
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit?,
        };
        let next = tokio::select! {
            () = &mut shutdown => break,
            next = deliveries.next() => next,
        };
        match next {
            None => {
                tracing::error!("the JetStream consumer ended");
                return Ok(ExitCode::FAILURE);
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot receive events; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Some(Ok(delivery)) => {
                let bot = Arc::clone(&bot);
                running.spawn(async move {
                    let _permit = permit;
                    handle(&bot, &delivery, ack_wait).await;
                });
            }
        }
    }
    tracing::info!(
        in_flight = running.len(),
        "stopping: taking no more events, finishing those taken"
    );
    drop(deliveries);
    let finished = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            ?grace,
            "events still running at the end of the grace; other workers get them again"
        );
        running.abort_all();
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Handles one delivery, reporting progress while it runs, and acknowledges it.
async fn handle(bot: &Bot, delivery: &Delivery, ack_wait: Duration) {
    let work = bot.handle_relayed(delivery.payload(), delivery.attempt());
    tokio::pin!(work);
    let every = (ack_wait / 3).max(Duration::from_millis(100));
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = progress.tick() => delivery.in_progress().await,
        }
    };
    if let Err(e) = result {
        // Cannot be handled by any worker: acknowledged so it is not delivered again.
        tracing::error!(error = %e, "relayed event dropped");
    }
    delivery.ack().await;
}
