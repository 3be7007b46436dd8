//! Pinned read-only views of the store, for shadow comparisons (ADR 0015): the candidate command
//! system must be judged against the state the authoritative system started from, so the view is
//! pinned before the authoritative system runs and read after it has changed the store.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    AuthRepository, ConversationRepository, PersonalityRepository, PreferencesRepository,
    ProcessedMessages, StoreError,
};

/// The storage ports of a pinned snapshot. Reads see the store exactly as it was when the
/// snapshot was pinned, whatever was committed since. Writes are not part of the contract: the
/// caller wraps the view in a dry run (a write reaching a snapshot is refused or discarded).
#[derive(Clone)]
pub struct StoreView {
    pub personalities: Arc<dyn PersonalityRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub auth: Arc<dyn AuthRepository>,
    pub preferences: Arc<dyn PreferencesRepository>,
    pub processed: Arc<dyn ProcessedMessages>,
}

impl std::fmt::Debug for StoreView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreView").finish_non_exhaustive()
    }
}

/// One pinned snapshot. It holds database resources (a connection in an open read transaction):
/// release it promptly. Dropping it without [`Snapshot::release`] also frees them (the
/// connection is discarded instead of reused).
#[async_trait]
pub trait Snapshot: Send + Sync {
    /// The read view as of the pin.
    fn view(&self) -> StoreView;
    /// Ends the read transaction and returns the connection for reuse. `Err` when the snapshot
    /// turned out not to hold (its connection was replaced): its reads may have been live.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// Pins snapshots of one store.
#[async_trait]
pub trait SnapshotSource: Send + Sync {
    /// A snapshot of the store as of now: every later read of it sees exactly the state
    /// committed before this returned. Bounded in time; `Unavailable` when no snapshot can be
    /// pinned now (all snapshot connections busy, the database unreachable); `Unexpected` when
    /// the store cannot give snapshots at all (an in-memory SQLite database).
    async fn pin(&self) -> Result<Box<dyn Snapshot>, StoreError>;
}
