//! A clock tests move by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use troupe_domain::{Duration, Timestamp};
use troupe_ports::Clock;

/// A [`Clock`] that stands still until a test sets or advances it. Thread-safe.
#[derive(Debug)]
pub struct FakeClock {
    millis: AtomicI64,
}

impl FakeClock {
    /// A clock showing `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            millis: AtomicI64::new(now.as_millis()),
        }
    }

    /// A clock showing `millis` milliseconds since the Unix epoch.
    pub fn at_millis(millis: i64) -> Self {
        Self::new(Timestamp::from_millis(millis))
    }

    /// Moves the clock to `now` (backwards too).
    pub fn set(&self, now: Timestamp) {
        self.millis.store(now.as_millis(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let step = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(step))
            });
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.load(Ordering::SeqCst))
    }
}
