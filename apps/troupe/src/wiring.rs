//! Wiring: configuration → store, ports, both command systems, flags, router, dispatcher.
//! No business rules live here.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use troupe_ai::{
    ChatConfig, HttpProfileSource, OAuthClient, OAuthConfig, OpenAiChat, ProfileConfig,
};
use troupe_application::dispatch::{CommandObserver, Dispatcher};
use troupe_application::dryrun::dry_run_deps;
use troupe_application::flags::Flags;
use troupe_application::flow::{FlowConfig, MessageFlow, Pause};
use troupe_application::guard::CommandGuard;
use troupe_application::handlers::NewSystem;
use troupe_application::router::Router;
use troupe_application::shadow::{ShadowConfig, ShadowRunner};
use troupe_application::{AppConfig, CommandSystem, Deps};
use troupe_domain::notifications::Version;
use troupe_legacy::LegacySystem;
use troupe_ports::{AiChat, AuthProvider, ChatPlatform, Clock, ProfileSource, SystemClock};
use troupe_store::{Store, StoreOptions, TokenKey};

use crate::config::Config;
use crate::volume::DirVolume;

/// This build's version.
pub fn version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or(Version {
        major: 0,
        minor: 0,
        patch: 0,
    })
}

/// Opens (and migrates) the configured store, creating the data directory for SQLite.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.expose().starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
    }
    let token_key = config
        .token_key
        .as_ref()
        .map(|k| TokenKey::parse(k.expose()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("TROUPE_TOKEN_KEY: {e}"))?;
    let previous_token_keys = config
        .previous_token_keys
        .iter()
        .map(|k| TokenKey::parse(k.expose()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("TROUPE_TOKEN_KEYS_PREVIOUS: {e}"))?;
    let options = StoreOptions {
        token_key,
        previous_token_keys,
        ..StoreOptions::default()
    };
    Store::open(config.database_url.expose(), options)
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
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the core over `platform` (Discord or the console).
    pub async fn build(
        config: Config,
        platform: Arc<dyn ChatPlatform>,
        observer: Option<CommandObserver>,
    ) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
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
        let deps = Deps {
            personalities: shared.clone(),
            conversations: shared.clone(),
            auth: shared.clone(),
            preferences: shared.clone(),
            processed: shared.clone(),
            platform,
            clock: Arc::clone(&clock),
            volume: Arc::new(DirVolume::new(config.data_dir.clone())),
            profiles: profile_source(&config)?,
            auth_provider: auth_provider(&config)?,
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
        let (dry, _log) = dry_run_deps(&deps);
        let shadow = ShadowRunner::with_observer(
            Arc::new(NewSystem::new(dry)),
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
        let guard = CommandGuard::new(shared, clock);
        let ai = ai_chat(&config)?.map(crate::http_wiring::instrument_ai);
        let flow = ai.as_ref().map(|ai| {
            Arc::new(MessageFlow::new(
                deps.clone(),
                Arc::clone(ai),
                Arc::new(TokioPause),
                FlowConfig {
                    proxy_recheck: Duration::from_millis(config.proxy_wait_ms),
                    ..FlowConfig::default()
                },
            ))
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
        })
    }

    /// Polls the flag store so a change made by another process takes effect here within
    /// `every` (one cheap version query per poll).
    pub fn spawn_flag_watcher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let flags = Arc::clone(&self.flags);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = flags.refresh().await {
                    tracing::warn!(error = %e, "cannot refresh feature flags");
                }
            }
        })
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
        api_key: config.ai_api_key.as_ref().map(|k| k.expose().to_owned()),
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

/// The OAuth client of `TROUPE_OAUTH_*`, or `None` (a shared key, no per-user authentication).
pub fn auth_provider(config: &Config) -> anyhow::Result<Option<Arc<dyn AuthProvider>>> {
    let Some(o) = &config.oauth else {
        return Ok(None);
    };
    let client = OAuthClient::new(OAuthConfig {
        authorize_url: o.authorize_url.clone(),
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        client_secret: o.client_secret.expose().to_owned(),
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
