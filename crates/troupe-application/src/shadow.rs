//! Shadow mode (operations.md §3, ADR 0015): before legacy (authoritative) serves a shadowed
//! command, a read-only snapshot of the store is pinned and legacy's outside world is recorded;
//! after legacy's reply went out, the new system runs the same request as a candidate over that
//! snapshot (reads: the state legacy started from, never legacy's result), a dry run (writes:
//! kept, never applied) and the recorded outside world (replayed). Sample rate, concurrency cap
//! and timeout (applied by the caller, which owns the runtime) bound the cost; outcomes are
//! compared and mismatches kept (bounded, newest first) for inspection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use troupe_domain::{Duration, Timestamp};
use troupe_ports::{Clock, Snapshot, SnapshotSource};

use crate::command::{Category, CommandName};
use crate::compare::differences;
use crate::context::Deps;
use crate::dryrun::dry_run_replaying;
use crate::model::{CommandOutcome, CommandRequest, CommandSystem};
use crate::replay::{Recording, recording_deps, replay_deps};

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
    /// Runs skipped because no snapshot could be pinned (also counted in `skipped`).
    pub unpinned: AtomicU64,
    /// Runs whose snapshot did not hold to the end (also counted in `errors`).
    pub broken_snapshots: AtomicU64,
}

/// Builds a command system over a set of ports.
pub type SystemBuilder = Arc<dyn Fn(Deps) -> Arc<dyn CommandSystem> + Send + Sync>;

/// What a shadow run is made of.
#[derive(Clone)]
pub struct ShadowSetup {
    /// The live ports (those the authoritative system serves with).
    pub deps: Deps,
    /// The authoritative system (legacy), built per shadowed command over recording ports.
    pub authoritative: SystemBuilder,
    /// The candidate (the new system), built per run over the dry-run, snapshot and replay
    /// view of the ports.
    pub candidate: SystemBuilder,
    /// Pins the view of the store the candidate reads (the state before legacy ran).
    pub snapshots: Arc<dyn SnapshotSource>,
}

impl std::fmt::Debug for ShadowSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowSetup").finish_non_exhaustive()
    }
}

/// Runs and records shadow comparisons.
pub struct ShadowRunner {
    setup: ShadowSetup,
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
    /// A runner comparing `setup.candidate` with `setup.authoritative` (ADR 0015): the
    /// candidate never changes stored state and never talks to the chat platform.
    pub fn new(setup: ShadowSetup, clock: Arc<dyn Clock>, config: ShadowConfig) -> Arc<Self> {
        Self::build(setup, clock, config, None)
    }

    /// Like [`Self::new`], calling `observer` with every result (for metrics).
    pub fn with_observer(
        setup: ShadowSetup,
        clock: Arc<dyn Clock>,
        config: ShadowConfig,
        observer: Arc<dyn Fn(Category, ShadowResult) + Send + Sync>,
    ) -> Arc<Self> {
        Self::build(setup, clock, config, Some(observer))
    }

    fn build(
        setup: ShadowSetup,
        clock: Arc<dyn Clock>,
        config: ShadowConfig,
        observer: Option<Arc<dyn Fn(Category, ShadowResult) + Send + Sync>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            setup,
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

    /// Starts a shadowed command, before the authoritative system runs: takes a slot (sample
    /// rate, concurrency cap) and pins the snapshot the candidate will read. `None` when
    /// sampled out, over the cap, or when no snapshot can be pinned (counted, logged): then
    /// the caller serves the command with its own authoritative system as if not shadowed.
    pub async fn start(self: &Arc<Self>, request: &CommandRequest) -> Option<ShadowStart> {
        let category = request.command.category();
        let sampled = sample(request.source.id().get(), self.config.sample_rate);
        let admitted = sampled
            && self
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.config.max_concurrent).then_some(n + 1)
                })
                .is_ok();
        if !admitted {
            self.record(category, ShadowResult::Skipped);
            return None;
        }
        let slot = Slot {
            runner: Arc::clone(self),
        };
        match self.setup.snapshots.pin().await {
            Ok(snapshot) => {
                let recording = Arc::new(Recording::default());
                let authoritative =
                    (self.setup.authoritative)(recording_deps(&self.setup.deps, &recording));
                Some(ShadowStart {
                    authoritative,
                    ticket: ShadowTicket {
                        snapshot: Some(snapshot),
                        recording,
                        slot,
                    },
                })
            }
            Err(e) => {
                drop(slot);
                self.stats.unpinned.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    command = request.command.as_str(),
                    error = %e,
                    "shadow run skipped: no snapshot of the store could be pinned"
                );
                self.record(category, ShadowResult::Skipped);
                None
            }
        }
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

/// A concurrency slot, released when dropped.
#[derive(Debug)]
struct Slot {
    runner: Arc<ShadowRunner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.runner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A started shadowed command: run `authoritative` (legacy over recording ports) to serve it,
/// then keep the ticket for the candidate's run after delivery.
pub struct ShadowStart {
    pub authoritative: Arc<dyn CommandSystem>,
    pub ticket: ShadowTicket,
}

impl std::fmt::Debug for ShadowStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowStart")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// A shadow run's slot, its pinned snapshot and the authoritative run's recording. Dropping it
/// frees all three (the snapshot's connection is discarded).
pub struct ShadowTicket {
    snapshot: Option<Box<dyn Snapshot>>,
    recording: Arc<Recording>,
    slot: Slot,
}

impl std::fmt::Debug for ShadowTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowTicket")
            .field("pinned", &self.snapshot.is_some())
            .finish_non_exhaustive()
    }
}

impl ShadowTicket {
    /// The job comparing the candidate with the delivered `authoritative` outcome.
    pub fn into_job(self, request: &CommandRequest, authoritative: &CommandOutcome) -> ShadowJob {
        ShadowJob {
            request: request.clone(),
            authoritative: authoritative.clone(),
            ticket: self,
        }
    }
}

/// One shadow run, holding its slot and snapshot until it finishes or is dropped.
#[derive(Debug)]
pub struct ShadowJob {
    request: CommandRequest,
    authoritative: CommandOutcome,
    ticket: ShadowTicket,
}

impl ShadowJob {
    /// How long the caller lets [`Self::run`] take before dropping it and calling
    /// [`ShadowRunner::record_timeout`].
    pub fn timeout(&self) -> Duration {
        self.ticket.slot.runner.config.timeout
    }

    /// Runs the candidate over the pinned snapshot (reads), a dry run (writes) and the
    /// authoritative run's recorded outside world, releases the snapshot, compares and
    /// records the result.
    pub async fn run(mut self) -> ShadowResult {
        let runner = Arc::clone(&self.ticket.slot.runner);
        let category = self.request.command.category();
        let Some(snapshot) = self.ticket.snapshot.take() else {
            runner.record(category, ShadowResult::Error);
            return ShadowResult::Error;
        };
        let replayed = replay_deps(&runner.setup.deps, snapshot.view(), &self.ticket.recording);
        let (dry, _writes) = dry_run_replaying(&replayed, &self.ticket.recording);
        let candidate = (runner.setup.candidate)(Deps {
            volume: Arc::clone(&replayed.volume),
            ..dry
        });
        let candidate = candidate.execute(&self.request).await;
        if let Err(e) = snapshot.release().await {
            runner
                .stats
                .broken_snapshots
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(command = self.request.command.as_str(), error = %e, "shadow run not compared: its snapshot did not hold");
            runner.record(category, ShadowResult::Error);
            return ShadowResult::Error;
        }
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
                    at: runner.clock.now(),
                    command: self.request.command,
                    category,
                    differences: diff,
                    authoritative: self.authoritative.clone(),
                    candidate,
                };
                if let Ok(mut store) = runner.mismatches.lock() {
                    if store.len() >= runner.config.keep_mismatches.max(1) {
                        store.pop_front();
                    }
                    store.push_back(mismatch);
                }
                ShadowResult::Mismatch
            }
        };
        runner.record(category, result);
        result
    }

    /// The caller's handle to record a timeout when it drops [`Self::run`]'s future.
    pub fn runner(&self) -> Arc<ShadowRunner> {
        Arc::clone(&self.ticket.slot.runner)
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
