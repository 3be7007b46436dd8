//! Pacing of a backup taken beside a running bot: the backup works in short slices and rests
//! between them, so it takes a bounded share of one CPU and the commands answered meanwhile
//! rarely meet it (docs/PERFORMANCE.md, "Paced backups"; ADR 0033).
//!
//! The pacer is called often from inside the work — SQLite's progress handler during the
//! snapshot and its checks, every buffer while hashing — and says when to rest.

use std::time::{Duration, Instant};

/// How a backup shares the machine with the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// As fast as the machine allows: an operator's `troupe backup`, the backup before a
    /// migration, the safety backup of a restore.
    #[default]
    Full,
    /// Beside a running bot (the schedule, the admin API): work in slices of [`SLICE`] and
    /// rest [`REST_PER_SLICE`] times as long after each, about a tenth of one CPU.
    Background,
}

/// The longest stretch of work before a rest.
pub const SLICE: Duration = Duration::from_millis(2);
/// How much longer a rest is than the slice of work before it.
pub const REST_PER_SLICE: u32 = 9;
/// SQLite virtual-machine instructions between two calls of the progress handler (a few
/// microseconds of work each).
pub(crate) const PROGRESS_OPS: i32 = 1_000;

/// Tracks the current slice of work.
#[derive(Debug)]
pub(crate) struct Pacer {
    pace: Pace,
    slice_started: Instant,
}

impl Pacer {
    pub(crate) fn new(pace: Pace) -> Self {
        Self {
            pace,
            slice_started: Instant::now(),
        }
    }

    /// How long to rest now (`None`: keep working); starts a new slice after a rest.
    pub(crate) fn rest_at(&mut self, now: Instant) -> Option<Duration> {
        if self.pace == Pace::Full {
            return None;
        }
        let worked = now.saturating_duration_since(self.slice_started);
        if worked < SLICE {
            return None;
        }
        let rest = worked * REST_PER_SLICE;
        self.slice_started = now + rest;
        Some(rest)
    }

    /// Rests the calling thread when the slice is used up. Called from the backup's own
    /// threads only (never a runtime thread).
    pub(crate) fn pause(&mut self) {
        if let Some(rest) = self.rest_at(Instant::now()) {
            std::thread::sleep(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pace_never_rests() {
        let start = Instant::now();
        let mut pacer = Pacer::new(Pace::Full);
        assert_eq!(pacer.rest_at(start + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_background_pace_rests_nine_times_each_slice_of_work() {
        let mut pacer = Pacer::new(Pace::Background);
        let start = pacer.slice_started;
        assert_eq!(pacer.rest_at(start + Duration::from_micros(1_500)), None);
        let rest = pacer
            .rest_at(start + Duration::from_micros(2_500))
            .expect("a rest after a full slice");
        assert_eq!(rest, Duration::from_micros(22_500));
        // The next slice starts when the rest ends: work done during the rest does not count.
        let next = start + Duration::from_micros(2_500) + rest;
        assert_eq!(pacer.rest_at(next + Duration::from_micros(1_000)), None);
        assert_eq!(
            pacer.rest_at(next + Duration::from_micros(2_000)),
            Some(Duration::from_millis(18))
        );
    }
}
