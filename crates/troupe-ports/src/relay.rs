//! Gateway events relayed from a gateway process to worker processes (the optional
//! gateway/worker mode, ADR 0045). The payload is opaque here: the Discord adapter writes it
//! and reads it back; a broker adapter only stores and delivers it.

use async_trait::async_trait;

/// One gateway event on its way to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayedEvent {
    /// De-duplication id: the same Discord event (replayed after a resume, or published again
    /// after an unconfirmed attempt) always has the same id, so it is stored once.
    pub id: String,
    /// The event's kind (`MESSAGE_CREATE`, …), for subjects, filters and metrics.
    pub kind: &'static str,
    /// The serialised event, as the Discord adapter wrote it.
    pub payload: Vec<u8>,
}

/// Why an event could not be relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The broker cannot be reached or did not confirm in time; trying again (same id) is safe.
    #[error("the event broker is unavailable: {0}")]
    Unavailable(String),
    /// Anything else (the broker refused the event).
    #[error("unexpected event broker error: {0}")]
    Unexpected(String),
}

/// Where a gateway process hands the events its workers handle.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventRelay: Send + Sync {
    /// Stores `event` durably for the workers. Returns `Ok` once the broker confirmed it, also
    /// when an event with the same id was stored already within the de-duplication window (it
    /// is then stored once). Returns `Unavailable` when the broker cannot be reached or did not
    /// confirm in time: the caller tries again with the same id.
    async fn publish(&self, event: RelayedEvent) -> Result<(), RelayError>;

    /// Tells every worker running now about a change (the Discord adapter's cache
    /// invalidations). Not stored: a worker that is not running misses it, which is fine for a
    /// worker that starts later has nothing stale. Best effort: `Unavailable` when the broker
    /// cannot be reached.
    async fn broadcast(&self, kind: &'static str, payload: Vec<u8>) -> Result<(), RelayError>;
}
