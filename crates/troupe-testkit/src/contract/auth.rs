//! The `AuthRepository` contract.

use troupe_domain::auth::{AccessToken, AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{Duration, UserId};

use super::fixtures::{ABOVE_I64_MAX_ID, I64_MAX_ID, at, user};
use crate::Stores;

/// Checks every clause of `AuthRepository` on a fresh store.
pub async fn auth_repository(s: &Stores) {
    tokens_round_trip_are_replaced_and_deleted(s).await;
    expired_tokens_are_deleted_at_their_expiry(s).await;
    the_first_age_verification_is_kept_until_removed(s).await;
    take_pending_removes_and_returns_the_user_s_newest(s).await;
}

fn token(raw: &str) -> AccessToken {
    AccessToken::parse(raw).expect("test tokens are valid")
}

fn issued(u: UserId, raw: &str, created: i64, expires: i64) -> UserAuth {
    UserAuth {
        user: u,
        token: token(raw),
        created_at: at(created),
        expires_at: at(expires),
    }
}

/// Asserts equality including the secret, which `UserAuth`'s `Debug` hides.
fn assert_same_token(got: Option<UserAuth>, want: &UserAuth, what: &str) {
    let Some(got) = got else {
        panic!("{what}: expected a token for {} but got none", want.user);
    };
    assert_eq!(
        got.token.expose(),
        want.token.expose(),
        "{what}: the secret round-trips"
    );
    assert_eq!(got, *want, "{what}: user and times to the millisecond");
}

async fn tokens_round_trip_are_replaced_and_deleted(s: &Stores) {
    let a = &s.auth;
    let u = user(u64::MAX);
    assert_eq!(a.token(u).await, Ok(None), "no token yet");
    assert_eq!(a.count_tokens().await, Ok(0), "a fresh store has no token");
    assert_eq!(
        a.delete_token(u).await,
        Ok(false),
        "deleting a missing token is false"
    );

    let secret = format!("ya29.{}-_~.+/=!$&'()*,;:@?%", "Ab9".repeat(1300));
    assert!(secret.len() > 3900, "fixture check: a long token");
    let thirty_days = 30 * 86_400_000;
    let first = issued(u, &secret, 1, 1 + thirty_days);
    a.save_token(&first).await.expect("save succeeds");
    assert_same_token(a.token(u).await.expect("ok"), &first, "a saved token");
    assert_eq!(a.count_tokens().await, Ok(1), "one token");

    let second = issued(u, "second-token", 2, 3);
    a.save_token(&second).await.expect("save succeeds");
    assert_same_token(
        a.token(u).await.expect("ok"),
        &second,
        "saving again replaces",
    );
    assert_eq!(a.count_tokens().await, Ok(1), "still one token per user");

    assert_eq!(
        a.delete_token(u).await,
        Ok(true),
        "delete reports the token existed"
    );
    assert_eq!(a.token(u).await, Ok(None), "deleted");
    assert_eq!(
        a.delete_token(u).await,
        Ok(false),
        "a second delete is false"
    );
    assert_eq!(a.count_tokens().await, Ok(0), "no token left");
}

async fn expired_tokens_are_deleted_at_their_expiry(s: &Stores) {
    let a = &s.auth;
    let tokens = [
        issued(user(I64_MAX_ID), "t-early", 0, 1000),
        issued(user(ABOVE_I64_MAX_ID), "t-boundary", 0, 2000),
        issued(user(1), "t-late", 0, 5000),
    ];
    for t in &tokens {
        a.save_token(t).await.expect("save succeeds");
    }
    assert_eq!(
        a.delete_expired_tokens(at(999)).await,
        Ok(0),
        "nothing expired yet"
    );
    assert_eq!(
        a.delete_expired_tokens(at(2000)).await,
        Ok(2),
        "tokens expired at `now`, including one expiring exactly then, are deleted"
    );
    assert_eq!(
        a.token(user(I64_MAX_ID)).await,
        Ok(None),
        "expired token deleted"
    );
    assert_eq!(
        a.token(user(ABOVE_I64_MAX_ID)).await,
        Ok(None),
        "token at its expiry deleted"
    );
    assert_same_token(
        a.token(user(1)).await.expect("ok"),
        &tokens[2],
        "a live token stays",
    );
    assert_eq!(a.count_tokens().await, Ok(1), "one token left");
    assert_eq!(
        a.delete_expired_tokens(at(2000)).await,
        Ok(0),
        "nothing left to delete"
    );
}

async fn the_first_age_verification_is_kept_until_removed(s: &Stores) {
    let a = &s.auth;
    let (u, other) = (user(u64::MAX), user(ABOVE_I64_MAX_ID));
    assert_eq!(a.verification(u).await, Ok(None), "not verified yet");
    assert_eq!(
        a.remove_verification(u).await,
        Ok(false),
        "removing nothing is false"
    );

    let first = AgeVerification {
        user: u,
        verified_at: at(3),
    };
    a.save_verification(&first).await.expect("save succeeds");
    assert_eq!(
        a.verification(u).await,
        Ok(Some(first)),
        "a verification round-trips"
    );
    let later = AgeVerification {
        user: u,
        verified_at: at(9),
    };
    a.save_verification(&later)
        .await
        .expect("saving again succeeds");
    assert_eq!(
        a.verification(u).await,
        Ok(Some(first)),
        "the first verification is kept"
    );
    assert_eq!(
        a.verification(other).await,
        Ok(None),
        "verifications are per user"
    );

    assert_eq!(
        a.remove_verification(u).await,
        Ok(true),
        "remove reports it existed"
    );
    assert_eq!(a.verification(u).await, Ok(None), "removed");
    assert_eq!(
        a.remove_verification(u).await,
        Ok(false),
        "a second remove is false"
    );
    a.save_verification(&later).await.expect("save succeeds");
    assert_eq!(
        a.verification(u).await,
        Ok(Some(later)),
        "a new verification after removal"
    );
}

async fn take_pending_removes_and_returns_the_user_s_newest(s: &Stores) {
    let a = &s.auth;
    let (u, other) = (user(u64::MAX), user(I64_MAX_ID));
    assert_eq!(a.take_pending(u).await, Ok(None), "nothing pending yet");

    let state = |tag: &str| format!("{tag}-{}%2F_~.", "Zz0-".repeat(16));
    let older = PendingAuthorization::new(state("older"), u, at(10));
    let newer = PendingAuthorization::new(state("newer"), u, at(10).plus(Duration::from_millis(1)));
    let theirs = PendingAuthorization::new(state("theirs"), other, at(15));
    // Saved out of order: "newest" is by creation time.
    for p in [&newer, &older, &theirs] {
        a.save_pending(p).await.expect("save succeeds");
    }
    assert_eq!(
        a.take_pending(u).await,
        Ok(Some(newer)),
        "take_pending returns the user's newest authorization, state intact"
    );
    assert_eq!(a.take_pending(other).await, Ok(Some(theirs)), "per user");
    assert_eq!(a.take_pending(other).await, Ok(None), "taking removes it");
    assert_eq!(
        a.take_pending(user(5)).await,
        Ok(None),
        "a user with nothing pending"
    );
}
