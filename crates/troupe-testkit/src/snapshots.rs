//! The in-memory [`SnapshotSource`]: a pinned snapshot is a deep copy of the store's state, so
//! writes made to the store after the pin are not seen by it (ADR 0015).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use troupe_ports::{Snapshot, SnapshotSource, StoreError, StoreView};

use crate::InMemoryStore;

/// Snapshots of one [`InMemoryStore`]. [`Self::fail_pins`] makes pinning fail like a database
/// that cannot give a snapshot now; [`Self::released`] counts released snapshots.
/// Cheap to clone: clones share the counters.
#[derive(Debug, Clone)]
pub struct InMemorySnapshots {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Arc<InMemoryStore>,
    fail: AtomicBool,
    pinned: AtomicUsize,
    released: AtomicUsize,
}

impl InMemorySnapshots {
    pub fn of(store: &Arc<InMemoryStore>) -> Self {
        Self {
            inner: Arc::new(Shared {
                store: Arc::clone(store),
                fail: AtomicBool::new(false),
                pinned: AtomicUsize::new(0),
                released: AtomicUsize::new(0),
            }),
        }
    }

    /// From now on pinning fails (`on`) or works again.
    pub fn fail_pins(&self, on: bool) {
        self.inner.fail.store(on, Ordering::SeqCst);
    }

    /// Snapshots pinned so far.
    pub fn pinned(&self) -> usize {
        self.inner.pinned.load(Ordering::SeqCst)
    }

    /// Snapshots released so far.
    pub fn released(&self) -> usize {
        self.inner.released.load(Ordering::SeqCst)
    }
}

struct Copy {
    copy: Arc<InMemoryStore>,
    source: InMemorySnapshots,
}

#[async_trait]
impl Snapshot for Copy {
    fn view(&self) -> StoreView {
        StoreView {
            personalities: self.copy.clone(),
            conversations: self.copy.clone(),
            auth: self.copy.clone(),
            preferences: self.copy.clone(),
            processed: self.copy.clone(),
        }
    }
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        self.source.inner.released.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl SnapshotSource for InMemorySnapshots {
    async fn pin(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        if self.inner.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("no snapshot connection".into()));
        }
        self.inner.pinned.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(Copy {
            copy: Arc::new(self.inner.store.snapshot()),
            source: self.clone(),
        }))
    }
}
