//! In-memory [`GatewaySessions`] and [`SharedRateLimit`]: the fakes of the gateway-side storage
//! ports (state of their own, apart from [`InMemoryStore`](super::InMemoryStore)).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use troupe_domain::{Duration, Timestamp};
use troupe_ports::{GatewaySessions, SharedRateLimit, StoreError, StoredSession};

/// Saved gateway sessions and rate-limit uses, in memory (one process: the "store clock" is
/// this process's monotonic clock).
#[derive(Debug, Default)]
pub struct InMemorySessions {
    sessions: Mutex<BTreeMap<(u32, u32), StoredSession>>,
    uses: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl InMemorySessions {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl GatewaySessions for InMemorySessions {
    async fn save_session(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((session.total, session.shard), session.clone());
        Ok(())
    }

    async fn take_sessions(
        &self,
        total: u32,
        shards: Range<u32>,
        not_before: Timestamp,
    ) -> Result<Vec<StoredSession>, StoreError> {
        let mut all = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<(u32, u32)> = all
            .keys()
            .filter(|(t, s)| *t == total && shards.contains(s))
            .copied()
            .collect();
        Ok(keys
            .into_iter()
            .filter_map(|k| all.remove(&k))
            .filter(|s| s.saved_at >= not_before)
            .collect())
    }
}

#[async_trait]
impl SharedRateLimit for InMemorySessions {
    async fn try_take(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        let log = uses.entry(key.to_owned()).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
        if log.len() < limit as usize {
            log.push_back(now);
            return Ok(None);
        }
        let oldest = log.front().copied().unwrap_or(now);
        Ok(Some(window.saturating_sub(now.duration_since(oldest))))
    }
}
