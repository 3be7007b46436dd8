//! The `ProcessedMessages` contract.

use troupe_domain::Duration;

use super::fixtures::{ABOVE_I64_MAX_ID, I64_MAX_ID, at, message};
use crate::Stores;

/// Checks every clause of `ProcessedMessages` on a fresh store.
pub async fn processed_messages(s: &Stores) {
    let p = &s.processed;
    let ttl = Duration::from_secs(600);
    let ttl_ms = 600_000;
    assert_eq!(p.count().await, Ok(0), "a fresh store remembers no claim");

    let ids = [1, I64_MAX_ID, ABOVE_I64_MAX_ID, u64::MAX];
    for id in ids {
        assert_eq!(
            p.claim(message(id), at(0), ttl).await,
            Ok(true),
            "first claim of {id}"
        );
    }
    for id in ids {
        assert_eq!(
            p.claim(message(id), at(0), ttl).await,
            Ok(false),
            "a second claim of {id} at the same time is refused"
        );
    }
    assert_eq!(
        p.claim(message(1), at(ttl_ms - 1), ttl).await,
        Ok(false),
        "a claim 1 ms before the ttl ends is refused"
    );
    assert_eq!(p.count().await, Ok(4), "four ids claimed");

    let raced = message(424_242);
    let claims = tokio::join!(
        p.claim(raced, at(0), ttl),
        p.claim(raced, at(0), ttl),
        p.claim(raced, at(0), ttl),
        p.claim(raced, at(0), ttl),
    );
    let won = [claims.0, claims.1, claims.2, claims.3]
        .into_iter()
        .map(|r| r.expect("claim succeeds"))
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1, "of racing claims of one id exactly one wins");
    assert_eq!(p.count().await, Ok(5), "five ids claimed");

    assert_eq!(
        p.clear().await,
        Ok(5),
        "clear returns how many claims there were"
    );
    assert_eq!(p.count().await, Ok(0), "clear forgets every claim");
    assert_eq!(
        p.claim(message(1), at(0), ttl).await,
        Ok(true),
        "a cleared id is new again"
    );

    let late = message(777);
    assert_eq!(p.claim(late, at(0), ttl).await, Ok(true), "first claim");
    assert_eq!(
        p.claim(late, at(ttl_ms + 1), ttl).await,
        Ok(true),
        "a claim older than the ttl no longer blocks a new one"
    );
    assert_eq!(
        p.claim(late, at(ttl_ms + 2), ttl).await,
        Ok(false),
        "the renewed claim blocks again"
    );
}
