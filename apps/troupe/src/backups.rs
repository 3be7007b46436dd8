//! Scheduled backups (operations.md §5): hourly for the first 24 hours after a rollout flag
//! change, daily otherwise, a backup right after a change, retention of the newest N. Each
//! backup is the store's verified online backup; the last success feeds `/health`.
//!
//! Out of its process's way: the backup runs in a child process of the same binary (`troupe
//! backup --scheduled`, ADR 0049), so the memory SQLite's snapshot, its integrity check and the
//! hashing touch goes back to the system when it ends instead of staying with the bot.
//!
//! Out of the way: one process per store schedules (the one holding the `backup-scheduler`
//! lease in the store); no scheduled backup starts during the quiet period after a rollback
//! (a flag turned off) — an operator who wants one runs `troupe backup`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use troupe_application::flags::Flags;
use troupe_domain::Timestamp;
use troupe_http::Activity;
use troupe_ports::{Clock as _, SystemClock};
use troupe_store::{BackupManifest, Store, prune_backups};

/// The schedule and retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPolicy {
    /// Interval while a rollout change is recent.
    pub hourly: Duration,
    /// How long after a rollout change the hourly interval applies.
    pub hourly_for: Duration,
    /// Interval otherwise.
    pub daily: Duration,
    /// Backups kept (the newest).
    pub keep: usize,
    /// No scheduled backup starts this long after a rollback (a flag turned off).
    pub quiet_after_rollback: Duration,
    /// How long the scheduler lease lasts without renewal (a stopped process's lease lapses).
    pub lease: Duration,
}

/// The lease of the one process that schedules backups for a store.
pub const SCHEDULER_LEASE: &str = "backup-scheduler";

impl Default for BackupPolicy {
    fn default() -> Self {
        Self {
            hourly: Duration::from_secs(3600),
            hourly_for: Duration::from_secs(24 * 3600),
            daily: Duration::from_secs(24 * 3600),
            keep: 30,
            quiet_after_rollback: Duration::from_secs(15 * 60),
            lease: Duration::from_secs(30 * 60),
        }
    }
}

impl BackupPolicy {
    /// The interval in force at `now`.
    pub fn interval(&self, last_change: Option<Timestamp>, now: Timestamp) -> Duration {
        if last_change.is_some_and(|c| now.since(c) < self.hourly_for) {
            self.hourly
        } else {
            self.daily
        }
    }

    /// Whether a backup is due: none yet, a rollout change since the last one, or the interval
    /// in force has passed.
    pub fn due(
        &self,
        last_backup: Option<Timestamp>,
        last_change: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        match last_backup {
            None => true,
            Some(backup) => {
                last_change.is_some_and(|c| c > backup)
                    || now.since(backup) >= self.interval(last_change, now)
            }
        }
    }
}

/// The newest verified backup in `dir` (by its manifest), if any.
pub fn last_backup(dir: &Path) -> Option<Timestamp> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".manifest.json") && !n.starts_with('.'))
        })
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| serde_json::from_str::<BackupManifest>(&text).ok())
        .map(|m| Timestamp::from_millis(m.created_at_ms))
        .max()
}

/// Where a scheduled backup runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BackupWorker {
    /// In this process, on a background thread (tests and benches, which have no `troupe`
    /// binary of their own).
    #[default]
    InProcess,
    /// In a child process: `exe [--config file] backup --scheduled --dir … --keep …`, with this
    /// process's environment but not its Discord token.
    Child {
        exe: PathBuf,
        config: Option<PathBuf>,
    },
}

/// What `troupe backup --scheduled` prints on its standard output: one JSON object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduledReport {
    /// The backup's file name in the directory.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Older backups removed by retention.
    pub pruned: usize,
}

/// Runs the policy against a store.
pub struct BackupScheduler {
    store: Store,
    flags: Arc<Flags>,
    dir: PathBuf,
    policy: BackupPolicy,
    activity: Arc<Activity>,
    /// This process's name in the scheduler lease.
    holder: String,
    worker: BackupWorker,
}

impl std::fmt::Debug for BackupScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupScheduler")
            .field("dir", &self.dir)
            .field("policy", &self.policy)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// What one scheduler tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    NotDue,
    /// Another process of the store schedules backups (it holds the lease).
    NotScheduler,
    /// A rollback happened within the quiet period: the backup waits.
    Quiet,
    /// A backup was taken (its file name) and older ones pruned (how many).
    Taken {
        file: String,
        pruned: usize,
    },
    Failed(String),
}

impl BackupScheduler {
    pub fn new(
        store: Store,
        flags: Arc<Flags>,
        dir: PathBuf,
        policy: BackupPolicy,
        activity: Arc<Activity>,
    ) -> Self {
        if let Some(last) = last_backup(&dir) {
            activity.success(last);
        }
        use std::hash::BuildHasher as _;
        let nonce = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        let holder = format!(
            "{}:{}:{nonce:016x}",
            std::env::var("HOSTNAME").unwrap_or_default(),
            std::process::id(),
        );
        Self {
            store,
            flags,
            dir,
            policy,
            activity,
            holder,
            worker: BackupWorker::InProcess,
        }
    }

    /// Takes the backups where `worker` says.
    #[must_use]
    pub fn with_worker(mut self, worker: BackupWorker) -> Self {
        self.worker = worker;
        self
    }

    /// The newest flag change (the rollout step) from the audit log: when, and whether it
    /// turned a flag off (a rollback).
    async fn last_change(&self) -> Option<(Timestamp, bool)> {
        match self.flags.audit(1).await {
            Ok(entries) => entries.first().map(|e| {
                let rollback = e.new == Some(false) || (e.new.is_none() && e.old == Some(true));
                (e.at, rollback)
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the flag audit log for the backup schedule");
                None
            }
        }
    }

    /// Takes a backup when one is due at `now`.
    pub async fn tick(&self, now: Timestamp) -> Tick {
        let last = self
            .activity
            .last_success()
            .or_else(|| last_backup(&self.dir));
        let (change, rollback) = match self.last_change().await {
            Some((at, rollback)) => (Some(at), rollback),
            None => (None, false),
        };
        if !self.policy.due(last, change, now) {
            return Tick::NotDue;
        }
        if rollback && change.is_some_and(|c| now.since(c) < self.policy.quiet_after_rollback) {
            return Tick::Quiet;
        }
        match self
            .store
            .acquire_lease(SCHEDULER_LEASE, &self.holder, self.policy.lease, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // The scheduling process's backups (same directory) still feed this /health.
                if let Some(newest) = last_backup(&self.dir) {
                    self.activity.success(newest);
                }
                return Tick::NotScheduler;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the backup scheduler lease");
                return Tick::NotScheduler;
            }
        }
        match self.take().await {
            Ok(report) => {
                self.activity.success(now);
                tracing::info!(
                    file = %report.file,
                    size = report.size,
                    pruned = report.pruned,
                    interval_secs = self.policy.interval(change, now).as_secs(),
                    "scheduled backup taken"
                );
                Tick::Taken {
                    file: report.file,
                    pruned: report.pruned,
                }
            }
            Err(e) => {
                self.activity.failure(now);
                tracing::error!(error = %e, "scheduled backup failed");
                Tick::Failed(e)
            }
        }
    }

    /// Takes one verified backup and applies retention, where the worker says.
    async fn take(&self) -> Result<ScheduledReport, String> {
        match &self.worker {
            BackupWorker::InProcess => {
                let manifest = self
                    .store
                    .backup_in_background(&self.dir)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ScheduledReport {
                    file: manifest.file,
                    size: manifest.size,
                    pruned: retain(&self.dir, self.policy.keep),
                })
            }
            BackupWorker::Child { exe, config } => {
                take_in_child(exe, config.as_deref(), &self.dir, self.policy.keep).await
            }
        }
    }

    /// Checks every `every` whether a backup is due.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.tick(SystemClock.now()).await;
            }
        })
    }
}

/// Retention after a backup taken in this process: how many older backups were removed.
pub(crate) fn retain(dir: &Path, keep: usize) -> usize {
    prune_backups(dir, keep).map_or_else(
        |e| {
            tracing::warn!(error = %e, "backup retention failed");
            0
        },
        |removed| removed.len(),
    )
}

/// Runs `troupe backup --scheduled` and reads its report. The child's log lines go to this
/// process's standard error; it is killed if the scheduler stops (the `.partial` file it leaves
/// is removed by the next backup).
async fn take_in_child(
    exe: &Path,
    config: Option<&Path>,
    dir: &Path,
    keep: usize,
) -> Result<ScheduledReport, String> {
    let mut command = tokio::process::Command::new(exe);
    if let Some(file) = config {
        command.arg("--config").arg(file);
    }
    command
        .arg("backup")
        .arg("--scheduled")
        .arg("--dir")
        .arg(dir)
        .arg("--keep")
        .arg(keep.to_string())
        .env_remove("DISCORD_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot start the backup process {}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the backup process failed ({}); its error is logged above",
            output.status
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("the backup process ended well but its report is not readable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    fn t(hours: f64) -> Timestamp {
        Timestamp::from_millis(1_750_000_000_000 + (hours * 3_600_000.0) as i64)
    }

    #[test]
    fn backups_are_hourly_for_a_day_after_a_rollout_change_then_daily() {
        let p = BackupPolicy::default();
        let cases = [
            // (last backup, last change, now, due)
            (None, None, t(0.0), true),
            (Some(t(0.0)), None, t(23.9), false),
            (Some(t(0.0)), None, t(24.0), true),
            (Some(t(0.0)), Some(t(-1.0)), t(0.9), false),
            (Some(t(0.0)), Some(t(-1.0)), t(1.0), true),
            (Some(t(20.0)), Some(t(-1.0)), t(21.0), true), // 22 h after the change: hourly
            (Some(t(24.0)), Some(t(-1.0)), t(25.0), false), // 26 h after: daily again
            (Some(t(24.0)), Some(t(-1.0)), t(48.0), true),
            (Some(t(0.0)), Some(t(0.5)), t(0.6), true), // a change after the last backup
        ];
        for (i, (last, change, now, due)) in cases.into_iter().enumerate() {
            assert_eq!(p.due(last, change, now), due, "case {i}");
        }
        assert_eq!(p.interval(Some(t(0.0)), t(23.0)), Duration::from_secs(H));
        assert_eq!(
            p.interval(Some(t(0.0)), t(24.0)),
            Duration::from_secs(24 * H)
        );
        assert_eq!(p.interval(None, t(0.0)), Duration::from_secs(24 * H));
    }
}
