//! Migration 0030 (ADR 0017): history rows written before it get the user of their DM, guild
//! rows stay unattributed, and a reset afterwards forgets the caller's and the unattributed
//! turns only. The database is taken back to the schema before 0030 (column dropped, migration
//! record removed), filled the way the previous release writes, and opened again.

mod common;

use common::fill::{at, channel, name, personality, user};
use sqlx::Connection as _;
use troupe_domain::conversation::{Conversation, HistoryEntry, Speaker};
use troupe_ports::{ConversationRepository, PersonalityRepository};
use troupe_store::Store;

const BEFORE_0030: &str = "ALTER TABLE history DROP COLUMN user_id; \
     DELETE FROM _sqlx_migrations WHERE version = 30;";

/// The previous release's rows: a DM of user 4 (channel 50), a guild channel (60) where users
/// 4 and 5 talked.
const OLD_ROWS: &str = "\
    INSERT INTO conversations (user_id, channel_id, personality_key, last_activity, mode, is_dm) \
        VALUES (4, 50, 'zoë', 1, 'continuation', TRUE), (5, 60, 'zoë', 1, 'continuation', FALSE); \
    INSERT INTO history (channel_id, personality_key, speaker, author, content, at) VALUES \
        (50, 'zoë', 'user', 'ann', 'dm question', 1), \
        (50, 'zoë', 'personality', 'Zoë', 'dm answer', 2), \
        (60, 'zoë', 'user', 'ann', 'guild question', 3), \
        (60, 'zoë', 'user', 'bob', 'guild question', 4);";

async fn seed(store: &Store) {
    store
        .insert(&personality("zoë", 1, "Zoë", &[]))
        .await
        .unwrap();
}

async fn check_after_migration(store: &Store) {
    let users = |h: Vec<HistoryEntry>| h.into_iter().map(|e| e.user).collect::<Vec<_>>();
    let zoe = name("zoë");
    assert_eq!(
        users(store.history(channel(50), &zoe, 20).await.unwrap()),
        [Some(user(4)), Some(user(4))],
        "a DM's older turns become its user's"
    );
    assert_eq!(
        users(store.history(channel(60), &zoe, 20).await.unwrap()),
        [None, None],
        "guild turns cannot be attributed"
    );
    // A new turn by user 5 in the guild channel, then user 4's reset there.
    store
        .append_history(
            channel(60),
            &zoe,
            &HistoryEntry::new(Speaker::User, user(5), "bob", "after the upgrade", at(5)),
            20,
        )
        .await
        .unwrap();
    store
        .save_conversation(&Conversation::after_exchange(
            user(4),
            channel(60),
            zoe.clone(),
            false,
            false,
            at(5),
        ))
        .await
        .unwrap();
    assert!(
        store
            .clear_conversation(user(4), channel(60), &zoe)
            .await
            .unwrap()
    );
    let kept = store.history(channel(60), &zoe, 20).await.unwrap();
    assert_eq!(
        kept.iter()
            .map(|e| (e.user, e.content.as_str()))
            .collect::<Vec<_>>(),
        [(Some(user(5)), "after the upgrade")],
        "the reset forgets the unattributed turns and keeps user 5's new one"
    );
    assert!(
        store
            .conversation(user(5), channel(60))
            .await
            .unwrap()
            .is_some(),
        "user 5's conversation stays"
    );
}

#[tokio::test]
async fn sqlite_history_rows_from_before_0030_get_their_dm_user_and_reset_treats_the_rest_as_anyone_s()
 {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "h.db").await;
    seed(&store).await;
    store.close().await;
    let url = common::sqlite_url(dir.path(), "h.db");
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{BEFORE_0030} {OLD_ROWS}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = common::sqlite_store(dir.path(), "h.db").await;
    assert_eq!(
        store.schema_version().await.unwrap(),
        Store::latest_schema_version()
    );
    check_after_migration(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_rows_from_before_0030_get_their_dm_user_and_reset_treats_the_rest_as_anyone_s()
 {
    common::with_postgres("history user migration", |url| async move {
        let store = Store::open(&url, common::options()).await.unwrap();
        seed(&store).await;
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{BEFORE_0030} {OLD_ROWS}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let store = Store::open(&url, common::options()).await.unwrap();
        check_after_migration(&store).await;
        store.close().await;
    })
    .await;
}
