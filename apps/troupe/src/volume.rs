//! The data directory as a [`DataVolume`]: `volumetest` appends a line to a file there, reads
//! it back and reports.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use troupe_domain::Timestamp;
use troupe_ports::{DataVolume, VolumeError, VolumeReport};

/// The file `volumetest` writes in the data directory.
pub const VOLUME_TEST_FILE: &str = "volume-test.log";

/// The data directory on the local filesystem.
#[derive(Debug, Clone)]
pub struct DirVolume {
    dir: PathBuf,
}

impl DirVolume {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl DataVolume for DirVolume {
    async fn probe(&self, now: Timestamp) -> Result<VolumeReport, VolumeError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || probe(&dir, now))
            .await
            .map_err(|e| VolumeError::Unexpected(e.to_string()))?
    }
}

fn probe(dir: &std::path::Path, now: Timestamp) -> Result<VolumeReport, VolumeError> {
    let path = dir.join(VOLUME_TEST_FILE);
    let earlier_entries =
        std::fs::read_to_string(&path).map_or(0, |text| text.lines().count() as u64);
    let writable = std::fs::create_dir_all(dir).is_ok()
        && std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                writeln!(f, "{now} volume test")?;
                f.sync_all()
            })
            .is_ok();
    let after = std::fs::read_to_string(&path).map_or(0, |text| text.lines().count() as u64);
    let free_bytes = rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize));
    Ok(VolumeReport {
        path: std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
            .to_string(),
        writable: writable && after > earlier_entries,
        earlier_entries,
        free_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_probe_counts_earlier_entries_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        let volume = DirVolume::new(dir.path().to_path_buf());
        let first = volume.probe(Timestamp::EPOCH).await.unwrap();
        assert!(first.writable);
        assert_eq!(first.earlier_entries, 0);
        let second = volume.probe(Timestamp::EPOCH).await.unwrap();
        assert_eq!(second.earlier_entries, 1);
        assert!(second.free_bytes.is_some());
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_reported_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let report = DirVolume::new(file.join("sub"))
            .probe(Timestamp::EPOCH)
            .await
            .unwrap();
        assert!(!report.writable);
    }
}
