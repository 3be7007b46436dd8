//! The backup scheduler stays out of the way: one process of a store schedules (two schedulers
//! on one store take one backup), a rollback starts no backup during the quiet period, and the
//! bot's backups run in a child process of the binary (ADR 0049).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use troupe::backups::{BackupPolicy, BackupScheduler, BackupWorker, Tick};
use troupe::config::Config;
use troupe::console::ConsolePlatform;
use troupe::wiring::App;
use troupe_http::Activity;

async fn app(dir: &std::path::Path) -> App {
    let env: Vec<(String, String)> = vec![("TROUPE_DATA_DIR".into(), dir.display().to_string())];
    let config = Config::from_sources(&BTreeMap::new(), env).unwrap();
    App::build(config, Arc::new(ConsolePlatform::new()), None)
        .await
        .unwrap()
}

fn scheduler(app: &App, dir: &std::path::Path) -> BackupScheduler {
    BackupScheduler::new(
        app.store.clone(),
        Arc::clone(&app.flags),
        dir.join("backups"),
        BackupPolicy::default(),
        Arc::new(Activity::default()),
    )
}

fn backups(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("backups")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.json"))
            .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_of_one_store_take_one_scheduled_backup() {
    let dir = tempfile::tempdir().unwrap();
    let first = app(dir.path()).await;
    let second = app(dir.path()).await;
    // Each process with its own backup directory (as on two hosts): only the lease stops the
    // second one.
    let other = dir.path().join("other");
    let (a, b) = (scheduler(&first, dir.path()), scheduler(&second, &other));
    let now = first.deps.clock.now();
    assert!(matches!(a.tick(now).await, Tick::Taken { .. }));
    assert_eq!(b.tick(now).await, Tick::NotScheduler);
    assert_eq!(
        b.tick(now.plus(Duration::from_secs(60))).await,
        Tick::NotScheduler
    );
    assert_eq!(backups(dir.path()), 1);
    assert_eq!(backups(&other), 0, "one backup for the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_starts_no_scheduled_backup_during_the_quiet_period() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let s = scheduler(&app, dir.path());
    let now = app.deps.clock.now();
    assert!(matches!(s.tick(now).await, Tick::Taken { .. }));
    let at = now.plus(Duration::from_secs(60));
    app.flags
        .change("ddd.commands.enabled", Some(false), "ops", "rollback", at)
        .await
        .unwrap();
    let quiet = BackupPolicy::default().quiet_after_rollback;
    assert_eq!(s.tick(at.plus(Duration::from_secs(1))).await, Tick::Quiet);
    assert_eq!(
        s.tick(at.plus(quiet.saturating_sub(Duration::from_secs(1))))
            .await,
        Tick::Quiet
    );
    assert_eq!(
        backups(dir.path()),
        1,
        "no backup in the middle of the incident"
    );
    assert!(matches!(s.tick(at.plus(quiet)).await, Tick::Taken { .. }));
    // A stage start (a flag turned on) is backed up at once.
    let on = at.plus(quiet + Duration::from_secs(60));
    app.flags
        .change("ddd.commands.enabled", Some(true), "ops", "stage 1", on)
        .await
        .unwrap();
    assert!(matches!(
        s.tick(on.plus(Duration::from_secs(1))).await,
        Tick::Taken { .. }
    ));
}

/// The scheduler of `dir`'s store with its backups taken by `troupe backup --scheduled` of the
/// built binary, configured by the file `config`, keeping `keep`.
fn child_scheduler(
    app: &App,
    dir: &std::path::Path,
    config: &std::path::Path,
    keep: usize,
) -> BackupScheduler {
    BackupScheduler::new(
        app.store.clone(),
        Arc::clone(&app.flags),
        dir.join("backups"),
        BackupPolicy {
            keep,
            ..BackupPolicy::default()
        },
        Arc::new(Activity::default()),
    )
    .with_worker(BackupWorker::Child {
        exe: env!("CARGO_BIN_EXE_troupe").into(),
        config: Some(config.to_owned()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_takes_its_scheduled_backups_in_a_child_process_verified_with_retention() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("troupe.toml");
    std::fs::write(
        &config,
        format!("troupe_data_dir = {:?}\n", dir.path().display().to_string()),
    )
    .unwrap();
    let app = app(dir.path()).await;
    let s = child_scheduler(&app, dir.path(), &config, 1);
    let now = app.deps.clock.now();
    let Tick::Taken { file, pruned } = s.tick(now).await else {
        panic!("no backup taken");
    };
    assert_eq!(pruned, 0);
    let verified = app
        .store
        .verify_backup(&dir.path().join("backups").join(&file))
        .await
        .expect("the child's backup verifies");
    assert_eq!(verified.manifest.file, file);
    assert!(verified.manifest.rows.contains_key("personalities"));

    // A rollout step: due at once; the child's retention keeps the newest one.
    let at = now.plus(Duration::from_secs(60));
    app.flags
        .change("ddd.commands.enabled", Some(true), "ops", "stage 1", at)
        .await
        .unwrap();
    let Tick::Taken {
        file: second,
        pruned,
    } = s.tick(at.plus(Duration::from_secs(1))).await
    else {
        panic!("no second backup");
    };
    assert_ne!(second, file);
    assert_eq!(pruned, 1);
    assert_eq!(backups(dir.path()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_backup_is_reported_and_counts_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("troupe.toml");
    // A setting the child refuses: it exits before touching the store.
    std::fs::write(&config, "troupe_no_such_setting = 1\n").unwrap();
    let app = app(dir.path()).await;
    let s = child_scheduler(&app, dir.path(), &config, 5);
    let tick = s.tick(app.deps.clock.now()).await;
    let Tick::Failed(message) = tick else {
        panic!("{tick:?}");
    };
    assert!(message.contains("backup process failed"), "{message}");
    assert_eq!(backups(dir.path()), 0);
}
