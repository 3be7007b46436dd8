//! The identify queue (ADR 0041): Discord lets a bot start at most `max_concurrency` sessions
//! per 5 s — one per *bucket* (shard id modulo `max_concurrency`) — and a daily number of
//! session starts. twilight's `InMemoryQueue` paces one process; a fleet whose processes start
//! together would identify at once. [`IdentifyQueue::Shared`] implements twilight's `Queue`
//! over the store's [`SharedRateLimit`]: one lease row per bucket (key `identify:<bucket>`,
//! limit 1 per interval plus a margin), so every process of the fleet waits its turn, by the
//! store's one clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use troupe_ports::{SessionStarts, SharedRateLimit};
use twilight_gateway::queue::{InMemoryQueue, Queue};

use crate::monitor::GatewayStatus;

/// How identifies are paced: Discord's 5 s per bucket, plus a margin for the time between
/// taking a turn and the IDENTIFY reaching Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentifyPacing {
    pub interval: Duration,
    pub margin: Duration,
}

impl Default for IdentifyPacing {
    fn default() -> Self {
        Self {
            interval: twilight_gateway::queue::IDENTIFY_DELAY,
            margin: Duration::from_millis(500),
        }
    }
}

/// The queue the shards of this process use.
#[derive(Clone)]
pub(crate) enum IdentifyQueue {
    /// This process alone (twilight's).
    Local(InMemoryQueue),
    /// Fleet-wide through the store.
    Shared(SharedQueue),
}

impl std::fmt::Debug for IdentifyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(q) => f.debug_tuple("Local").field(q).finish(),
            Self::Shared(q) => f
                .debug_struct("Shared")
                .field("max_concurrency", &q.max_concurrency)
                .field("pacing", &q.pacing)
                .finish_non_exhaustive(),
        }
    }
}

impl Queue for IdentifyQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        match self {
            Self::Local(q) => q.enqueue(shard),
            Self::Shared(q) => q.enqueue(shard),
        }
    }
}

/// The fleet-wide queue: see the module.
#[derive(Clone)]
pub(crate) struct SharedQueue {
    limit: Arc<dyn SharedRateLimit>,
    max_concurrency: u32,
    pacing: IdentifyPacing,
    monitor: Arc<GatewayStatus>,
}

impl SharedQueue {
    pub(crate) fn new(
        limit: Arc<dyn SharedRateLimit>,
        max_concurrency: u32,
        pacing: IdentifyPacing,
        monitor: Arc<GatewayStatus>,
    ) -> Self {
        Self {
            limit,
            max_concurrency: max_concurrency.max(1),
            pacing,
            monitor,
        }
    }

    /// The lease key of `shard`'s bucket.
    pub(crate) fn key(&self, shard: u32) -> String {
        format!("identify:{}", shard % self.max_concurrency)
    }

    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let queue = self.clone();
        tokio::spawn(async move { queue.wait_turn(shard, tx).await });
        rx
    }

    /// Waits for the daily budget and for `shard`'s bucket, then lets the shard identify.
    async fn wait_turn(self, shard: u32, tx: oneshot::Sender<()>) {
        let key = self.key(shard);
        let window = self.pacing.interval + self.pacing.margin;
        let mut logged = false;
        loop {
            if tx.is_closed() {
                return;
            }
            if let Some(wait) = self.monitor.session_start_wait() {
                tracing::warn!(
                    shard,
                    ?wait,
                    "the daily session-start budget is spent; waiting for its reset"
                );
                tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                continue;
            }
            match self.limit.try_take(&key, 1, window).await {
                Ok(None) => {
                    self.monitor.session_started();
                    tracing::debug!(shard, bucket = key.as_str(), "identify turn taken");
                    let _ = tx.send(());
                    return;
                }
                Ok(Some(wait)) => {
                    // A little past the free time, so the turn is free when we ask again.
                    tokio::time::sleep(wait.min(window) + Duration::from_millis(5)).await;
                }
                Err(e) => {
                    if !logged {
                        logged = true;
                        tracing::warn!(shard, error = %e, "the identify queue's store does not answer; retrying");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// The budget facts to show, from Discord's `session_start_limit`.
pub(crate) fn session_starts(
    total: u32,
    remaining: u32,
    reset_after: Duration,
    max_concurrency: u32,
    fleet_wide: bool,
    now: troupe_domain::Timestamp,
) -> SessionStarts {
    SessionStarts {
        total,
        remaining: remaining.min(total),
        resets_at: Some(now.plus(reset_after)),
        max_concurrency,
        fleet_wide,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_ports::MockSharedRateLimit;

    fn queue(limit: MockSharedRateLimit, max_concurrency: u32) -> SharedQueue {
        SharedQueue::new(
            Arc::new(limit),
            max_concurrency,
            IdentifyPacing {
                interval: Duration::from_millis(100),
                margin: Duration::from_millis(10),
            },
            Arc::new(GatewayStatus::default()),
        )
    }

    #[test]
    fn a_shard_s_bucket_is_its_id_modulo_max_concurrency() {
        let q = queue(MockSharedRateLimit::new(), 4);
        assert_eq!(q.key(0), "identify:0");
        assert_eq!(q.key(5), "identify:1");
        assert_eq!(q.key(7), "identify:3");
        let one = queue(MockSharedRateLimit::new(), 0);
        assert_eq!(one.key(9), "identify:0", "0 counts as 1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_shard_waits_until_its_bucket_is_free_then_identifies() {
        let mut limit = MockSharedRateLimit::new();
        let mut seq = mockall::Sequence::new();
        limit
            .expect_try_take()
            .withf(|key, n, window| {
                key == "identify:1" && *n == 1 && *window == Duration::from_millis(110)
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(Some(Duration::from_millis(80))));
        limit
            .expect_try_take()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(None));
        let q = queue(limit, 2);
        let started = tokio::time::Instant::now();
        q.enqueue(3).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_outage_delays_identifies_but_does_not_lose_them() {
        let mut limit = MockSharedRateLimit::new();
        let mut seq = mockall::Sequence::new();
        limit
            .expect_try_take()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(troupe_ports::StoreError::Unavailable("down".into())));
        limit
            .expect_try_take()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(None));
        queue(limit, 1).enqueue(0).await.unwrap();
    }
}
