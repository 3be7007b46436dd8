//! Tokens at rest: encrypted, bound to their user, refused clearly without the right key, and
//! re-encrypted on key rotation.

mod common;

use std::ops::ControlFlow;

use troupe_domain::auth::{AccessToken, UserAuth};
use troupe_domain::{Timestamp, UserId};
use troupe_ports::{AuthRepository, StoreError};
use troupe_store::{Store, StoreOptions, TokenKey};

const SECRET: &str = "very-secret-token-0123456789";

fn auth(user: u64) -> UserAuth {
    UserAuth {
        user: UserId::new(user).unwrap(),
        token: AccessToken::parse(SECRET).unwrap(),
        created_at: Timestamp::from_millis(1_000),
        expires_at: Timestamp::from_millis(2_000),
    }
}

fn key(byte: u8) -> TokenKey {
    TokenKey::from_bytes([byte; 32])
}

async fn open(url: &str, current: Option<TokenKey>, previous: Vec<TokenKey>) -> Store {
    Store::open(
        url,
        StoreOptions {
            token_key: current,
            previous_token_keys: previous,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap()
}

async fn raw_ciphertexts(url: &str) -> Vec<Vec<u8>> {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT token_ciphertext FROM auth_tokens")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stored_token_is_encrypted_and_never_readable_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "t.db");
    let store = open(&url, Some(key(1)), vec![]).await;
    store.save_token(&auth(5)).await.unwrap();
    store.close().await;
    for blob in raw_ciphertexts(&url).await {
        assert!(!blob.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    }
    let file = std::fs::read(dir.path().join("t.db")).unwrap();
    assert!(!file.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    let store = open(&url, Some(key(1)), vec![]).await;
    assert_eq!(store.token(auth(5).user).await.unwrap(), Some(auth(5)));
}

#[tokio::test]
async fn saving_a_token_without_a_key_is_a_clear_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&common::sqlite_url(dir.path(), "t.db"), None, vec![]).await;
    match store.save_token(&auth(5)).await {
        Err(StoreError::Unexpected(m)) => assert!(m.contains("no token key configured"), "{m}"),
        other => panic!("expected Unexpected, got {other:?}"),
    }
    assert_eq!(store.count_tokens().await, Ok(0));
}

#[tokio::test]
async fn reading_a_token_with_a_wrong_or_missing_key_names_the_problem_but_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "t.db");
    open(&url, Some(key(1)), vec![])
        .await
        .save_token(&auth(5))
        .await
        .unwrap();

    for (current, expect) in [
        (Some(key(2)), "key id"),
        (None, "no token key is configured"),
    ] {
        let store = open(&url, current, vec![]).await;
        match store.token(auth(5).user).await {
            Err(StoreError::Unexpected(m)) => {
                assert!(m.contains(expect), "{m}");
                assert!(
                    !m.contains(SECRET),
                    "the error must not show the token: {m}"
                );
            }
            other => panic!("expected Unexpected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn after_a_key_rotation_old_tokens_decrypt_and_can_be_re_encrypted_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "t.db");
    let old = open(&url, Some(key(1)), vec![]).await;
    old.save_token(&auth(5)).await.unwrap();
    old.save_token(&auth(6)).await.unwrap();
    old.close().await;

    let rotated = open(&url, Some(key(2)), vec![key(1)]).await;
    assert_eq!(rotated.token(auth(5).user).await.unwrap(), Some(auth(5)));
    let mut batches = Vec::new();
    let first = rotated
        .reencrypt_tokens(1, |r| {
            batches.push((r.seen, r.total));
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!((first.rewritten, first.current), (2, 0));
    assert!(first.needs_old_key.is_empty());
    assert_eq!(batches, vec![(1, 2), (2, 2)], "progress after every batch");
    let again = rotated
        .reencrypt_tokens(100, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    assert_eq!(
        (again.rewritten, again.current),
        (0, 2),
        "nothing left to rewrite: the run is idempotent"
    );
    rotated.close().await;

    let new_only = open(&url, Some(key(2)), vec![]).await;
    assert_eq!(new_only.token(auth(6).user).await.unwrap(), Some(auth(6)));
    assert!(
        new_only.check().await.unwrap().is_ok(),
        "every token decrypts with the new key"
    );
}

#[tokio::test]
async fn a_token_row_copied_to_another_user_does_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "t.db");
    let store = open(&url, Some(key(1)), vec![]).await;
    store.save_token(&auth(5)).await.unwrap();
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO auth_tokens (user_id, token_ciphertext, created_at, expires_at) \
             SELECT 6, token_ciphertext, created_at, expires_at FROM auth_tokens WHERE user_id = 5",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    assert!(matches!(
        store.token(UserId::new(6).unwrap()).await,
        Err(StoreError::Unexpected(_))
    ));
}

#[tokio::test]
async fn unsupported_or_unreachable_databases_are_clear_errors_that_never_echo_the_url() {
    let err = Store::connect("mysql://root:hunter2@db/x", StoreOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unexpected(m) if m.contains("unsupported") && !m.contains("hunter2")),
        "{err:?}"
    );
    let quick = StoreOptions {
        busy_timeout: std::time::Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let err = Store::connect("postgres://u:hunter2@127.0.0.1:1/x", quick)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if !m.contains("hunter2")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stopped_re_encryption_resumes_and_reports_tokens_that_still_need_an_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::sqlite_url(dir.path(), "t.db");
    let first = open(&url, Some(key(1)), vec![]).await;
    for user in 5..9 {
        first.save_token(&auth(user)).await.unwrap();
    }
    first.close().await;
    // A token sealed with a key the operator no longer configures.
    let lost = open(&url, Some(key(3)), vec![]).await;
    lost.save_token(&auth(9)).await.unwrap();
    lost.close().await;

    let rotated = open(&url, Some(key(2)), vec![key(1)]).await;
    // Stopped after the first batch (as a killed process would be): half is rewritten.
    let stopped = rotated
        .reencrypt_tokens(2, |_| ControlFlow::Break(()))
        .await
        .unwrap();
    assert_eq!((stopped.seen, stopped.rewritten), (2, 2));
    // The next run continues: earlier rewrites count as current, nothing is rewritten twice.
    let report = rotated
        .reencrypt_tokens(2, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    assert_eq!(report.total, 5);
    assert_eq!((report.rewritten, report.current), (2, 2));
    assert_eq!(
        report.needs_old_key.into_iter().collect::<Vec<_>>(),
        vec![(Some(key(3).id()), 1)],
        "the token sealed with the unconfigured key is named by its key id"
    );
    // The bot keeps reading the tokens under the new key alone.
    rotated.close().await;
    let new_only = open(&url, Some(key(2)), vec![]).await;
    assert_eq!(new_only.token(auth(7).user).await.unwrap(), Some(auth(7)));
}
