//! An in-memory data volume.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use troupe_domain::Timestamp;
use troupe_ports::{DataVolume, VolumeError, VolumeReport};

/// A [`DataVolume`] that counts the entries its probes "write". It starts writable and empty;
/// an unwritable volume reports `writable: false` and writes nothing.
#[derive(Debug)]
pub struct FakeVolume {
    entries: AtomicU64,
    writable: AtomicBool,
}

impl FakeVolume {
    /// The path every report shows.
    pub const PATH: &'static str = "/fake/data";
    /// The free space every report shows: 1 GiB.
    pub const FREE_BYTES: u64 = 1 << 30;

    /// A writable, empty volume.
    pub fn new() -> Self {
        Self {
            entries: AtomicU64::new(0),
            writable: AtomicBool::new(true),
        }
    }

    /// Makes the volume writable or not.
    pub fn set_writable(&self, writable: bool) {
        self.writable.store(writable, Ordering::SeqCst);
    }

    /// Number of entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::SeqCst)
    }
}

impl Default for FakeVolume {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl DataVolume for FakeVolume {
    async fn probe(&self, _now: Timestamp) -> Result<VolumeReport, VolumeError> {
        let writable = self.writable.load(Ordering::SeqCst);
        let earlier_entries = if writable {
            self.entries.fetch_add(1, Ordering::SeqCst)
        } else {
            self.entries.load(Ordering::SeqCst)
        };
        Ok(VolumeReport {
            path: Self::PATH.to_owned(),
            writable,
            earlier_entries,
            free_bytes: Some(Self::FREE_BYTES),
        })
    }
}
