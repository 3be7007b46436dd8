//! Wiring of operations around a running [`App`]: the Prometheus recorder and the command
//! observer, the alert monitor (evaluated every 15 s, logged, optionally posted to an ops
//! webhook, optional auto-rollback), the HTTP server of troupe-http (health, metrics, admin API)
//! and the backup scheduler.
//!
//! Use: `let ops = Operations::new(&config)?;` before [`App::build`] (pass `Some(ops.observer())`),
//! then `let http = serve(&app, &ops, gateway).await?;` — it runs until dropped or
//! [`RunningHttp::shutdown`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use troupe_application::alerts::{Alert, AlertMonitor, AlertSettings, auto_rollback};
use troupe_application::dispatch::{CommandObserver, Dispatcher};
use troupe_application::shadow::ShadowResult;
use troupe_application::{Category, Invoker, Location, Permissions, RequestSource};
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_http::{
    Activity, AdminConfig, AppState, BackupSummary, BackupTrigger, CommandReport, CommandRunner,
    DatabasePing, HealthSources, Metrics,
};
use troupe_ports::{
    AiChat, AiError, ChatRequest, Clock, FlagStore, GatewayMonitor, GatewaySnapshot, GatewayState,
    SystemClock,
};
use troupe_store::Store;

use crate::backups::{BackupPolicy, BackupScheduler, BackupWorker};
use crate::config::{Config, Secret};
use crate::wiring::App;

/// How often alerts are evaluated.
pub const ALERT_EVERY: Duration = Duration::from_secs(15);
/// How often metrics upkeep and memory sampling run.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The gateway of a process without Discord (the console): always "not applicable".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGateway;

impl GatewayMonitor for NoGateway {
    fn snapshot(&self) -> GatewaySnapshot {
        GatewaySnapshot {
            state: GatewayState::NotApplicable,
            ..GatewaySnapshot::default()
        }
    }
}

/// The operations state of one process, created before the [`App`].
pub struct Operations {
    pub metrics: Metrics,
    pub alerts: Arc<AlertMonitor>,
    /// Last AI success and failure; fed by [`InstrumentedAi`].
    pub ai: Arc<Activity>,
    /// Last backup success and failure; fed by the scheduler and `POST /admin/backup`.
    pub backups: Arc<Activity>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

impl Operations {
    /// Installs the Prometheus recorder (once per process) and the alert monitor.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let metrics = Metrics::install().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        let settings = AlertSettings {
            memory_baseline: config.memory_baseline_mb.map(|mb| mb << 20),
            ..AlertSettings::default()
        };
        Ok(Self {
            metrics,
            alerts: Arc::new(AlertMonitor::new(settings)),
            ai: ai_activity(),
            backups: Arc::new(Activity::new(Some(
                BackupPolicy::default().daily + Duration::from_secs(2 * 3600),
            ))),
            clock: Arc::new(SystemClock),
        })
    }

    /// The dispatcher's observer: metrics and the alert monitor.
    pub fn observer(&self) -> CommandObserver {
        troupe_http::metrics::command_observer(
            Some(Arc::clone(&self.alerts)),
            Arc::clone(&self.clock),
        )
    }

    /// The shadow runner's observer (metrics).
    pub fn shadow_observer() -> Arc<dyn Fn(Category, ShadowResult) + Send + Sync> {
        Arc::new(troupe_http::metrics::record_shadow)
    }
}

/// The process's AI activity (last success and failure), shared by [`instrument_ai`] and the
/// `/health` of [`Operations`].
pub fn ai_activity() -> Arc<Activity> {
    static AI: std::sync::OnceLock<Arc<Activity>> = std::sync::OnceLock::new();
    Arc::clone(AI.get_or_init(|| Arc::new(Activity::default())))
}

/// Wraps an AI client so its latency and outcomes reach `/metrics` and `/health` (used by
/// [`App::build`]).
pub fn instrument_ai(inner: Arc<dyn AiChat>) -> Arc<dyn AiChat> {
    Arc::new(InstrumentedAi {
        inner,
        activity: ai_activity(),
        clock: Arc::new(SystemClock),
    })
}

/// An [`AiChat`] that records latency and outcome of every request.
pub struct InstrumentedAi {
    inner: Arc<dyn AiChat>,
    activity: Arc<Activity>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InstrumentedAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedAi").finish_non_exhaustive()
    }
}

#[async_trait]
impl AiChat for InstrumentedAi {
    async fn complete(&self, request: ChatRequest) -> Result<String, AiError> {
        let started = Instant::now();
        let result = self.inner.complete(request).await;
        troupe_http::metrics::record_ai(started.elapsed(), result.is_ok());
        if result.is_ok() {
            self.activity.success(self.clock.now());
        } else {
            self.activity.failure(self.clock.now());
        }
        result
    }
}

/// A database round trip: the flag store's version query.
struct StorePing(Store);

#[async_trait]
impl DatabasePing for StorePing {
    async fn ping(&self) -> Result<Duration, String> {
        let started = Instant::now();
        FlagStore::version(&self.0)
            .await
            .map(|_| started.elapsed())
            .map_err(|e| e.to_string())
    }
}

/// `POST /admin/backup`: a verified backup into the backup directory, then retention.
pub struct StoreBackup {
    pub store: Store,
    pub dir: std::path::PathBuf,
    pub keep: usize,
    pub activity: Arc<Activity>,
}

impl std::fmt::Debug for StoreBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBackup")
            .field("dir", &self.dir)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl BackupTrigger for StoreBackup {
    async fn backup_now(&self) -> Result<BackupSummary, String> {
        let now = SystemClock.now();
        match self.store.backup(&self.dir).await {
            Ok(manifest) => {
                self.activity.success(now);
                if let Err(e) = troupe_store::prune_backups(&self.dir, self.keep) {
                    tracing::warn!(error = %e, "backup retention failed");
                }
                tracing::info!(file = %manifest.file, size = manifest.size, "backup taken");
                Ok(BackupSummary {
                    file: self.dir.join(&manifest.file).display().to_string(),
                    size: manifest.size,
                    sha256: manifest.sha256,
                    created_at: manifest.created_at,
                    rows: manifest.rows,
                })
            }
            Err(e) => {
                self.activity.failure(now);
                Err(e.to_string())
            }
        }
    }
}

/// The operator of `POST /admin/commands`: the first bot owner (or a fixed local id), in a DM,
/// so the route is the one `/health/commands` shows. Nothing is sent to Discord: the reply is
/// returned.
struct OperatorRunner {
    dispatcher: Arc<Dispatcher>,
    operator: UserId,
    is_owner: bool,
    next_id: AtomicU64,
}

/// The operator's id when no bot owner is configured.
const OPERATOR: u64 = 1_000_000_000_000_200;
/// The operator's DM channel.
const OPERATOR_DM: u64 = 1_000_000_000_000_210;

#[async_trait]
impl CommandRunner for OperatorRunner {
    async fn run(&self, text: &str) -> Result<CommandReport, String> {
        let invoker = Invoker {
            id: self.operator,
            display_name: "operator".into(),
            is_bot_owner: self.is_owner,
            permissions: Permissions::default(),
            via_proxy: false,
        };
        let location = Location::Dm {
            channel: ChannelId::new(OPERATOR_DM).map_err(|e| e.to_string())?,
        };
        let id = MessageId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
            .map_err(|e| e.to_string())?;
        let now = SystemClock.now();
        let Some(mut d) = self
            .dispatcher
            .dispatch_text(text, invoker, location, RequestSource::Message(id), now)
            .await
        else {
            return Err(format!(
                "not a command: it must start with the prefix {:?}",
                self.dispatcher.prefix()
            ));
        };
        if let Some(job) = d.take_shadow_job() {
            tokio::spawn(crate::wiring::run_shadow(job));
        }
        let reply = d.outcome.reply.as_ref();
        Ok(CommandReport {
            command: d.command.map(|c| c.as_str().to_owned()),
            category: d.command.map(|c| c.category().as_str().to_owned()),
            system: d.served_by.map(|s| s.as_str().to_owned()),
            route: d.route.map(|r| r.as_str().to_owned()),
            fell_back: d.fell_back,
            class: d.outcome.class.as_str().to_owned(),
            title: reply.and_then(|r| r.title.clone()),
            text: reply.map(|r| r.text.clone()).unwrap_or_default(),
            elapsed_ms: (d.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        })
    }
}

/// The HTTP server and the operation tasks of one process.
#[derive(Debug)]
pub struct RunningHttp {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningHttp {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and stops the operation tasks.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for RunningHttp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What [`serve`] runs besides the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Run the backup scheduler in this process (`TROUPE_BACKUP_SCHEDULE`).
    pub schedule_backups: bool,
    /// How often the scheduler looks whether a backup is due.
    pub backup_check_every: Duration,
    /// Where the scheduled backups run (a child process of the `troupe` binary).
    pub backup_worker: BackupWorker,
}

impl ServeOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            schedule_backups: config.backup_schedule,
            backup_check_every: Duration::from_secs(60),
            backup_worker: config
                .backup_exe
                .clone()
                .map_or(BackupWorker::InProcess, |exe| BackupWorker::Child {
                    exe,
                    config: config.file.clone(),
                }),
        }
    }
}

/// Starts the HTTP server on `TROUPE_HTTP_ADDR` with health, metrics and the admin API over
/// `app`, plus metrics upkeep, memory sampling, alert evaluation (log, webhook, auto-rollback)
/// and, when configured, the backup scheduler.
pub async fn serve(
    app: &App,
    ops: &Operations,
    gateway: Arc<dyn GatewayMonitor>,
) -> anyhow::Result<RunningHttp> {
    serve_with(app, ops, gateway, ServeOptions::from_config(&app.config)).await
}

/// [`serve`] with explicit options.
pub async fn serve_with(
    app: &App,
    ops: &Operations,
    gateway: Arc<dyn GatewayMonitor>,
    options: ServeOptions,
) -> anyhow::Result<RunningHttp> {
    let config = &app.config;
    let sources = Arc::new(HealthSources {
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: app.deps.config.started_at,
        clock: Arc::clone(&app.deps.clock),
        router: Arc::clone(app.dispatcher.router()),
        shadow: Some(Arc::clone(&app.shadow)),
        gateway,
        database: Arc::new(StorePing(app.store.clone())),
        ai: config.ai_base_url.as_ref().map(|_| Arc::clone(&ops.ai)),
        backups: options.schedule_backups.then(|| Arc::clone(&ops.backups)),
        alerts: Some(Arc::clone(&ops.alerts)),
        fleet: Some(Arc::new(crate::fleet::StoreFleet {
            store: app.store.clone(),
            clock: Arc::clone(&app.deps.clock),
        })),
    });
    let owner = config.bot_owners.iter().next().copied();
    let operator = owner
        .map_or_else(|| UserId::new(OPERATOR), Ok)
        .map_err(|e| anyhow::anyhow!("invalid operator id: {e}"))?;
    let since_epoch = u64::try_from(SystemClock.now().as_millis() - 1_420_070_400_000).unwrap_or(1);
    let admin = AdminConfig {
        token: config.admin_token.as_ref().map(Secret::to_secret_string),
        backup: Some(Arc::new(StoreBackup {
            store: app.store.clone(),
            dir: config.backup_dir.clone(),
            keep: config.backup_keep,
            activity: Arc::clone(&ops.backups),
        })),
        commands: Some(Arc::new(OperatorRunner {
            dispatcher: Arc::clone(&app.dispatcher),
            operator,
            is_owner: owner.is_some(),
            // Snowflake-like ids (time since the Discord epoch, shifted; a different low range
            // than the console's) stay unique across restarts.
            next_id: AtomicU64::new((since_epoch << 22) | (1 << 21)),
        })),
    };
    let state = AppState::new(Arc::clone(&sources), admin, ops.metrics.clone());
    let listener = troupe_http::bind(config.http_addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(troupe_http::serve(
        listener,
        troupe_http::router(state),
        async move {
            let _ = rx.await;
        },
    ));
    tracing::info!(
        %addr,
        admin_api = config.admin_token.is_some(),
        "health, metrics and admin API listening"
    );

    let mut tasks = vec![spawn_upkeep(ops, &sources)];
    tasks.push(spawn_alerts(app, ops, config));
    let outlets = crate::comms::Outlets::from_config(config, Arc::clone(&app.deps.platform));
    if !outlets.is_empty() {
        // The communication plan: deployment announcements, once per store.
        let announcer = crate::comms::Announcer::new(
            app.store.clone(),
            Arc::clone(&app.flags),
            Some(Arc::clone(&ops.alerts)),
            outlets,
            Duration::from_secs(60),
        )
        .await;
        tasks.push(announcer.spawn(Arc::clone(&app.deps.clock), Duration::from_secs(2)));
    }
    if options.schedule_backups {
        let scheduler = BackupScheduler::new(
            app.store.clone(),
            Arc::clone(&app.flags),
            config.backup_dir.clone(),
            BackupPolicy {
                keep: config.backup_keep,
                ..BackupPolicy::default()
            },
            Arc::clone(&ops.backups),
        )
        .with_worker(options.backup_worker);
        tasks.push(scheduler.spawn(options.backup_check_every));
    }
    Ok(RunningHttp {
        addr,
        shutdown: Some(tx),
        server: Some(server),
        tasks,
    })
}

fn spawn_upkeep(ops: &Operations, sources: &Arc<HealthSources>) -> tokio::task::JoinHandle<()> {
    let metrics = ops.metrics.clone();
    let alerts = Arc::clone(&ops.alerts);
    let sources = Arc::clone(sources);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            metrics.run_upkeep();
            metrics.observe_flags(&sources.router.flags().snapshot());
            if let Some(bytes) = troupe_http::metrics::resident_memory_bytes() {
                alerts.record_memory(bytes, sources.clock.now());
            }
        }
    })
}

fn spawn_alerts(app: &App, ops: &Operations, config: &Config) -> tokio::task::JoinHandle<()> {
    let alerts = Arc::clone(&ops.alerts);
    let flags = Arc::clone(&app.flags);
    let clock = Arc::clone(&app.deps.clock);
    let outlets = crate::comms::Outlets::from_config(config, Arc::clone(&app.deps.platform));
    let outlets = (!outlets.is_empty()).then_some(outlets);
    let rollback = config.auto_rollback;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ALERT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = clock.now();
            let evaluation = alerts.evaluate(now);
            for alert in &evaluation.fired {
                log_fired(alert);
            }
            for alert in &evaluation.resolved {
                tracing::info!(rule = %alert.rule.name(), "alert resolved: {}", alert.message);
            }
            let rolled_back: Vec<_> = if rollback {
                auto_rollback(&flags, &evaluation.fired, now)
                    .await
                    .into_iter()
                    .map(|(flag, result)| (flag, result.is_ok()))
                    .collect()
            } else {
                Vec::new()
            };
            if let Some(outlets) = &outlets {
                // The incident messages (posted in the background, retried).
                crate::comms::post_incidents(
                    outlets,
                    &evaluation.fired,
                    &evaluation.resolved,
                    &rolled_back,
                );
            }
        }
    })
}

fn log_fired(alert: &Alert) {
    match alert.severity {
        troupe_application::alerts::Severity::Critical => {
            tracing::error!(rule = %alert.rule.name(), severity = "critical", "alert: {}", alert.message);
        }
        troupe_application::alerts::Severity::Warning => {
            tracing::warn!(rule = %alert.rule.name(), severity = "warning", "alert: {}", alert.message);
        }
    }
}

/// Posts alert changes to an ops webhook as `{"text": …, "content": …}` (Slack and Discord
/// webhooks both accept it). Failures are logged, never retried in a loop; the URL (which may
/// hold a secret) is never logged.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(url: String) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { url, client }
    }

    /// The message for a set of changes, `None` when there is nothing to say.
    pub fn message(fired: &[Alert], resolved: &[Alert]) -> Option<String> {
        if fired.is_empty() && resolved.is_empty() {
            return None;
        }
        let mut lines: Vec<String> = fired.iter().map(|a| format!("🚨 Troupe {a}")).collect();
        lines.extend(
            resolved
                .iter()
                .map(|a| format!("✅ Troupe resolved: {}", a.rule.name())),
        );
        Some(lines.join("\n"))
    }

    pub async fn post(&self, fired: &[Alert], resolved: &[Alert]) {
        let Some(text) = Self::message(fired, resolved) else {
            return;
        };
        let body = serde_json::json!({ "text": text, "content": text }).to_string();
        let result = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(
                status = r.status().as_u16(),
                "ops webhook refused the alert"
            ),
            Err(e) => tracing::warn!(error = %e.without_url(), "cannot post to the ops webhook"),
        }
    }
}

/// `troupe console [--http]`: the console adapter; with `http`, also the HTTP server (health,
/// metrics, admin API) and scheduled backups, and after the end of input it keeps serving until
/// SIGINT or SIGTERM (so `troupe console --http < /dev/null` is a headless Troupe for the
/// runbook).
pub async fn console(config: Config, http: bool) -> anyhow::Result<()> {
    let platform = Arc::new(crate::console::ConsolePlatform::new());
    let ops = Operations::new(&config)?;
    let app = App::build(config, platform.clone(), Some(ops.observer())).await?;
    let _watcher = app.spawn_flag_watcher(Duration::from_millis(250));
    let server = if http {
        let server = serve(&app, &ops, Arc::new(NoGateway)).await?;
        eprintln!(
            "troupe: health, metrics and admin API on http://{}",
            server.local_addr()
        );
        // A serving console is a member of the fleet: it applies flag changes too.
        let membership = crate::fleet::Membership::spawn(
            Arc::new(app.store.clone()),
            Arc::clone(&app.flags),
            None,
            crate::fleet::Member {
                role: "console".into(),
                shards: None,
            },
            app.deps.config.started_at,
            crate::fleet::HEARTBEAT,
        );
        Some((server, membership))
    } else {
        None
    };
    crate::console::run(app, platform).await?;
    if let Some((server, membership)) = server {
        shutdown_signal().await;
        membership.leave().await;
        server.shutdown().await;
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
