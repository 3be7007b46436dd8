//! Operations on a whole store: verified backups, restore, retention, the integrity check and
//! the import of the original bot's JSON files.

mod backup;
mod check;
mod lease;
mod legacy;
mod pace;
mod tables;

use std::path::PathBuf;

pub use backup::{
    BackupFormat, BackupManifest, RestoreReport, VerifiedBackup, prune_backups,
    remove_stale_partials,
};
pub use check::{CheckReport, Violation};
pub use legacy::{FileReport, ImportReport, import_legacy, import_legacy_with};
pub use pace::{Pace, REST_PER_SLICE, SLICE};
use troupe_ports::StoreError;

/// Errors of backup, restore, retention, check and import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintenanceError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or directory could not be read or written.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// A backup given to restore is not one, or not intact. The live store was not touched.
    #[error("refusing to restore {path}: {reason}")]
    Refused { path: PathBuf, reason: String },
    /// A backup could not be taken or did not verify; no backup was published.
    #[error("backup failed, no backup was published: {0}")]
    BackupFailed(String),
    /// The restore transaction failed and was rolled back: the store is unchanged.
    #[error(
        "restoring {path} failed and the store is unchanged (the restore transaction was rolled back): {reason}"
    )]
    RestoreFailed { path: PathBuf, reason: String },
    /// A legacy data file is malformed. Nothing was imported.
    #[error("{file}: entry {entry}: {reason}")]
    Malformed {
        file: String,
        entry: String,
        reason: String,
    },
    /// The request itself is not possible (e.g. a SQLite snapshot of a PostgreSQL store).
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn io_error(path: impl Into<PathBuf>, e: &std::io::Error) -> MaintenanceError {
    MaintenanceError::Io {
        path: path.into(),
        message: e.to_string(),
    }
}
