use std::ops::Range;

use async_trait::async_trait;
use troupe_domain::{Duration, Timestamp};

use crate::StoreError;

/// A gateway session a stopping process left for the next one to resume: Discord then
/// replays the events sent in between, so a restart loses none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The shard's number and the bot's total shard count (a session only resumes the same
    /// shard of the same total).
    pub shard: u32,
    pub total: u32,
    /// Discord's session id.
    pub session_id: String,
    /// The sequence number of the last event this process took on; the next one resumes
    /// after it.
    pub sequence: u64,
    /// Where to resume (`READY.resume_gateway_url`), when known.
    pub resume_url: Option<String>,
    pub saved_at: Timestamp,
}

/// Where gateway sessions wait between two processes.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait GatewaySessions: Send + Sync {
    /// Saves `session`, replacing any saved for the same shard and total.
    async fn save_session(&self, session: &StoredSession) -> Result<(), StoreError>;

    /// Takes the saved sessions of the shards in `shards` of `total`: they are removed, so a
    /// session is resumed at most once. Sessions saved before `not_before` are removed and not
    /// returned (Discord has forgotten them). Sorted by shard.
    async fn take_sessions(
        &self,
        total: u32,
        shards: Range<u32>,
        not_before: Timestamp,
    ) -> Result<Vec<StoredSession>, StoreError>;
}

/// A rate limit shared by every process that uses the same store: at most `limit` uses of a
/// key in any window of time, by one clock for all of them (the store's).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SharedRateLimit: Send + Sync {
    /// Takes one use of `key` if fewer than `limit` were taken within the last `window`:
    /// `Ok(None)`. Otherwise takes nothing and returns how long until the oldest use leaves
    /// the window: `Ok(Some(wait))`. Every process must use the same `limit` for a key.
    async fn try_take(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StoreError>;
}
