//! Discord's global REST limit on this side: at most `per_window` global-limited requests in any
//! window, counted in this process or, with a [`SharedRateLimit`], across every process of the
//! fleet (one clock: the store's). Per-route buckets, 429s and the routes Discord exempts are
//! twilight's business; this gate only sees the requests that count against the global limit.
//!
//! Waiting is first come, first served (one waiter per process asks the store at a time) and
//! bounded: a request that would wait longer than `max_wait` fails instead of queueing forever.
//! While the shared store fails, the process falls back to a local limit of a quarter of the
//! budget (so a fleet of up to four processes stays within it), and tries the store again
//! after [`STORE_RETRY`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use troupe_ports::SharedRateLimit;

use super::errors::RestError;
use crate::config::RestLimit;

/// The store key of Discord's global limit.
const KEY: &str = "discord-global";
/// How long the local fallback is used after the shared store failed.
const STORE_RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Local {
    /// When the uses still inside the window were taken, oldest first.
    uses: VecDeque<Instant>,
    /// Until when the shared store is not asked (it failed).
    store_down_until: Option<Instant>,
}

/// The global-limit gate of one process.
pub(crate) struct GlobalGate {
    limit: RestLimit,
    /// The fleet's limit (from the config, or shared later with [`Self::share`]).
    shared: OnceLock<Arc<dyn SharedRateLimit>>,
    local: Mutex<Local>,
    /// Whose turn it is to wait for a slot (FIFO).
    turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for GlobalGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalGate")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl GlobalGate {
    pub(crate) fn new(mut limit: RestLimit) -> Self {
        let shared = OnceLock::new();
        if let Some(s) = limit.shared.take() {
            let _ = shared.set(s);
        }
        Self {
            limit,
            shared,
            local: Mutex::new(Local::default()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Shares the limit with every process of `shared` from now on (`false`: already shared).
    pub(crate) fn share(&self, shared: Arc<dyn SharedRateLimit>) -> bool {
        self.shared.set(shared).is_ok()
    }

    /// Waits for a slot; `Busy` when none comes free within `max_wait`. Returns when it was
    /// taken (the request must leave right away: see `rest::fresh`).
    pub(crate) async fn acquire(&self) -> Result<Instant, RestError> {
        let deadline = Instant::now() + self.limit.max_wait;
        let Ok(_turn) = tokio::time::timeout_at(deadline, self.turn.lock()).await else {
            return Err(RestError::Busy);
        };
        loop {
            match self.try_take().await {
                None => return Ok(Instant::now()),
                Some(wait) if Instant::now() + wait > deadline => return Err(RestError::Busy),
                Some(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }

    /// A slot if one is free now, nobody is waiting, and less than half of the window's budget
    /// is used (for requests that are only worth sending at once, like the typing indicator:
    /// they never take the slots replies need): when it was taken.
    pub(crate) async fn try_now(&self) -> Option<Instant> {
        let Ok(_turn) = self.turn.try_lock() else {
            return None;
        };
        self.try_take_within((self.limit.per_window / 2).max(1))
            .await
            .is_none()
            .then(Instant::now)
    }

    async fn try_take(&self) -> Option<Duration> {
        self.try_take_within(self.limit.per_window).await
    }

    /// A slot if fewer than `per_window` were taken in the window, else how long until one is.
    async fn try_take_within(&self, per_window: u32) -> Option<Duration> {
        let now = Instant::now();
        if let Some(shared) = self.shared.get()
            && self
                .local()
                .store_down_until
                .is_none_or(|until| now >= until)
        {
            match shared.try_take(KEY, per_window, self.limit.window).await {
                Ok(result) => {
                    self.local().store_down_until = None;
                    return result;
                }
                Err(e) => {
                    let mut local = self.local();
                    if local.store_down_until.is_none() {
                        tracing::warn!(error = %e, "the shared REST rate limit is unavailable; limiting this process alone to a quarter of the budget");
                    }
                    local.store_down_until = Some(now + STORE_RETRY);
                }
            }
        }
        let share = if self.shared.get().is_some() {
            (per_window / 4).max(1)
        } else {
            per_window.max(1)
        };
        take_local(&mut self.local(), share as usize, self.limit.window, now)
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sliding-window log: a use if fewer than `limit` were taken within `window`.
fn take_local(local: &mut Local, limit: usize, window: Duration, now: Instant) -> Option<Duration> {
    while local
        .uses
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        local.uses.pop_front();
    }
    if local.uses.len() < limit {
        local.uses.push_back(now);
        return None;
    }
    let oldest = local.uses.front().copied().unwrap_or(now);
    Some(window.saturating_sub(now.duration_since(oldest)))
}

/// A shared limit, for tests: the gate over it.
#[cfg(test)]
pub(crate) fn shared_gate(shared: Arc<dyn SharedRateLimit>, per_window: u32) -> GlobalGate {
    GlobalGate::new(RestLimit {
        per_window,
        window: Duration::from_millis(200),
        max_wait: Duration::from_secs(2),
        shared: Some(shared),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_ports::{MockSharedRateLimit, StoreError};

    fn gate(per_window: u32, window_ms: u64, max_wait_ms: u64) -> GlobalGate {
        GlobalGate::new(RestLimit {
            per_window,
            window: Duration::from_millis(window_ms),
            max_wait: Duration::from_millis(max_wait_ms),
            shared: None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_limit_and_a_burst_is_allowed() {
        let gate = gate(5, 1000, 10_000);
        let start = Instant::now();
        let mut taken = Vec::new();
        for _ in 0..12 {
            gate.acquire().await.unwrap();
            taken.push(start.elapsed());
        }
        assert!(taken[..5].iter().all(Duration::is_zero), "a burst of 5");
        assert_eq!(taken[5], Duration::from_millis(1000));
        assert_eq!(taken[10], Duration::from_millis(2000));
        for (i, t) in taken.iter().enumerate() {
            let in_window = taken
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_millis(1000))
                .count();
            assert!(in_window <= 5, "window from use {i}: {in_window}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_would_wait_too_long_is_busy_and_try_now_never_waits() {
        let gate = gate(1, 1000, 500);
        gate.acquire().await.unwrap();
        assert!(matches!(gate.acquire().await, Err(RestError::Busy)));
        assert!(gate.try_now().await.is_none());
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert!(gate.try_now().await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn best_effort_requests_leave_half_of_the_window_to_the_others() {
        let gate = gate(10, 1000, 10_000);
        let best_effort = {
            let mut n = 0;
            while gate.try_now().await.is_some() {
                n += 1;
            }
            n
        };
        assert_eq!(best_effort, 5, "typing takes at most half of the window");
        for _ in 0..5 {
            let before = Instant::now();
            gate.acquire().await.unwrap();
            assert_eq!(
                before.elapsed(),
                Duration::ZERO,
                "a reply never waits for typing"
            );
        }
        assert!(gate.try_now().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_shared_store_falls_back_to_a_quarter_of_the_budget_locally() {
        let mut store = MockSharedRateLimit::new();
        store
            .expect_try_take()
            .times(1)
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        // Best effort may use half of 16; locally a quarter of that: 2.
        let gate = shared_gate(Arc::new(store), 16);
        assert!(gate.try_now().await.is_some());
        assert!(gate.try_now().await.is_some());
        assert!(
            gate.try_now().await.is_none(),
            "2 of 16 / 2 locally, the store not asked again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_shared_store_decides_when_it_answers() {
        let mut store = MockSharedRateLimit::new();
        let calls = std::sync::atomic::AtomicU32::new(0);
        store
            .expect_try_take()
            .withf(|key, limit, _| key == KEY && *limit == 3)
            .returning(move |_, _, _| {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                    Ok(None)
                } else {
                    Ok(Some(Duration::from_secs(60)))
                }
            });
        let gate = shared_gate(Arc::new(store), 3);
        gate.acquire().await.unwrap();
        gate.acquire().await.unwrap();
        let third = gate.acquire().await;
        assert!(matches!(third, Err(RestError::Busy)), "{third:?}");
    }
}
