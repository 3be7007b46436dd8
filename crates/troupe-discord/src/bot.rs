//! The bot: what it hands Discord events to, and the state its shard loops and event tasks
//! share. Running it is the gateway's business (`gateway`); events are handled in `messages`
//! and `interactions`, and outcomes delivered in `delivery`.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
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
        self.tasks
            .spawn(until_cancelled(self.cancel.clone().cancelled_owned(), work));
    }
}

pin_project_lite::pin_project! {
    /// Work that stops when `cancelled` completes. A named future rather than an `async` block
    /// around `select!`, which keeps a second copy of the work's state (rustc#62958): that copy
    /// was half the memory of every queued event (docs/PERFORMANCE.md, issue 13).
    struct UntilCancelled<W> {
        #[pin]
        cancelled: WaitForCancellationFutureOwned,
        #[pin]
        work: W,
    }
}

fn until_cancelled<W>(cancelled: WaitForCancellationFutureOwned, work: W) -> UntilCancelled<W> {
    UntilCancelled { cancelled, work }
}

impl<W: Future<Output = ()>> Future for UntilCancelled<W> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // Cancellation first: work spawned after it (a queued event handed a slot as shutdown
        // gives up) never begins, so its event stays in the resume point and is replayed.
        if this.cancelled.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        this.work.poll(cx)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Work whose state is about a kilobyte while it waits.
    async fn kilobyte_of_work(done: Arc<AtomicBool>) {
        let state = [7u8; 1024];
        tokio::task::yield_now().await;
        std::hint::black_box(&state);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn an_event_task_holds_its_work_once() {
        let work = kilobyte_of_work(Arc::new(AtomicBool::new(false)));
        let alone = std::mem::size_of_val(&work);
        let wrapped = until_cancelled(CancellationToken::new().cancelled_owned(), work);
        assert!(
            std::mem::size_of_val(&wrapped) < alone + 256,
            "{} bytes for {alone} bytes of work",
            std::mem::size_of_val(&wrapped)
        );
    }

    #[tokio::test]
    async fn an_event_task_runs_to_its_end_and_stops_when_cancelled() {
        let done = Arc::new(AtomicBool::new(false));
        let token = CancellationToken::new();
        until_cancelled(
            token.clone().cancelled_owned(),
            kilobyte_of_work(Arc::clone(&done)),
        )
        .await;
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));

        let done = Arc::new(AtomicBool::new(false));
        let never = {
            let done = Arc::clone(&done);
            async move {
                std::future::pending::<()>().await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let task = tokio::spawn(until_cancelled(token.clone().cancelled_owned(), never));
        tokio::task::yield_now().await;
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("a cancelled task stops")
            .expect("no panic");
        assert!(!done.load(std::sync::atomic::Ordering::SeqCst));

        let began = Arc::new(AtomicBool::new(false));
        let late = {
            let began = Arc::clone(&began);
            async move { began.store(true, std::sync::atomic::Ordering::SeqCst) }
        };
        until_cancelled(token.cancelled_owned(), late).await;
        assert!(
            !began.load(std::sync::atomic::Ordering::SeqCst),
            "work given its slot after cancellation never begins (its event is replayed)"
        );
    }
}
