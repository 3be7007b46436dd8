//! Command-system benchmarks (issue 5 item 6), over testkit's in-memory store:
//!
//! - `routing/*`: the routing decision (`should_use_new_system`, `route`) — target p50 < 1 µs;
//! - `shadow-<store>-<command>/{off,on}`: `Router::execute` on the authoritative (legacy) path
//!   with the category's shadow flag off and on, over the in-memory store (the worst case: no
//!   I/O to hide the fixed cost) and SQLite — on the reply path shadow mode pins the snapshot
//!   and records legacy's outside world (ADR 0015); the candidate runs after delivery, so the
//!   target is < 5% added at p50;
//! - `command-<command>/{legacy,new}`: each of the 18 commands on both systems side by side, on
//!   identical state (the first successful scenario of the comparison corpus) — the runbook's
//!   "response times within 10% of legacy".
//!
//! p50 is criterion's median estimate, read from
//! `target/criterion/<group>/<bench>/new/estimates.json` (`median.point_estimate`, ns). Criterion
//! runs one benchmark after the other, so on a shared machine load drifts between the two sides
//! of a comparison; after the criterion groups an interleaved report (a, b, a, b, … per call,
//! per-call p50) prints the two comparisons again with that drift cancelled. Run:
//! `cargo bench -p troupe-legacy --bench systems -- --warm-up-time 0.5 --measurement-time 1`
//! (add a filter that matches no group, e.g. `-- report-only`, for the interleaved report alone).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{BatchSize, Criterion, criterion_group};
use troupe_application::flags::{EnvFlags, FlagSnapshot, Flags, Targeting};
use troupe_application::handlers::NewSystem;
use troupe_application::router::{Router, route, should_use_new_system};
use troupe_application::shadow::{ShadowConfig, ShadowRunner};
use troupe_application::{Category, CommandName, CommandSystem, OutcomeClass};
use troupe_domain::GuildId;
use troupe_legacy::LegacySystem;
use troupe_parity::{CORPUS, FreshStore, Prepared, Runner, Scenario, StoragePorts};
use troupe_ports::StoreError;
use troupe_store::StoreOptions;
use troupe_testkit::{InMemorySnapshots, InMemoryStore};

struct InMemory;

/// A fresh SQLite file of the real adapter per copy (a file, not `sqlite::memory:`, so shadow
/// runs can pin their snapshot: ADR 0015).
struct Sqlite {
    dir: tempfile::TempDir,
    next: AtomicU64,
}

impl Sqlite {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            next: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl FreshStore for Sqlite {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let url = format!(
            "sqlite://{}",
            self.dir.path().join(format!("{n}.db")).display()
        );
        let store = Arc::new(troupe_store::Store::open(&url, StoreOptions::default()).await?);
        Ok(StoragePorts::of(&store).with_snapshots(Arc::new(store.snapshots(4))))
    }
}

#[async_trait]
impl FreshStore for InMemory {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let store = Arc::new(InMemoryStore::new());
        Ok(StoragePorts::of(&store).with_snapshots(Arc::new(InMemorySnapshots::of(&store))))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn runner() -> Runner {
    runner_over(Arc::new(InMemory))
}

fn runner_over(stores: Arc<dyn FreshStore>) -> Runner {
    Runner::new(
        stores,
        Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
    )
}

/// The first scenario of `command` that succeeds.
fn success_of(command: CommandName) -> &'static Scenario {
    CORPUS
        .iter()
        .find(|s| s.command_name() == Some(command) && s.expect == OutcomeClass::Success)
        .expect("every command has a successful scenario")
}

/// The runbook's stage 2 with a 50% rollout of personality and a per-command override.
fn snapshot() -> FlagSnapshot {
    let env = EnvFlags::from_vars([
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PING", "false"),
    ])
    .expect("valid flags");
    let targeting = BTreeMap::from([(
        Category::Personality,
        Targeting {
            guilds: [GuildId::new(7).expect("non-zero")].into(),
            percentage: Some(50),
        },
    )]);
    FlagSnapshot::build(&env, &BTreeMap::new(), &targeting)
}

fn routing(c: &mut Criterion) {
    let flags = snapshot();
    let guild = Some(GuildId::new(123_456_789_012_345_678).expect("non-zero"));
    let mut group = c.benchmark_group("routing");
    group.bench_function("category flag", |b| {
        b.iter(|| should_use_new_system(black_box(&flags), CommandName::Status, true, guild));
    });
    group.bench_function("per-command override", |b| {
        b.iter(|| should_use_new_system(black_box(&flags), CommandName::Ping, true, guild));
    });
    group.bench_function("percentage rollout", |b| {
        b.iter(|| should_use_new_system(black_box(&flags), CommandName::Add, true, guild));
    });
    group.bench_function("alias resolved then routed", |b| {
        b.iter(|| {
            let command = CommandName::resolve(black_box("act")).expect("an alias");
            route(black_box(&flags), command, true, guild)
        });
    });
    let rt = runtime();
    let store = Arc::new(InMemoryStore::new());
    let live = rt
        .block_on(Flags::load(
            EnvFlags::from_vars([
                ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
            ])
            .expect("valid flags"),
            BTreeMap::new(),
            store,
        ))
        .expect("flags load");
    group.bench_function("live snapshot then routed", |b| {
        b.iter(|| route(&live.snapshot(), CommandName::Status, true, guild));
    });
    group.finish();
}

/// A router whose utility and personality commands go to legacy, with their shadow flags `on`.
fn shadow_router(prepared: &Prepared, on: bool) -> Router {
    let deps = prepared.deps().clone();
    let value = if on { "true" } else { "false" };
    let env = EnvFlags::from_vars([
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_UTILITY", value),
        ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", value),
    ])
    .expect("valid flags");
    let flags = runtime()
        .block_on(Flags::load(
            env,
            BTreeMap::new(),
            Arc::new(InMemoryStore::new()),
        ))
        .expect("flags load");
    let setup = prepared
        .shadow_setup(
            Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
            Arc::new(|deps| Arc::new(NewSystem::new(deps)) as Arc<dyn CommandSystem>),
        )
        .expect("the bench stores give snapshots");
    let shadow = ShadowRunner::new(setup, Arc::clone(&deps.clock), ShadowConfig::default());
    Router::new(
        Arc::new(LegacySystem::new(deps.clone())),
        Arc::new(NewSystem::new(deps)),
        Arc::new(flags),
        Some(shadow),
    )
}

fn shadow(c: &mut Criterion) {
    let rt = runtime();
    for (store, runner) in [
        ("memory", runner()),
        ("sqlite", runner_over(Arc::new(Sqlite::new()))),
    ] {
        shadow_over(c, &rt, store, &runner);
    }
}

fn shadow_over(c: &mut Criterion, rt: &tokio::runtime::Runtime, store: &str, runner: &Runner) {
    for command in [CommandName::Ping, CommandName::Info, CommandName::List] {
        let prepared = rt
            .block_on(runner.prepare(success_of(command)))
            .expect("scenario prepares");
        let mut group = c.benchmark_group(format!("shadow-{store}-{command}"));
        for (label, on) in [("off", false), ("on", true)] {
            let router = shadow_router(&prepared, on);
            let probe = rt.block_on(router.execute(&prepared.request));
            assert_eq!(probe.shadow.is_some(), on, "shadow {label} for {command}");
            group.bench_function(label, |b| {
                b.iter(|| {
                    let routed = rt.block_on(router.execute(&prepared.request));
                    // Delivered here; the shadow job would now be spawned off this path.
                    black_box(routed)
                });
            });
        }
        group.finish();
    }
}

fn side_by_side(c: &mut Criterion) {
    let rt = runtime();
    let runner = runner();
    for command in CommandName::ALL {
        let scenario = success_of(command);
        let mut group = c.benchmark_group(format!("command-{command}"));
        group.sample_size(30);
        for label in ["legacy", "new"] {
            group.bench_function(label, |b| {
                b.iter_batched(
                    || {
                        let prepared = rt.block_on(runner.prepare(scenario)).expect("prepares");
                        let deps = prepared.deps().clone();
                        let system: Arc<dyn CommandSystem> = if label == "legacy" {
                            Arc::new(LegacySystem::new(deps))
                        } else {
                            Arc::new(NewSystem::new(deps))
                        };
                        (system, prepared)
                    },
                    |(system, prepared)| {
                        let outcome = rt.block_on(system.execute(&prepared.request));
                        debug_assert_eq!(outcome.class, OutcomeClass::Success);
                        black_box(outcome)
                    },
                    BatchSize::SmallInput,
                );
            });
        }
        group.finish();
    }
}

/// Median of per-call times, in nanoseconds.
fn p50(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_nanos() as f64
}

/// Per-call p50 of `a` and `b`, measured interleaved (a, b, a, b, …) so that load from other
/// processes on a shared machine hits both alike. Each closure runs one call and returns the
/// time of the part that counts.
fn interleaved_p50(
    rounds: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) -> (f64, f64) {
    for _ in 0..rounds / 10 {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        ta.push(a());
        tb.push(b());
    }
    (p50(ta), p50(tb))
}

/// Times one routed execution, dropping the shadow job as the caller would after delivery.
fn timed_route(rt: &tokio::runtime::Runtime, router: &Router, prepared: &Prepared) -> Duration {
    let started = Instant::now();
    let routed = rt.block_on(router.execute(&prepared.request));
    let elapsed = started.elapsed();
    black_box(routed);
    elapsed
}

/// The interleaved p50 report: shadow off vs on, and legacy vs new per command.
fn interleaved_report() {
    let rt = runtime();
    println!(
        "\ninterleaved p50 (ns per call; a and b alternate, so shared-machine load hits both)"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "shadow: store/command", "off", "on", "added"
    );
    for (store, runner, rounds) in [
        ("memory", runner(), 20_000),
        ("sqlite", runner_over(Arc::new(Sqlite::new())), 3_000),
    ] {
        for command in [CommandName::Ping, CommandName::Info, CommandName::List] {
            let prepared = rt
                .block_on(runner.prepare(success_of(command)))
                .expect("scenario prepares");
            let (off, on) = (
                shadow_router(&prepared, false),
                shadow_router(&prepared, true),
            );
            let (a, b) = interleaved_p50(
                rounds,
                || timed_route(&rt, &off, &prepared),
                || timed_route(&rt, &on, &prepared),
            );
            println!(
                "{:<28} {a:>10.0} {b:>10.0} {:>+7.1}%",
                format!("{store}/{command}"),
                (b / a - 1.0) * 100.0
            );
        }
    }
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "command (memory store)", "legacy", "new", "new vs legacy"
    );
    let runner = runner();
    for command in CommandName::ALL {
        let scenario = success_of(command);
        let timed = |new: bool| {
            let prepared = rt.block_on(runner.prepare(scenario)).expect("prepares");
            let deps = prepared.deps().clone();
            let system: Arc<dyn CommandSystem> = if new {
                Arc::new(NewSystem::new(deps))
            } else {
                Arc::new(LegacySystem::new(deps))
            };
            let started = Instant::now();
            let outcome = rt.block_on(system.execute(&prepared.request));
            let elapsed = started.elapsed();
            black_box(outcome);
            elapsed
        };
        let (legacy, new) = interleaved_p50(2_000, || timed(false), || timed(true));
        println!(
            "{:<28} {legacy:>10.0} {new:>10.0} {:>+7.1}%",
            command.as_str(),
            (new / legacy - 1.0) * 100.0
        );
    }
}

criterion_group!(benches, routing, shadow, side_by_side);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    interleaved_report();
}
