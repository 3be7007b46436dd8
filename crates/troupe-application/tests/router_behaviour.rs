//! The router at work: the kill switch, fallback to legacy, shadow runs over a dry-run store,
//! and flag changes reaching another process sharing the store.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use troupe_application::dryrun::dry_run_deps;
use troupe_application::flags::{EnvFlags, Flags};
use troupe_application::handlers::NewSystem;
use troupe_application::model::colour;
use troupe_application::router::{Route, Router};
use troupe_application::shadow::{ShadowConfig, ShadowResult, ShadowRunner};
use troupe_application::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, OutcomeClass, Reply, SystemKind,
};
use troupe_ports::{FlagStore, PersonalityRepository};
use troupe_testkit::InMemoryStore;

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

#[tokio::test]
async fn shadow_mode_never_delivers_the_candidate_and_never_changes_stored_state() {
    let world = World::new();
    let legacy = Arc::new(CountingLegacy::default());
    let flags = flags_over(
        world.store.clone(),
        &[
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "true"),
        ],
    )
    .await;
    let (dry, log) = dry_run_deps(&world.deps());
    let shadow = ShadowRunner::new(
        Arc::new(NewSystem::new(dry)),
        world.clock.clone(),
        ShadowConfig::default(),
    );
    let router = Router::new(
        legacy.clone(),
        Arc::new(NewSystem::new(world.deps())),
        flags,
        Some(shadow.clone()),
    );

    let routed = router
        .execute(&req(CommandName::Add, &["einstein"]).into())
        .await;
    assert_eq!(routed.route, Route::Shadow);
    assert_eq!(routed.served_by, SystemKind::Legacy);
    assert_eq!(
        routed.outcome.reply.as_ref().unwrap().text,
        "legacy answer",
        "the authoritative reply is legacy's"
    );
    let request: CommandRequest = req(CommandName::Add, &["einstein"]).into();
    let job = routed
        .shadow
        .expect("a shadow slot")
        .into_job(&request, &routed.outcome);
    let result = job.run().await;

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
    assert!(
        log.writes().iter().any(|w| w.starts_with("insert")),
        "the write was recorded"
    );
    assert!(world.platform.sent_messages().is_empty() && world.platform.sent_dms().is_empty());
}

#[tokio::test]
async fn shadow_runs_respect_the_concurrency_cap_and_sample_rate() {
    let world = World::new();
    let (dry, _) = dry_run_deps(&world.deps());
    let capped = ShadowRunner::new(
        Arc::new(NewSystem::new(dry.clone())),
        world.clock.clone(),
        ShadowConfig {
            max_concurrent: 1,
            ..ShadowConfig::default()
        },
    );
    let request: CommandRequest = req(CommandName::Ping, &[]).into();
    let outcome = CommandOutcome::ignored();
    let first = capped.prepare(&request, &outcome).expect("first slot");
    assert!(capped.prepare(&request, &outcome).is_none(), "over the cap");
    drop(first);
    assert!(
        capped.prepare(&request, &outcome).is_some(),
        "slot released"
    );
    assert_eq!(capped.stats().skipped.load(Ordering::SeqCst), 1);

    let never = ShadowRunner::new(
        Arc::new(NewSystem::new(dry)),
        world.clock.clone(),
        ShadowConfig {
            sample_rate: 0.0,
            ..ShadowConfig::default()
        },
    );
    assert!(never.prepare(&request, &outcome).is_none());
}
