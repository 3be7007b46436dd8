//! Wiring: configuration → store, ports, both command systems, flags, router, dispatcher.
//! No business rules live here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use troupe_ai::{
    ChatConfig, HttpProfileSource, OAuthClient, OAuthConfig, OpenAiChat, PluralKitAuthors,
    PluralKitConfig, ProfileConfig,
};
use troupe_application::dispatch::{CommandObserver, Dispatcher};
use troupe_application::flags::{Flags, WatchHealth};
use troupe_application::flow::{FlowConfig, MessageFlow, Pause};
use troupe_application::guard::CommandGuard;
use troupe_application::handlers::NewSystem;
use troupe_application::router::Router;
use troupe_application::shadow::{ShadowConfig, ShadowRunner, ShadowSetup};
use troupe_application::{AppConfig, CommandSystem, Deps};
use troupe_domain::notifications::Version;
use troupe_legacy::LegacySystem;
use troupe_ports::{
    AiChat, AuthProvider, ChatPlatform, Clock, FlagNotifications, FlagStore, ProcessedMessages,
    ProfileSource, ProxyAuthors, SystemClock,
};
use troupe_store::{
    ClaimBook, ClaimBookSettings, ReadModelFeed, SchemaStatus, Store, StoreOptions, TokenKey,
};

use crate::config::{Config, Secret};
use crate::exit::UsageError;
use crate::volume::DirVolume;

/// This build's version.
pub fn version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or(Version {
        major: 0,
        minor: 0,
        patch: 0,
    })
}

/// Opens the configured store for a command that never changes the schema (`check`, `backup`,
/// `restore`, `flags list`/`audit`, …): a schema newer than this build, or one with pending
/// migrations, is refused with exit code 2 and a message saying what to do.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    open_store_as(config, SchemaChange::Never).await
}

/// Opens the configured store for `run`, `console`, `flags set`/`unset` and `import-legacy`:
/// pending migrations are applied on SQLite (the embedded store: one host, one binary), or on
/// PostgreSQL with `TROUPE_AUTO_MIGRATE=true`; otherwise `troupe migrate` must run first.
pub async fn open_store_migrating(config: &Config) -> anyhow::Result<Store> {
    let auto = config.auto_migrate || config.database_url.expose().starts_with("sqlite:");
    open_store_as(
        config,
        if auto {
            SchemaChange::Apply
        } else {
            SchemaChange::Never
        },
    )
    .await
}

/// Whether opening a store may apply pending migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaChange {
    /// Refuse a schema that is not current (exit 2).
    Never,
    /// Apply pending migrations, after a verified backup when the store holds data.
    Apply,
}

/// Opens the configured store; see [`SchemaChange`]. A schema newer than this build is
/// always refused with one line naming both versions and what to do.
pub async fn open_store_as(config: &Config, change: SchemaChange) -> anyhow::Result<Store> {
    let store = connect_store(config).await?;
    let status = store
        .schema_status()
        .await
        .with_context(|| format!("cannot read the schema of {}", config.database_label()))?;
    if let Some(message) = status.newer_message(Some(&config.database_label())) {
        return Err(UsageError::new(message).into());
    }
    if status.is_current() {
        return Ok(store);
    }
    if change == SchemaChange::Never {
        let pending: Vec<String> = status.pending.iter().map(|(v, _)| v.to_string()).collect();
        return Err(UsageError::new(format!(
            "the database {} is at schema version {} and this troupe needs {} (pending \
             migrations: {}): run `troupe migrate` (it takes a verified backup first){}",
            config.database_label(),
            status.applied,
            status.latest,
            pending.join(", "),
            if config.database_url.expose().starts_with("sqlite:") {
                ""
            } else {
                ", or set TROUPE_AUTO_MIGRATE=true for `troupe run`"
            }
        ))
        .into());
    }
    apply_migrations(config, &store, &status).await?;
    Ok(store)
}

/// Applies the pending migrations of `store`, first taking a verified backup into
/// `TROUPE_BACKUP_DIR` when it holds a schema already (a new store has nothing to lose).
/// Returns the backup's file, if one was taken.
pub async fn apply_migrations(
    config: &Config,
    store: &Store,
    status: &SchemaStatus,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    let backup = if status.applied > 0 {
        let manifest = store.backup(&config.backup_dir).await.with_context(|| {
            format!(
                "no migration applied: the backup before migrating failed (into {})",
                config.backup_dir.display()
            )
        })?;
        let file = config.backup_dir.join(&manifest.file);
        tracing::info!(
            backup = %file.display(),
            from = status.applied,
            to = status.latest,
            "verified backup taken before migrating"
        );
        Some(file)
    } else {
        None
    };
    store.migrate().await.with_context(|| {
        format!(
            "cannot migrate {} from schema version {} to {}",
            config.database_label(),
            status.applied,
            status.latest
        )
    })?;
    Ok(backup)
}

/// Connects to the configured store without touching its schema, creating the data directory
/// for SQLite.
pub async fn connect_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.expose().starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    // Both were validated with the configuration.
    let token_key = config
        .token_key
        .as_ref()
        .map(|k| TokenKey::parse(k.expose()))
        .transpose()
        .map_err(|e| UsageError::new(format!("TROUPE_TOKEN_KEY: {e}")))?;
    let previous_token_keys = config
        .previous_token_keys
        .iter()
        .map(|k| TokenKey::parse(k.expose()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError::new(format!("TROUPE_TOKEN_KEY_PREVIOUS: {e}")))?;
    let options = StoreOptions {
        token_key,
        previous_token_keys,
        durability: config.sqlite_durability,
        ..StoreOptions::default()
    };
    Store::connect(config.database_url.expose(), options)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_label()))
}

/// The running application core.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub deps: Deps,
    pub flags: Arc<Flags>,
    pub shadow: Arc<ShadowRunner>,
    pub dispatcher: Arc<Dispatcher>,
    /// The AI chat client, when `TROUPE_AI_BASE_URL` is set.
    pub ai: Option<Arc<dyn AiChat>>,
    /// The message flow (personalities answering), when an AI provider is configured.
    pub flow: Option<Arc<MessageFlow>>,
    /// The command guard's claims when decided in memory and written in batches
    /// ([`Claims::InMemory`], ADR 0030). Flush it at shutdown.
    pub claims: Option<Arc<ClaimBook>>,
    /// Keeps the store's read model current (ADR 0031) while the core lives; `None` with
    /// `TROUPE_READ_MODEL=off`.
    pub read_model: Option<ReadModelFeed>,
}

/// How the command guard claims the ids of the messages and interactions it answers.
pub enum Claims {
    /// In the store, durable before the command runs (the console, tests, examples).
    Store,
    /// Decided in memory and written in group commits once answered (ADR 0030): for
    /// `troupe run`, which flushes [`App::claims`] at shutdown.
    InMemory,
    /// The store's claims, wrapped (a worker grants redelivered events their claim again).
    Wrapped(WrapClaims),
}

/// Wraps the store's claims (see [`Claims::Wrapped`]).
pub type WrapClaims =
    Box<dyn FnOnce(Arc<dyn ProcessedMessages>) -> Arc<dyn ProcessedMessages> + Send>;

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Store => "Store",
            Self::InMemory => "InMemory",
            Self::Wrapped(_) => "Wrapped",
        })
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the core over `platform` (Discord or the console), the command guard claiming
    /// message ids in the store ([`Claims::Store`]).
    pub async fn build(
        config: Config,
        platform: Arc<dyn ChatPlatform>,
        observer: Option<CommandObserver>,
    ) -> anyhow::Result<Self> {
        Self::build_with(config, platform, observer, Claims::Store).await
    }

    /// [`App::build`], with the command guard's claims made as `claims` says.
    pub async fn build_with(
        config: Config,
        platform: Arc<dyn ChatPlatform>,
        observer: Option<CommandObserver>,
        claims: Claims,
    ) -> anyhow::Result<Self> {
        // Settings that refuse to start come first: nothing is opened or migrated for them.
        let auth_provider = auth_provider(&config)?;
        let store = open_store_migrating(&config).await?;
        // The hot reads (lookups, activations, autorespond) from memory, for both command
        // systems and the message flow: they share these ports.
        let read_model = if config.read_model {
            let feed = store.start_read_model().await;
            if !store.read_model_serving() {
                tracing::warn!(
                    "the store's read model could not be loaded; reads use the database until it is"
                );
            }
            Some(feed)
        } else {
            None
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let app_config = AppConfig {
            prefix: config.prefix.clone(),
            mention_char: config.mention_char,
            bot_owners: config.bot_owners.clone(),
            age_gate: config.age_gate,
            default_model: config.ai_model.clone(),
            version: version(),
            started_at: clock.now(),
            ..AppConfig::default()
        };
        let shared = Arc::new(store.clone());
        let store_claims = shared.clone() as Arc<dyn ProcessedMessages>;
        let (processed, memory_claims) = match claims {
            Claims::Store => (store_claims, false),
            Claims::InMemory => (store_claims, true),
            Claims::Wrapped(wrap) => (wrap(store_claims), false),
        };
        let deps = Deps {
            personalities: shared.clone(),
            conversations: shared.clone(),
            auth: shared.clone(),
            preferences: shared.clone(),
            processed: Arc::clone(&processed),
            platform,
            clock: Arc::clone(&clock),
            volume: Arc::new(DirVolume::new(config.data_dir.clone())),
            profiles: profile_source(&config)?,
            auth_provider,
            config: Arc::new(app_config),
        };
        let flags = Arc::new(
            Flags::load(
                config.flags.clone(),
                config.targeting.clone(),
                shared.clone(),
            )
            .await
            .context("cannot read the runtime feature flags")?,
        );
        let legacy: Arc<dyn CommandSystem> = Arc::new(LegacySystem::new(deps.clone()));
        let new: Arc<dyn CommandSystem> = Arc::new(NewSystem::new(deps.clone()));
        // Shadow runs (ADR 0015): legacy serves over recording ports; the new system runs
        // afterwards over a snapshot pinned before legacy ran, a dry run and the recording.
        let shadow = ShadowRunner::with_observer(
            ShadowSetup {
                deps: deps.clone(),
                authoritative: Arc::new(|deps| {
                    Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>
                }),
                candidate: Arc::new(|deps| {
                    Arc::new(NewSystem::new(deps)) as Arc<dyn CommandSystem>
                }),
                snapshots: Arc::new(store.snapshots(config.shadow_max_concurrent)),
            },
            Arc::clone(&clock),
            ShadowConfig {
                sample_rate: config.shadow_sample_rate,
                max_concurrent: config.shadow_max_concurrent,
                timeout: Duration::from_millis(config.shadow_timeout_ms),
                ..ShadowConfig::default()
            },
            crate::http_wiring::Operations::shadow_observer(),
        );
        let router = Arc::new(Router::new(
            legacy,
            new,
            Arc::clone(&flags),
            Some(Arc::clone(&shadow)),
        ));
        // Commands: claims decided in memory, written in group commits off the reply path
        // (ADR 0030). The message flow keeps the store's claims: its answers (webhook posts)
        // carry no nonce, so their claim is durable before the AI is asked.
        let book = memory_claims.then(|| {
            let book = ClaimBook::new(store.clone(), clock.now(), ClaimBookSettings::default());
            // Runs as long as the runtime; `run` flushes what is left at shutdown.
            drop(book.spawn_writer(std::future::pending()));
            book
        });
        let guard = CommandGuard::new(
            book.clone()
                .map_or(processed, |b| b as Arc<dyn ProcessedMessages>),
            clock,
        );
        let ai = ai_chat(&config)?.map(crate::http_wiring::instrument_ai);
        let proxies = proxy_authors(&config)?;
        let flow = ai.as_ref().map(|ai| {
            let flow = MessageFlow::new(
                deps.clone(),
                Arc::clone(ai),
                Arc::new(TokioPause),
                FlowConfig {
                    proxy_recheck: Duration::from_millis(config.proxy_wait_ms),
                    // The client's own bound, and a little for the flow's side of it.
                    proxy_lookup_bound: Duration::from_millis(config.pluralkit_timeout_ms + 250),
                    ..FlowConfig::default()
                },
            );
            Arc::new(match &proxies {
                Some(proxies) => flow.with_proxy_authors(Arc::clone(proxies)),
                None => flow,
            })
        });
        let dispatcher = Arc::new(Dispatcher::new(
            config.prefix.clone(),
            guard,
            router,
            observer,
        ));
        Ok(Self {
            config,
            store,
            deps,
            flags,
            shadow,
            dispatcher,
            ai,
            flow,
            claims: book,
            read_model,
        })
    }

    /// Keeps this process's flags current: on PostgreSQL a `LISTEN` wakes it as soon as any
    /// process commits a change; every `every` it also polls the flag version (the safety net,
    /// and the only path on SQLite). A store outage is logged once, and its end once.
    pub fn spawn_flag_watcher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let flags = Arc::clone(&self.flags);
        let store: Arc<dyn FlagStore> = Arc::new(self.store.clone());
        tokio::spawn(watch_flags(flags, store, every))
    }
}

/// The flag watcher's loop (see [`App::spawn_flag_watcher`]).
pub async fn watch_flags(flags: Arc<Flags>, store: Arc<dyn FlagStore>, every: Duration) {
    /// How often a broken subscription is re-established (polling continues meanwhile).
    const RESUBSCRIBE: Duration = Duration::from_secs(5);
    let mut health = WatchHealth::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut subscription: Option<Box<dyn FlagNotifications>> = None;
    // `None`: the store cannot push changes (SQLite); stop asking.
    let mut next_attempt = Some(tokio::time::Instant::now());
    loop {
        if subscription.is_none()
            && let Some(at) = next_attempt
            && tokio::time::Instant::now() >= at
        {
            match tokio::time::timeout(every.max(Duration::from_secs(1)), store.subscribe()).await {
                Ok(Ok(Some(live))) => subscription = Some(live),
                Ok(Ok(None)) => next_attempt = None,
                // Unreachable store: polling reports the outage; try again later.
                Ok(Err(_)) | Err(_) => {
                    next_attempt = Some(tokio::time::Instant::now() + RESUBSCRIBE);
                }
            }
        }
        match subscription.as_mut() {
            Some(live) => tokio::select! {
                _ = tick.tick() => {}
                woke = live.changed() => if woke.is_err() {
                    subscription = None;
                    next_attempt = Some(tokio::time::Instant::now() + RESUBSCRIBE);
                },
            },
            None => {
                tick.tick().await;
            }
        }
        flags.watch_step(&mut health).await;
    }
}

/// Waits with tokio (the message flow's [`Pause`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioPause;

#[async_trait::async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The model of requests that name none: `TROUPE_AI_MODEL`, else the documented default
/// (`gpt-4o-mini`, docs/CONFIGURATION.md); `true` when it is the default.
pub fn ai_model(config: &Config) -> (String, bool) {
    match &config.ai_model {
        Some(model) => (model.clone(), false),
        None => (ChatConfig::default().default_model, true),
    }
}

/// The OpenAI-compatible chat client of `TROUPE_AI_*`, or `None` without a base URL.
pub fn ai_chat(config: &Config) -> anyhow::Result<Option<Arc<dyn AiChat>>> {
    let Some(base_url) = &config.ai_base_url else {
        return Ok(None);
    };
    let (model, defaulted) = ai_model(config);
    if defaulted {
        tracing::info!(
            model = model.as_str(),
            "TROUPE_AI_MODEL is not set: personalities without a model use the default model"
        );
    } else {
        tracing::info!(model = model.as_str(), "default AI model");
    }
    let chat = OpenAiChat::new(ChatConfig {
        base_url: base_url.clone(),
        api_key: config.ai_api_key.as_ref().map(Secret::to_secret_string),
        default_model: model,
        timeout: Duration::from_millis(config.ai_timeout_ms),
        user_token_header: config.ai_user_token_header.clone(),
        vision_models: config.ai_vision_models.clone(),
        ..ChatConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(Arc::new(chat)))
}

/// The profile source of `TROUPE_PROFILE_URL`, or `None` (local personalities).
pub fn profile_source(config: &Config) -> anyhow::Result<Option<Arc<dyn ProfileSource>>> {
    let Some(url) = &config.profile_url else {
        return Ok(None);
    };
    let source = HttpProfileSource::new(ProfileConfig {
        url_template: url.clone(),
        ..ProfileConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(Arc::new(source)))
}

/// The PluralKit client of `TROUPE_PLURALKIT_URL`, or `None` (`off`).
pub fn proxy_authors(config: &Config) -> anyhow::Result<Option<Arc<dyn ProxyAuthors>>> {
    let Some(url) = &config.pluralkit_url else {
        return Ok(None);
    };
    let client = PluralKitAuthors::new(PluralKitConfig {
        base_url: url.clone(),
        timeout: Duration::from_millis(config.pluralkit_timeout_ms),
        ..PluralKitConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(Arc::new(client)))
}

/// The OAuth client of `TROUPE_OAUTH_*`, or `None` (a shared key, no per-user authentication).
pub fn auth_provider(config: &Config) -> anyhow::Result<Option<Arc<dyn AuthProvider>>> {
    let Some(o) = &config.oauth else {
        return Ok(None);
    };
    if config.token_key.is_none() {
        // Refused at start, not at the first `auth code`: the tokens OAuth hands out are
        // stored encrypted under this key.
        return Err(UsageError::new(
            "TROUPE_TOKEN_KEY: required when TROUPE_OAUTH_* is set (user tokens are stored \
             encrypted); generate one with `troupe keygen`",
        )
        .into());
    }
    let client = OAuthClient::new(OAuthConfig {
        authorize_url: o.authorize_url.clone(),
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        client_secret: o.client_secret.to_secret_string(),
        redirect_url: o.redirect_url.clone(),
        scope: None,
        timeout: Duration::from_secs(15),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(Arc::new(client)))
}

/// Runs a shadow job after delivery, bounded by its timeout.
pub async fn run_shadow(job: troupe_application::shadow::ShadowJob) {
    let timeout = job.timeout();
    let runner = job.runner();
    let category = job.category();
    if tokio::time::timeout(timeout, job.run()).await.is_err() {
        runner.record_timeout(category);
    }
}
