use async_trait::async_trait;
use troupe_domain::Timestamp;

/// What the data volume check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeReport {
    pub path: String,
    pub writable: bool,
    /// Entries in the test file before this one.
    pub earlier_entries: u64,
    pub free_bytes: Option<u64>,
}

/// Errors of the data volume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("unexpected data volume error: {0}")]
    Unexpected(String),
}

/// The data directory, for the `volumetest` command.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DataVolume: Send + Sync {
    /// Appends a timestamped line to the volume test file, reads it back and reports.
    /// An unwritable directory is reported with `writable: false`, not as an error.
    async fn probe(&self, now: Timestamp) -> Result<VolumeReport, VolumeError>;
}
