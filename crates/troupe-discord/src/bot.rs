//! The bot: what it hands Discord events to, and the state its shard loops and event tasks
//! share. Running it is the gateway's business (`gateway`); events are handled in `messages`
//! and `interactions`, and outcomes delivered in `delivery`.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use troupe_application::dispatch::Dispatcher;
use troupe_application::flow::MessageHandler;
use troupe_application::shadow::ShadowJob;
use troupe_domain::UserId;
use troupe_ports::Clock;

use crate::config::DiscordConfig;
use crate::lanes::Lanes;
use crate::platform::DiscordPlatform;

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

/// Short answers (shed commands) sent at once, at most this many at a time.
const NOTICES: usize = 32;

/// Shared state of the shard loops and event tasks.
pub(crate) struct Ctx {
    pub platform: Arc<DiscordPlatform>,
    pub deps: BotDeps,
    pub config: DiscordConfig,
    pub lanes: Lanes,
    /// Every event task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Cancelled when shutdown gives up waiting: unfinished event tasks stop.
    pub cancel: CancellationToken,
    /// Permits for the short "busy" answers of shed commands.
    pub notices: Arc<Semaphore>,
    pub commands_registered: AtomicBool,
    /// A gateway process's queue to the broker (gateway/worker mode).
    pub relay: Option<crate::relay::Outbox>,
    /// A worker's claims, granted again to redelivered events.
    pub claims: Option<Arc<crate::relay::RedeliveryClaims>>,
}

impl Ctx {
    /// Runs `work` as a tracked event task that stops when shutdown gives up on it.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = work => {}
            }
        });
    }
}

/// The Discord bot: this process's shards and the event handling.
pub struct Bot {
    pub(crate) ctx: Arc<Ctx>,
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
        let lanes = Lanes::new(config.budgets, &platform.monitor());
        Self {
            ctx: Arc::new(Ctx {
                platform,
                deps,
                lanes,
                tasks: TaskTracker::new(),
                cancel: CancellationToken::new(),
                notices: Arc::new(Semaphore::new(NOTICES)),
                commands_registered: AtomicBool::new(false),
                relay: None,
                claims: None,
                config,
            }),
        }
    }

    /// Runs the shards until `shutdown` completes. Then closes every shard so its session
    /// stays resumable, lets the work already taken finish (up to `shutdown_grace`), and saves
    /// each session with the point to resume from for the next process. Returns early with an
    /// error when every shard closed for good.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), BotError> {
        crate::gateway::run(self.ctx, shutdown).await
    }
}
