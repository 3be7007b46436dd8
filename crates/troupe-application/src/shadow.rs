//! Shadow mode (operations.md §3): after the authoritative legacy reply went out, the new system
//! runs the same request as a candidate over a dry-run view of the store, with a sample rate,
//! a concurrency cap and a timeout (applied by the caller, which owns the runtime); outcomes are
//! compared and mismatches kept (bounded, newest first) for inspection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use troupe_domain::{Duration, Timestamp};
use troupe_ports::Clock;

use crate::command::{Category, CommandName};
use crate::compare::differences;
use crate::model::{CommandOutcome, CommandRequest, CommandSystem};

/// Shadow settings.
#[derive(Debug, Clone, Copy)]
pub struct ShadowConfig {
    /// Fraction of eligible commands that get a shadow run, 0.0–1.0.
    pub sample_rate: f64,
    /// Most shadow runs at once; more are skipped.
    pub max_concurrent: usize,
    /// Longest a shadow run may take (the caller enforces it).
    pub timeout: Duration,
    /// Mismatches kept.
    pub keep_mismatches: usize,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        Self {
            sample_rate: 1.0,
            max_concurrent: 4,
            timeout: Duration::from_secs(5),
            keep_mismatches: 100,
        }
    }
}

/// The result of one shadow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowResult {
    Match,
    Mismatch,
    /// The candidate failed internally.
    Error,
    Timeout,
    /// Not run: sampled out or over the concurrency cap.
    Skipped,
}

impl ShadowResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::Mismatch => "mismatch",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Skipped => "skipped",
        }
    }
}

/// A stored mismatch with both outcomes.
#[derive(Debug, Clone)]
pub struct ShadowMismatch {
    pub at: Timestamp,
    pub command: CommandName,
    pub category: Category,
    pub differences: Vec<String>,
    pub authoritative: CommandOutcome,
    pub candidate: CommandOutcome,
}

/// Counters of shadow runs since start.
#[derive(Debug, Default)]
pub struct ShadowStats {
    pub matches: AtomicU64,
    pub mismatches: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub skipped: AtomicU64,
}

/// Runs and records shadow comparisons.
pub struct ShadowRunner {
    candidate: Arc<dyn CommandSystem>,
    clock: Arc<dyn Clock>,
    config: ShadowConfig,
    in_flight: AtomicUsize,
    mismatches: Mutex<VecDeque<ShadowMismatch>>,
    stats: ShadowStats,
    observer: Option<Arc<dyn Fn(Category, ShadowResult) + Send + Sync>>,
}

impl std::fmt::Debug for ShadowRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowRunner")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ShadowRunner {
    /// `candidate` must run over a dry-run view of the store (see [`crate::dryrun`]), so it
    /// never changes stored state and never talks to the chat platform.
    pub fn new(
        candidate: Arc<dyn CommandSystem>,
        clock: Arc<dyn Clock>,
        config: ShadowConfig,
    ) -> Arc<Self> {
        Self::build(candidate, clock, config, None)
    }

    /// Like [`Self::new`], calling `observer` with every result (for metrics).
    pub fn with_observer(
        candidate: Arc<dyn CommandSystem>,
        clock: Arc<dyn Clock>,
        config: ShadowConfig,
        observer: Arc<dyn Fn(Category, ShadowResult) + Send + Sync>,
    ) -> Arc<Self> {
        Self::build(candidate, clock, config, Some(observer))
    }

    fn build(
        candidate: Arc<dyn CommandSystem>,
        clock: Arc<dyn Clock>,
        config: ShadowConfig,
        observer: Option<Arc<dyn Fn(Category, ShadowResult) + Send + Sync>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            candidate,
            clock,
            config,
            in_flight: AtomicUsize::new(0),
            mismatches: Mutex::new(VecDeque::new()),
            stats: ShadowStats::default(),
            observer,
        })
    }

    pub fn stats(&self) -> &ShadowStats {
        &self.stats
    }

    pub fn config(&self) -> ShadowConfig {
        self.config
    }

    /// The stored mismatches, newest first.
    pub fn mismatches(&self) -> Vec<ShadowMismatch> {
        self.mismatches
            .lock()
            .map(|m| m.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// A slot for a shadow run of this request, or `None` when sampled out or over the
    /// concurrency cap. Cheap (no copy of the request or the outcome), so the authoritative path
    /// pays almost nothing; the caller turns it into a job after delivering the reply.
    pub fn admit(self: &Arc<Self>, request: &CommandRequest) -> Option<ShadowTicket> {
        let sampled = sample(request.source.id().get(), self.config.sample_rate);
        let admitted = sampled
            && self
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.config.max_concurrent).then_some(n + 1)
                })
                .is_ok();
        if !admitted {
            self.record(request.command.category(), ShadowResult::Skipped);
            return None;
        }
        Some(ShadowTicket {
            runner: Arc::clone(self),
        })
    }

    /// [`Self::admit`] and [`ShadowTicket::into_job`] in one step.
    pub fn prepare(
        self: &Arc<Self>,
        request: &CommandRequest,
        authoritative: &CommandOutcome,
    ) -> Option<ShadowJob> {
        self.admit(request)
            .map(|ticket| ticket.into_job(request, authoritative))
    }

    fn record(&self, category: Category, result: ShadowResult) {
        let counter = match result {
            ShadowResult::Match => &self.stats.matches,
            ShadowResult::Mismatch => &self.stats.mismatches,
            ShadowResult::Error => &self.stats.errors,
            ShadowResult::Timeout => &self.stats.timeouts,
            ShadowResult::Skipped => &self.stats.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(observer) = &self.observer {
            observer(category, result);
        }
    }
}

/// Deterministic sampling by request id: the same message is always in or out.
fn sample(id: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    let threshold = (rate * 10_000.0) as u64;
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 10_000 < threshold
}

/// A concurrency slot for one shadow run, released when dropped.
#[derive(Debug)]
pub struct ShadowTicket {
    runner: Arc<ShadowRunner>,
}

impl Drop for ShadowTicket {
    fn drop(&mut self) {
        self.runner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ShadowTicket {
    /// The job comparing the candidate with the delivered `authoritative` outcome.
    pub fn into_job(self, request: &CommandRequest, authoritative: &CommandOutcome) -> ShadowJob {
        ShadowJob {
            runner: Arc::clone(&self.runner),
            request: request.clone(),
            authoritative: authoritative.clone(),
            _slot: self,
        }
    }
}

/// One shadow run, holding its concurrency slot until dropped.
#[derive(Debug)]
pub struct ShadowJob {
    runner: Arc<ShadowRunner>,
    request: CommandRequest,
    authoritative: CommandOutcome,
    _slot: ShadowTicket,
}

impl ShadowJob {
    /// How long the caller lets [`Self::run`] take before dropping it and calling
    /// [`ShadowRunner::record_timeout`].
    pub fn timeout(&self) -> Duration {
        self.runner.config.timeout
    }

    /// Runs the candidate, compares and records the result.
    pub async fn run(self) -> ShadowResult {
        let candidate = self.runner.candidate.execute(&self.request).await;
        let category = self.request.command.category();
        let result = if candidate.class == crate::model::OutcomeClass::InternalError
            && self.authoritative.class != crate::model::OutcomeClass::InternalError
        {
            ShadowResult::Error
        } else {
            let diff = differences(&self.authoritative, &candidate);
            if diff.is_empty() {
                ShadowResult::Match
            } else {
                tracing::warn!(command = self.request.command.as_str(), differences = ?diff, "shadow mismatch");
                let mismatch = ShadowMismatch {
                    at: self.runner.clock.now(),
                    command: self.request.command,
                    category,
                    differences: diff,
                    authoritative: self.authoritative.clone(),
                    candidate,
                };
                if let Ok(mut store) = self.runner.mismatches.lock() {
                    if store.len() >= self.runner.config.keep_mismatches.max(1) {
                        store.pop_front();
                    }
                    store.push_back(mismatch);
                }
                ShadowResult::Mismatch
            }
        };
        self.runner.record(category, result);
        result
    }

    /// The caller's handle to record a timeout when it drops [`Self::run`]'s future.
    pub fn runner(&self) -> Arc<ShadowRunner> {
        Arc::clone(&self.runner)
    }

    pub fn category(&self) -> Category {
        self.request.command.category()
    }
}

impl ShadowRunner {
    /// Records a timeout for a job whose `run` future the caller dropped.
    pub fn record_timeout(&self, category: Category) {
        self.record(category, ShadowResult::Timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn sampling_is_deterministic_and_close_to_the_rate() {
        let hits = (1..=10_000u64).filter(|id| sample(*id, 0.25)).count();
        assert!((2_000..3_000).contains(&hits), "{hits}");
        assert_eq!(sample(42, 0.25), sample(42, 0.25));
        assert!(sample(1, 1.0));
        assert!(!sample(1, 0.0));
    }
}
