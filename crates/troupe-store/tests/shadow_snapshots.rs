//! The snapshot adapter (`Store::snapshots`, ADR 0015) on SQLite and PostgreSQL: a pinned
//! snapshot reads the state as of the pin whatever is committed after it, never blocks a
//! writer, reuses its connection after release, is bounded, and is refused on an in-memory
//! SQLite database. Then the comparison corpus replayed in shadow mode with the real legacy
//! system authoritative and the real new system as candidate over both databases: zero
//! mismatches, and a seeded bug in the candidate's `alias` handler reported and named.
//! PostgreSQL tests skip (saying so) without `TROUPE_TEST_POSTGRES_URL`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use troupe_application::handlers::NewSystem;
use troupe_application::shadow::ShadowResult;
use troupe_application::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, OutcomeClass, SystemKind,
};
use troupe_domain::UserId;
use troupe_domain::personality::{Personality, PersonalityName};
use troupe_legacy::LegacySystem;
use troupe_parity::{CORPUS, FreshStore, Runner, ShadowReplay, StoragePorts};
use troupe_ports::{PersonalityRepository, SnapshotSource, StoreError};
use troupe_store::Store;

fn personality(name: &str) -> Personality {
    common::fill::personality(name, 1, name, &[])
}

/// The adapter's contract on one store.
async fn snapshot_contract(store: &Store) {
    store.insert(&personality("before")).await.unwrap();
    let snapshots = store.snapshots(2);
    let pinned = snapshots.pin().await.expect("a snapshot pins");
    // Committed after the pin (the writer is not blocked by the open snapshot).
    store.insert(&personality("after")).await.unwrap();
    store
        .delete(&PersonalityName::parse("before").unwrap())
        .await
        .unwrap();
    let view = pinned.view();
    let name = |n: &str| PersonalityName::parse(n).unwrap();
    assert!(
        view.personalities
            .get(&name("before"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        view.personalities
            .get(&name("after"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(view.personalities.count().await.unwrap(), 1);
    let page = view
        .personalities
        .list_by_owner(UserId::new(1).unwrap(), 0, 10)
        .await
        .expect("a read using its own transaction runs inside the snapshot");
    assert_eq!(page.total, 1);
    assert!(
        view.personalities
            .get(&name("before"))
            .await
            .unwrap()
            .is_some()
    );
    // The live store sees the writes.
    assert!(store.get(&name("before")).await.unwrap().is_none());

    // Bounded: two at once, the third is refused at once.
    let second = snapshots.pin().await.expect("a second snapshot");
    let refused = snapshots.pin().await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "over the cap"
    );
    assert_eq!(snapshots.pinned(), 2);
    pinned.release().await.expect("the snapshot held");
    second.release().await.expect("the snapshot held");
    assert_eq!(snapshots.pinned(), 0);

    // Released connections are reused, and a new pin sees the present.
    let opened = snapshots.connections_opened();
    let again = snapshots.pin().await.unwrap();
    assert_eq!(snapshots.connections_opened(), opened, "reused");
    assert!(
        again
            .view()
            .personalities
            .get(&name("after"))
            .await
            .unwrap()
            .is_some()
    );
    // Dropped without release: the slot is freed, the connection discarded.
    drop(again);
    assert_eq!(snapshots.pinned(), 0);
    let fresh = snapshots.pin().await.unwrap();
    fresh.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_snapshot_reads_the_state_as_of_its_pin_and_never_blocks_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "snap.db").await;
    snapshot_contract(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_snapshot_reads_the_state_as_of_its_pin_and_never_blocks_writers() {
    common::with_postgres("snapshot", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        snapshot_contract(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_in_memory_sqlite_database_gives_no_snapshot_and_says_why() {
    let store = Store::open("sqlite::memory:", common::options())
        .await
        .unwrap();
    let snapshots = store.snapshots(1);
    match snapshots.pin().await {
        Err(StoreError::Unexpected(why)) => assert!(why.contains("WAL"), "{why}"),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("an in-memory database cannot give a snapshot"),
    }
    assert_eq!(snapshots.pinned(), 0, "the failed pin freed its slot");
}

/// A fresh SQLite file per scenario copy.
struct SqliteFiles {
    dir: tempfile::TempDir,
    next: AtomicU64,
}

#[async_trait]
impl FreshStore for SqliteFiles {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let store = Arc::new(common::sqlite_store(self.dir.path(), &format!("{n}.db")).await);
        Ok(StoragePorts::of(&store).with_snapshots(Arc::new(store.snapshots(2))))
    }
}

/// One PostgreSQL database emptied before each scenario copy (copies are made one after the
/// other): every table but the migration log and the flag tables is truncated.
struct PgEmptied {
    store: Arc<Store>,
    admin: sqlx::PgPool,
}

#[async_trait]
impl FreshStore for PgEmptied {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename <> '_sqlx_migrations' AND tablename NOT LIKE 'flag%'",
        )
        .fetch_all(&self.admin)
        .await
        .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            tables.join(", ")
        )))
        .execute(&self.admin)
        .await
        .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        Ok(StoragePorts::of(&self.store).with_snapshots(Arc::new(self.store.snapshots(2))))
    }
}

fn legacy_runner(stores: Arc<dyn FreshStore>) -> Runner {
    Runner::new(
        stores,
        Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
    )
}

fn assert_all_match(results: &[ShadowReplay]) {
    assert_eq!(results.len(), CORPUS.len());
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.result != ShadowResult::Match)
        .map(|r| format!("{} ({}): {:?}", r.name, r.result.as_str(), r.differences))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios did not match in shadow mode:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// The new system with a seeded bug in one write handler: `alias` stores the alias with an
/// extra letter (a test-only wrapper).
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

async fn seeded_bug_is_caught(stores: Arc<dyn FreshStore>) {
    let runner = legacy_runner(stores).with_candidate(Arc::new(|deps| {
        Arc::new(MisspellingAlias(NewSystem::new(deps))) as Arc<dyn CommandSystem>
    }));
    let aliases: Vec<_> = CORPUS
        .iter()
        .filter(|s| s.command_name() == Some(CommandName::Alias))
        .copied()
        .collect();
    let results = runner.shadow_all(&aliases).await;
    let successes: Vec<_> = results
        .iter()
        .filter(|r| r.served == OutcomeClass::Success)
        .collect();
    assert!(!successes.is_empty());
    for r in successes {
        assert_eq!(r.result, ShadowResult::Mismatch, "{}", r.name);
        assert!(
            r.differences
                .iter()
                .any(|d| d.split('"').any(|p| p.ends_with('x') || p.contains("x "))),
            "{}: {:?}",
            r.name,
            r.differences
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_scenario_replayed_in_shadow_mode_over_sqlite_matches_and_a_seeded_bug_is_caught()
 {
    let stores = Arc::new(SqliteFiles {
        dir: tempfile::tempdir().unwrap(),
        next: AtomicU64::new(0),
    });
    assert_all_match(&legacy_runner(stores.clone()).shadow_all(CORPUS).await);
    seeded_bug_is_caught(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_scenario_replayed_in_shadow_mode_over_postgres_matches_and_a_seeded_bug_is_caught()
 {
    common::with_postgres("shadow corpus replay", |url| async move {
        let stores = Arc::new(PgEmptied {
            store: Arc::new(Store::open(&url, common::options()).await.unwrap()),
            admin: sqlx::PgPool::connect(&url).await.unwrap(),
        });
        assert_all_match(&legacy_runner(stores.clone()).shadow_all(CORPUS).await);
        seeded_bug_is_caught(stores.clone()).await;
        stores.store.close().await;
        stores.admin.close().await;
    })
    .await;
}
