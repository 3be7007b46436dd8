//! Backups stay out of the way: stale temporary files of a killed run are removed at the next
//! run (never those of a running one), and one lease lets one process of a store schedule.

mod common;

use std::time::Duration;

use common::fill::fill;
use troupe_domain::Timestamp;
use troupe_store::Store;

#[tokio::test]
async fn a_backup_removes_the_partial_files_a_killed_run_left_but_not_a_locked_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    fill(&store).await;
    let out = dir.path().join("backups");
    std::fs::create_dir_all(&out).unwrap();
    // What `kill -9` during two backups leaves: big hidden temporary files, no lock held.
    let stale = [
        out.join(".troupe-20260101T000000000-sqlite.sqlite.partial"),
        out.join(".troupe-20260101T010000000-sqlite.sqlite.manifest.json.partial"),
    ];
    for path in &stale {
        std::fs::write(path, vec![0u8; 1 << 20]).unwrap();
    }
    // A backup still being written by another process holds its lock.
    let running = out.join(".troupe-20260101T020000000-sqlite.sqlite.partial");
    let held = std::fs::File::create(&running).unwrap();
    held.lock().unwrap();
    let unrelated = out.join(".notes.partial");
    std::fs::write(&unrelated, b"not ours").unwrap();

    let manifest = store.backup(&out).await.unwrap();
    assert!(out.join(&manifest.file).exists());
    for path in &stale {
        assert!(!path.exists(), "{} is removed", path.display());
    }
    assert!(running.exists(), "a running backup's file stays");
    assert!(unrelated.exists(), "files that are not Troupe's stay");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    drop(held);
    assert_eq!(
        troupe_store::remove_stale_partials(&out).unwrap(),
        vec![running],
        "once its writer is gone, its file is stale too"
    );
}

#[tokio::test]
async fn one_process_of_a_store_holds_the_scheduler_lease_until_it_expires_or_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "l.db");
    let a = Store::open(&url, common::options()).await.unwrap();
    let b = Store::open(&url, common::options()).await.unwrap();
    let ttl = Duration::from_secs(60);
    let t = |s: i64| Timestamp::from_millis(1_000_000 + s * 1000);
    assert!(
        a.acquire_lease("backup-scheduler", "a", ttl, t(0))
            .await
            .unwrap()
    );
    assert!(
        !b.acquire_lease("backup-scheduler", "b", ttl, t(30))
            .await
            .unwrap()
    );
    assert!(
        a.acquire_lease("backup-scheduler", "a", ttl, t(50))
            .await
            .unwrap(),
        "renewed"
    );
    assert!(
        !b.acquire_lease("backup-scheduler", "b", ttl, t(100))
            .await
            .unwrap()
    );
    assert!(
        b.acquire_lease("backup-scheduler", "b", ttl, t(111))
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !a.acquire_lease("backup-scheduler", "a", ttl, t(112))
            .await
            .unwrap()
    );
    b.release_lease("backup-scheduler", "b").await.unwrap();
    assert!(
        a.acquire_lease("backup-scheduler", "a", ttl, t(113))
            .await
            .unwrap(),
        "released"
    );
}

#[tokio::test]
async fn on_postgresql_the_scheduler_lease_is_held_by_one_holder() {
    common::with_postgres("lease", |url| async move {
        let a = Store::open(&url, common::options()).await.unwrap();
        let ttl = Duration::from_secs(60);
        let now = Timestamp::from_millis(5_000_000);
        assert!(
            a.acquire_lease("backup-scheduler", "a", ttl, now)
                .await
                .unwrap()
        );
        assert!(
            !a.acquire_lease("backup-scheduler", "b", ttl, now)
                .await
                .unwrap()
        );
        a.close().await;
    })
    .await;
}
