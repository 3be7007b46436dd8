//! The `GatewaySessions` and `SharedRateLimit` contracts.

use std::time::Instant;

use troupe_domain::Duration;
use troupe_ports::{GatewaySessions, SharedRateLimit, StoredSession};

use super::fixtures::at;

fn session(shard: u32, total: u32, id: &str, sequence: u64, saved: i64) -> StoredSession {
    StoredSession {
        shard,
        total,
        session_id: id.to_owned(),
        sequence,
        resume_url: Some(format!("wss://gateway-{shard}.example/")),
        saved_at: at(saved),
    }
}

/// Checks every clause of `GatewaySessions` on a fresh store.
pub async fn gateway_sessions(s: &dyn GatewaySessions) {
    assert_eq!(
        s.take_sessions(4, 0..4, at(0)).await,
        Ok(Vec::new()),
        "a fresh store has no session"
    );
    let big = session(3, 4, "session-big", u64::from(u32::MAX) * 7, 5);
    for saved in [
        session(0, 4, "old-0", 10, 0),
        session(0, 4, "session-0", 42, 1),
        session(1, 4, "session-1", 7, 2),
        big.clone(),
        session(0, 2, "other-total", 9, 3),
    ] {
        s.save_session(&saved).await.expect("save");
    }
    let mut no_url = session(2, 4, "session-2", 1, 4);
    no_url.resume_url = None;
    s.save_session(&no_url).await.expect("save");

    let taken = s.take_sessions(4, 0..3, at(0)).await.expect("take");
    assert_eq!(
        taken,
        vec![
            session(0, 4, "session-0", 42, 1),
            session(1, 4, "session-1", 7, 2),
            no_url
        ],
        "the shards of the range and total, the newest save of each, sorted by shard"
    );
    assert_eq!(
        s.take_sessions(4, 0..3, at(0)).await,
        Ok(Vec::new()),
        "a taken session is gone: it is resumed at most once"
    );
    assert_eq!(
        s.take_sessions(4, 3..4, at(6)).await,
        Ok(Vec::new()),
        "a session saved before not_before is not returned"
    );
    assert_eq!(
        s.take_sessions(4, 3..4, at(0)).await,
        Ok(Vec::new()),
        "and it was removed"
    );
    assert_eq!(
        s.take_sessions(2, 0..2, at(3)).await,
        Ok(vec![session(0, 2, "other-total", 9, 3)]),
        "another total is another shard"
    );
    let _ = big;
}

/// Checks every clause of `SharedRateLimit` on a fresh store (takes about a second).
pub async fn shared_rate_limit(s: &dyn SharedRateLimit) {
    let window = Duration::from_millis(800);
    let started = Instant::now();
    for i in 0..3 {
        assert_eq!(
            s.try_take("contract", 3, window).await,
            Ok(None),
            "use {i} of 3 is taken"
        );
    }
    let wait = s
        .try_take("contract", 3, window)
        .await
        .expect("try_take")
        .expect("a fourth use within the window is refused");
    assert!(
        wait <= window && wait + started.elapsed() + Duration::from_millis(50) >= window,
        "the wait is the time until the oldest use leaves the window: {wait:?}"
    );
    assert_eq!(
        s.try_take("another key", 3, window).await,
        Ok(None),
        "keys are independent"
    );
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    assert_eq!(
        s.try_take("contract", 3, window).await,
        Ok(None),
        "once the oldest use left the window a use is free again"
    );

    let long = Duration::from_secs(60);
    let results = tokio::join!(
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
        s.try_take("race", 5, long),
    );
    let taken = [
        results.0, results.1, results.2, results.3, results.4, results.5, results.6, results.7,
    ]
    .into_iter()
    .map(|r| r.expect("try_take succeeds"))
    .filter(Option::is_none)
    .count();
    assert_eq!(taken, 5, "of racing takers exactly the limit get a use");
    assert!(
        s.try_take("zero", 0, window)
            .await
            .expect("try_take")
            .is_some(),
        "a limit of 0 never gives a use"
    );
}
