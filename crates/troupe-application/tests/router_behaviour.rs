//! The router at work: the kill switch, fallback to legacy, shadow runs over a snapshot of the
//! state legacy started from, a dry run and the replayed outside world,
//! and flag changes reaching another process sharing the store.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use troupe_application::flags::{EnvFlags, Flags};
use troupe_application::handlers::NewSystem;
use troupe_application::model::colour;
use troupe_application::router::{Route, Router};
use troupe_application::shadow::{ShadowConfig, ShadowResult, ShadowRunner, ShadowSetup};
use troupe_application::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, OutcomeClass, Reply, SystemKind,
};
use troupe_ports::{FlagStore, PersonalityRepository};
use troupe_testkit::{InMemorySnapshots, InMemoryStore};

use support::{World, req};

/// A legacy stand-in that counts its calls and answers a fixed success.
#[derive(Default)]
struct CountingLegacy {
    calls: AtomicUsize,
}

#[async_trait]
impl CommandSystem for CountingLegacy {
    fn kind(&self) -> SystemKind {
        SystemKind::Legacy
    }
    fn handles(&self, _: CommandName) -> bool {
        true
    }
    async fn execute(&self, _: &CommandRequest) -> CommandOutcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        CommandOutcome::new(
            OutcomeClass::Success,
            Reply {
                text: "legacy answer".into(),
                colour: colour::SUCCESS,
                ..Reply::default()
            },
        )
    }
}

async fn flags_over(store: Arc<InMemoryStore>, env: &[(&str, &str)]) -> Arc<Flags> {
    let env = EnvFlags::from_vars(env.iter().copied()).unwrap();
    Arc::new(
        Flags::load(env, BTreeMap::new(), store as Arc<dyn FlagStore>)
            .await
            .unwrap(),
    )
}

const ALL_ON: &[(&str, &str)] = &[
    ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
    ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
];

#[tokio::test]
async fn the_kill_switch_makes_the_very_next_command_legacy() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let flags = flags_over(world.store.clone(), ALL_ON).await;
    let router = Router::new(
        legacy.clone(),
        Arc::new(NewSystem::new(world.deps())),
        flags.clone(),
        None,
    );

    let before = router.execute(&req(CommandName::Ping, &[]).into()).await;
    assert_eq!(before.served_by, SystemKind::New);

    flags
        .change(
            "ddd.commands.enabled",
            Some(false),
            "ops",
            "emergency rollback",
            world.now(),
        )
        .await
        .unwrap();
    let after = router.execute(&req(CommandName::Ping, &[]).into()).await;
    assert_eq!(after.served_by, SystemKind::Legacy);
    assert_eq!(legacy.calls.load(Ordering::SeqCst), 1);
    let audit = flags.audit(10).await.unwrap();
    assert_eq!(audit[0].name, "ddd.commands.enabled");
    assert_eq!((audit[0].old, audit[0].new), (None, Some(false)));
    assert_eq!(audit[0].reason, "emergency rollback");
}

#[tokio::test]
async fn a_flag_change_reaches_another_process_sharing_the_store_on_its_next_refresh() {
    let store = Arc::new(InMemoryStore::new());
    let ops = flags_over(store.clone(), ALL_ON).await;
    let bot = flags_over(store.clone(), ALL_ON).await;
    assert!(
        bot.snapshot()
            .get(troupe_application::flags::FlagName::Enabled)
    );
    assert!(!bot.refresh().await.unwrap(), "nothing changed yet");
    ops.change(
        "DDD.COMMANDS.ENABLED",
        Some(false),
        "ops",
        "rollback",
        troupe_domain::Timestamp::EPOCH,
    )
    .await
    .unwrap();
    assert!(bot.refresh().await.unwrap());
    let snapshot = bot.snapshot();
    assert!(!snapshot.get(troupe_application::flags::FlagName::Enabled));
    assert_eq!(
        snapshot
            .source(troupe_application::flags::FlagName::Enabled)
            .as_str(),
        "runtime"
    );
    ops.change(
        "ddd.commands.enabled",
        None,
        "ops",
        "back to the environment",
        troupe_domain::Timestamp::EPOCH,
    )
    .await
    .unwrap();
    bot.refresh().await.unwrap();
    assert_eq!(
        bot.snapshot()
            .source(troupe_application::flags::FlagName::Enabled)
            .as_str(),
        "environment"
    );
}

#[tokio::test]
async fn flag_changes_need_a_known_flag_and_a_reason() {
    let flags = flags_over(Arc::new(InMemoryStore::new()), &[]).await;
    assert!(
        flags
            .change(
                "ddd.commands.teleport",
                Some(true),
                "ops",
                "why",
                troupe_domain::Timestamp::EPOCH
            )
            .await
            .is_err()
    );
    assert!(
        flags
            .change(
                "ddd.commands.enabled",
                Some(true),
                "ops",
                "  ",
                troupe_domain::Timestamp::EPOCH
            )
            .await
            .is_err()
    );
    assert!(
        !flags
            .snapshot()
            .get(troupe_application::flags::FlagName::Enabled)
    );
}

#[tokio::test]
async fn an_internal_error_of_the_new_system_is_served_by_legacy_when_fallback_is_on() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let flags = flags_over(world.store.clone(), ALL_ON).await;
    let router = Router::new(
        legacy.clone(),
        Arc::new(NewSystem::new(world.deps())),
        flags,
        None,
    );
    world.store.fail_next_writes(1);
    let routed = router
        .execute(&req(CommandName::Add, &["einstein"]).into())
        .await;
    assert!(routed.fell_back);
    assert_eq!(routed.served_by, SystemKind::Legacy);
    assert_eq!(routed.outcome.class, OutcomeClass::Success);
    assert_eq!(router.stats().fallbacks.load(Ordering::SeqCst), 1);
    assert_eq!(legacy.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_internal_error_gives_a_clear_error_when_fallback_is_off() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let mut env = ALL_ON.to_vec();
    env.push(("FEATURE_FLAG_DDD_COMMANDS_FALLBACK_ON_ERROR", "false"));
    let flags = flags_over(world.store.clone(), &env).await;
    let router = Router::new(
        legacy.clone(),
        Arc::new(NewSystem::new(world.deps())),
        flags,
        None,
    );
    world.store.fail_next_writes(1);
    let routed = router
        .execute(&req(CommandName::Add, &["einstein"]).into())
        .await;
    assert!(!routed.fell_back);
    assert_eq!(routed.outcome.class, OutcomeClass::InternalError);
    let reference = routed
        .outcome
        .reference
        .expect("a reference id")
        .to_string();
    assert!(routed.outcome.reply.unwrap().text.contains(&reference));
    assert_eq!(legacy.calls.load(Ordering::SeqCst), 0);
    assert!(
        world.personality("einstein").await.is_none(),
        "no partial state"
    );
}

/// A shadow setup over `world`: `authoritative` serves, the new system is the candidate, the
/// in-memory snapshots give the state before the authoritative run.
fn setup(
    world: &World,
    authoritative: Arc<dyn CommandSystem>,
    snapshots: &InMemorySnapshots,
) -> ShadowSetup {
    ShadowSetup {
        deps: world.deps(),
        authoritative: Arc::new(move |_| Arc::clone(&authoritative)),
        candidate: Arc::new(|deps| Arc::new(NewSystem::new(deps)) as Arc<dyn CommandSystem>),
        snapshots: Arc::new(snapshots.clone()),
    }
}

/// A setup whose authoritative system is the new system itself over the recording ports: an
/// authoritative system that really writes, as legacy does.
fn writing_setup(world: &World, snapshots: &InMemorySnapshots) -> ShadowSetup {
    ShadowSetup {
        authoritative: Arc::new(|deps| Arc::new(NewSystem::new(deps)) as Arc<dyn CommandSystem>),
        ..setup(world, Arc::new(CountingLegacy::default()), snapshots)
    }
}

async fn shadow_router(world: &World, setup: ShadowSetup) -> (Router, Arc<ShadowRunner>) {
    let flags = flags_over(
        world.store.clone(),
        &[
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_UTILITY", "true"),
        ],
    )
    .await;
    let shadow = ShadowRunner::new(setup, world.clock.clone(), ShadowConfig::default());
    let router = Router::new(
        Arc::new(CountingLegacy::default()),
        Arc::new(NewSystem::new(world.deps())),
        flags,
        Some(shadow.clone()),
    );
    (router, shadow)
}

/// Routes `request` in shadow mode, then runs the shadow job as a caller does after delivery.
async fn shadowed(router: &Router, request: CommandRequest) -> (CommandOutcome, ShadowResult) {
    let routed = router.execute(&request).await;
    assert_eq!(routed.route, Route::Shadow);
    assert_eq!(routed.served_by, SystemKind::Legacy);
    let job = routed
        .shadow
        .expect("a shadow slot")
        .into_job(&request, &routed.outcome);
    (routed.outcome, job.run().await)
}

#[tokio::test]
async fn shadow_mode_never_delivers_the_candidate_and_never_changes_stored_state() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let snapshots = InMemorySnapshots::of(&world.store);
    let (router, shadow) = shadow_router(&world, setup(&world, legacy.clone(), &snapshots)).await;

    let (outcome, result) = shadowed(&router, req(CommandName::Add, &["einstein"]).into()).await;
    assert_eq!(
        outcome.reply.as_ref().unwrap().text,
        "legacy answer",
        "the authoritative reply is legacy's"
    );
    assert_eq!(legacy.calls.load(Ordering::SeqCst), 1);

    // The stand-in legacy records no events, the candidate records a creation: a mismatch.
    assert_eq!(result, ShadowResult::Mismatch);
    let mismatches = shadow.mismatches();
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].command, CommandName::Add);
    assert!(
        mismatches[0]
            .differences
            .iter()
            .any(|d| d.starts_with("events"))
    );
    assert!(
        world
            .store
            .get(&support::name("einstein"))
            .await
            .unwrap()
            .is_none(),
        "the candidate's insert was not applied"
    );
    assert_eq!(world.store.count().await.unwrap(), 0);
    assert_eq!(snapshots.released(), 1, "released");
    assert!(world.platform.sent_messages().is_empty() && world.platform.sent_dms().is_empty());
}

#[tokio::test]
async fn writes_shadowed_after_an_authoritative_system_that_wrote_match_because_the_candidate_reads_the_state_before_it()
 {
    let world = World::new();
    let snapshots = InMemorySnapshots::of(&world.store);
    let (router, shadow) = shadow_router(&world, writing_setup(&world, &snapshots)).await;

    for line in [
        (CommandName::Add, vec!["tesla"]),
        (CommandName::Alias, vec!["tesla", "nikola"]),
        (CommandName::Remove, vec!["tesla"]),
    ] {
        let (outcome, result) = shadowed(&router, req(line.0, &line.1).into()).await;
        assert_eq!(
            outcome.class,
            OutcomeClass::Success,
            "{:?} served: {:?}",
            line.0,
            outcome.reply
        );
        assert_eq!(
            result,
            ShadowResult::Match,
            "{:?}: {:?}",
            line.0,
            shadow.mismatches()
        );
    }
    assert!(shadow.mismatches().is_empty());
    assert_eq!(shadow.stats().matches.load(Ordering::SeqCst), 3);
    assert_eq!(
        world.store.count().await.unwrap(),
        0,
        "legacy's remove stands"
    );
}

/// The new system with a seeded bug in one write handler: `alias` stores the alias with an
/// extra letter (a test-only wrapper; production code is untouched).
struct MisspellingAlias(NewSystem);

#[async_trait]
impl CommandSystem for MisspellingAlias {
    fn kind(&self) -> SystemKind {
        SystemKind::New
    }
    fn handles(&self, command: CommandName) -> bool {
        self.0.handles(command)
    }
    async fn execute(&self, request: &CommandRequest) -> CommandOutcome {
        let mut request = request.clone();
        if request.command == CommandName::Alias
            && let Some(alias) = request.args.words.get_mut(1)
        {
            alias.push('x');
        }
        self.0.execute(&request).await
    }
}

#[tokio::test]
async fn a_seeded_bug_in_a_write_handler_of_the_candidate_is_a_mismatch_naming_the_difference() {
    let world = World::new();
    let snapshots = InMemorySnapshots::of(&world.store);
    let setup = ShadowSetup {
        candidate: Arc::new(|deps| {
            Arc::new(MisspellingAlias(NewSystem::new(deps))) as Arc<dyn CommandSystem>
        }),
        ..writing_setup(&world, &snapshots)
    };
    let (router, shadow) = shadow_router(&world, setup).await;

    let (_, added) = shadowed(&router, req(CommandName::Add, &["tesla"]).into()).await;
    assert_eq!(added, ShadowResult::Match);
    let (_, aliased) = shadowed(
        &router,
        req(CommandName::Alias, &["tesla", "nikola"]).into(),
    )
    .await;
    assert_eq!(aliased, ShadowResult::Mismatch);
    let mismatch = &shadow.mismatches()[0];
    assert_eq!(mismatch.command, CommandName::Alias);
    assert!(
        mismatch
            .differences
            .iter()
            .any(|d| d.contains("nikola") && d.contains("nikolax")),
        "{:?}",
        mismatch.differences
    );
}

#[tokio::test]
async fn the_candidate_gets_the_outside_world_answers_the_authoritative_run_got() {
    let world = World::new();
    let snapshots = InMemorySnapshots::of(&world.store);
    let (router, shadow) = shadow_router(&world, writing_setup(&world, &snapshots)).await;
    let mut request: CommandRequest = req(CommandName::Volumetest, &[]).into();
    request.invoker.is_bot_owner = true;
    request.invoker.id = support::user(support::BOT_OWNER);
    let before = world.volume.entries();
    let (outcome, result) = shadowed(&router, request).await;
    assert_eq!(outcome.class, OutcomeClass::Success, "{:?}", outcome.reply);
    assert_eq!(result, ShadowResult::Match, "{:?}", shadow.mismatches());
    assert_eq!(
        world.volume.entries(),
        before + 1,
        "the probe ran once (legacy's); the candidate got its recorded report"
    );
}

#[tokio::test]
async fn when_no_snapshot_can_be_pinned_legacy_serves_alone_and_the_skip_is_counted() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let snapshots = InMemorySnapshots::of(&world.store);
    snapshots.fail_pins(true);
    let (router, shadow) = shadow_router(&world, setup(&world, legacy, &snapshots)).await;

    let routed = router
        .execute(&req(CommandName::Add, &["einstein"]).into())
        .await;
    assert_eq!(routed.route, Route::Shadow);
    assert_eq!(routed.served_by, SystemKind::Legacy);
    assert_eq!(routed.outcome.reply.unwrap().text, "legacy answer");
    assert!(routed.shadow.is_none(), "no comparison without a snapshot");
    assert_eq!(shadow.stats().unpinned.load(Ordering::SeqCst), 1);
    assert_eq!(shadow.stats().skipped.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shadow_runs_respect_the_concurrency_cap_and_sample_rate() {
    let world = World::new();
    let snapshots = InMemorySnapshots::of(&world.store);
    let capped = ShadowRunner::new(
        setup(&world, Arc::new(CountingLegacy::default()), &snapshots),
        world.clock.clone(),
        ShadowConfig {
            max_concurrent: 1,
            ..ShadowConfig::default()
        },
    );
    let request: CommandRequest = req(CommandName::Ping, &[]).into();
    let first = capped.start(&request).await.expect("first slot");
    assert!(capped.start(&request).await.is_none(), "over the cap");
    drop(first);
    assert!(capped.start(&request).await.is_some(), "slot released");
    assert_eq!(capped.stats().skipped.load(Ordering::SeqCst), 1);

    let never = ShadowRunner::new(
        setup(&world, Arc::new(CountingLegacy::default()), &snapshots),
        world.clock.clone(),
        ShadowConfig {
            sample_rate: 0.0,
            ..ShadowConfig::default()
        },
    );
    assert!(never.start(&request).await.is_none());
}
