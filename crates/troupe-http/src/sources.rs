//! What the endpoints read and call, wired by the app: small traits and structs, so this crate
//! knows neither the store nor the Discord adapter.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use troupe_application::alerts::AlertMonitor;
use troupe_application::router::Router;
use troupe_application::shadow::ShadowRunner;
use troupe_domain::Timestamp;
use troupe_ports::{Clock, FleetStatus, GatewayMonitor};

/// A cheap round trip to the database.
#[async_trait]
pub trait DatabasePing: Send + Sync {
    /// Returns how long the round trip took; an error message (never a URL or password) when
    /// the database cannot be reached.
    async fn ping(&self) -> Result<Duration, String>;
}

/// What a backup made, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupSummary {
    /// The backup file's path.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// ISO 8601 UTC.
    pub created_at: String,
    /// Rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// Takes a verified backup now (`POST /admin/backup`).
#[async_trait]
pub trait BackupTrigger: Send + Sync {
    async fn backup_now(&self) -> Result<BackupSummary, String>;
}

/// What one command run through the admin API did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CommandReport {
    pub command: Option<String>,
    pub category: Option<String>,
    /// `ddd` or `legacy`: which system's answer was delivered.
    pub system: Option<String>,
    /// `ddd`, `legacy` or `shadow`.
    pub route: Option<String>,
    pub fell_back: bool,
    /// The outcome class, e.g. `success`, `internal_error`.
    pub class: String,
    pub title: Option<String>,
    pub text: String,
    pub elapsed_ms: f64,
}

/// Runs one command as the operator (`POST /admin/commands`, used by `troupe smoke`).
#[async_trait]
pub trait CommandRunner: Send + Sync {
    /// `text` is a whole command line with the prefix, e.g. `!tz ping`; `Err` when it is not a
    /// command.
    async fn run(&self, text: &str) -> Result<CommandReport, String>;
}

/// Whether every live process applied a flag change (see [`FleetSource::confirm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfirmation {
    /// The flag version waited for.
    pub version: u64,
    /// Every live process applied it.
    pub confirmed: bool,
    pub waited: Duration,
    /// Live processes.
    pub processes: usize,
    /// Ids of the live processes that had not applied it when the wait ended.
    pub pending: Vec<String>,
}

/// The processes sharing this store (`GET /health/fleet`), and the confirmation of flag
/// changes fleet-wide (`?confirm=` on the admin flag routes and the rollback).
#[async_trait]
pub trait FleetSource: Send + Sync {
    /// The fleet view; an error message (never a URL or password) when the store fails.
    async fn status(&self) -> Result<FleetStatus, String>;
    /// Waits up to `timeout` until every live process applied the newest flag version.
    async fn confirm(&self, timeout: Duration) -> Result<FleetConfirmation, String>;
}

const NEVER: i64 = i64::MIN;

/// The last success and failure of an activity (AI requests, backups), shared lock-free.
#[derive(Debug)]
pub struct Activity {
    last_success: AtomicI64,
    last_failure: AtomicI64,
    stale_after: Option<Duration>,
}

impl Default for Activity {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Activity {
    /// `stale_after`: a success older than this (or none since `stale_after` after start) makes
    /// `/health` degraded.
    pub fn new(stale_after: Option<Duration>) -> Self {
        Self {
            last_success: AtomicI64::new(NEVER),
            last_failure: AtomicI64::new(NEVER),
            stale_after,
        }
    }

    pub fn success(&self, at: Timestamp) {
        self.last_success
            .fetch_max(at.as_millis(), Ordering::Relaxed);
    }

    pub fn failure(&self, at: Timestamp) {
        self.last_failure
            .fetch_max(at.as_millis(), Ordering::Relaxed);
    }

    pub fn last_success(&self) -> Option<Timestamp> {
        let ms = self.last_success.load(Ordering::Relaxed);
        (ms != NEVER).then(|| Timestamp::from_millis(ms))
    }

    pub fn last_failure(&self) -> Option<Timestamp> {
        let ms = self.last_failure.load(Ordering::Relaxed);
        (ms != NEVER).then(|| Timestamp::from_millis(ms))
    }

    pub fn stale_after(&self) -> Option<Duration> {
        self.stale_after
    }
}

/// Everything `/health*` and `/metrics` read.
pub struct HealthSources {
    /// This build's version, e.g. `0.1.0`.
    pub version: String,
    pub started_at: Timestamp,
    pub clock: Arc<dyn Clock>,
    /// The router (its flags, and which system has a handler for each command).
    pub router: Arc<Router>,
    pub shadow: Option<Arc<ShadowRunner>>,
    pub gateway: Arc<dyn GatewayMonitor>,
    pub database: Arc<dyn DatabasePing>,
    /// `None` when no AI provider is configured.
    pub ai: Option<Arc<Activity>>,
    /// `None` when backups are not scheduled in this process.
    pub backups: Option<Arc<Activity>>,
    pub alerts: Option<Arc<AlertMonitor>>,
    /// The fleet registry of the store; `None` in a process that keeps none (the console).
    pub fleet: Option<Arc<dyn FleetSource>>,
}

impl std::fmt::Debug for HealthSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthSources")
            .field("version", &self.version)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// The admin API's configuration and hooks.
#[derive(Default)]
pub struct AdminConfig {
    /// The bearer token; `None` disables every admin route.
    pub token: Option<String>,
    pub backup: Option<Arc<dyn BackupTrigger>>,
    pub commands: Option<Arc<dyn CommandRunner>>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("enabled", &self.token.is_some())
            .field("backup", &self.backup.is_some())
            .field("commands", &self.commands.is_some())
            .finish()
    }
}

/// Caches database pings for a short while, so a burst of `/health` requests costs one query.
pub(crate) struct PingCache {
    max_age: Duration,
    last: std::sync::Mutex<Option<(Instant, Result<Duration, String>)>>,
}

impl PingCache {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            last: std::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn ping(&self, db: &dyn DatabasePing) -> Result<Duration, String> {
        if let Ok(guard) = self.last.lock()
            && let Some((at, result)) = guard.as_ref()
            && at.elapsed() < self.max_age
        {
            return result.clone();
        }
        let result = db.ping().await;
        crate::metrics::record_database_ping(&result);
        if let Ok(mut guard) = self.last.lock() {
            *guard = Some((Instant::now(), result.clone()));
        }
        result
    }
}
