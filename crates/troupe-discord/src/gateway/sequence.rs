//! Where a shard's session resumes: after the last event whose work started. Events still
//! queued when the process stops are replayed to the next one (Discord resends everything
//! after the sequence number given in RESUME); events already started are not (they were
//! claimed, and the message and command guards would ignore a replay anyway).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// The queued (not started) sequence numbers of one shard.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    pending: Mutex<BTreeSet<u64>>,
}

impl Sequences {
    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The event `seq` waits in a queue.
    pub(crate) fn queued(&self, seq: u64) {
        self.pending().insert(seq);
    }

    /// The work of event `seq` started.
    pub(crate) fn started(&self, seq: u64) {
        self.pending().remove(&seq);
    }

    /// The sequence number to resume after, given the last one the shard received: just
    /// before the oldest event not started, or the last one when every event started.
    pub(crate) fn resume_point(&self, last: u64) -> u64 {
        self.pending()
            .first()
            .map_or(last, |oldest| oldest.saturating_sub(1).min(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_point_is_before_the_oldest_event_not_started() {
        let s = Sequences::default();
        assert_eq!(s.resume_point(7), 7);
        s.queued(8);
        s.queued(9);
        s.queued(12);
        assert_eq!(s.resume_point(12), 7);
        s.started(8);
        assert_eq!(s.resume_point(12), 8);
        s.started(9);
        s.started(12);
        assert_eq!(s.resume_point(14), 14);
    }
}
