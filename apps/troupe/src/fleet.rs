//! The fleet (issue 16, ADR 0040): this process's entry in the registry (a heartbeat, and the
//! flag version it applied, reported as soon as it changes), the fleet view that `troupe
//! fleet` and `GET /health/fleet` show, and the confirmation that every live process applied a
//! flag change. No rule lives here: the registry is the store's, the assessment the port's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use troupe_application::flags::Flags;
use troupe_domain::Timestamp;
use troupe_http::{FleetConfirmation, FleetSource};
use troupe_ports::{
    Clock, FlagStore, FleetRegistry, FleetStatus, GatewayMonitor, LiveProcess, PROCESS_EXPIRY,
    ProcessRecord, ShardSpan,
};
use troupe_store::Store;

/// How often a process refreshes its registry entry.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// The host name: `HOSTNAME`, else the kernel's, else `unknown`.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A process id unique per start: host, operating-system pid and start time.
pub fn process_id(host: &str, started: Timestamp) -> String {
    format!("{host}/{}/{}", std::process::id(), started.as_millis())
}

/// What this process says about itself, apart from what changes while it runs.
#[derive(Debug, Clone)]
pub struct Member {
    pub role: String,
    pub shards: Option<ShardSpan>,
}

/// This process's entry in the fleet registry, kept fresh by a task until [`Self::leave`].
pub struct Membership {
    id: String,
    registry: Arc<dyn FleetRegistry>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

struct Beat {
    registry: Arc<dyn FleetRegistry>,
    flags: Arc<Flags>,
    gateway: Option<Arc<dyn GatewayMonitor>>,
    record: ProcessRecord,
}

impl Beat {
    fn current(&mut self) -> &ProcessRecord {
        self.record.gateway = self.gateway.as_ref().map_or_else(
            || "n/a".to_owned(),
            |g| g.snapshot().state.as_str().to_owned(),
        );
        self.record.flag_version = self.flags.version().unwrap_or(0);
        &self.record
    }
}

impl Membership {
    /// Registers this process and keeps its entry fresh: a heartbeat every `every`, and the
    /// applied flag version written as soon as the flag watcher applies a change. A store
    /// outage is logged once; the entry expires meanwhile and comes back with the store.
    pub fn spawn(
        registry: Arc<dyn FleetRegistry>,
        flags: Arc<Flags>,
        gateway: Option<Arc<dyn GatewayMonitor>>,
        member: Member,
        started_at: Timestamp,
        every: Duration,
    ) -> Self {
        let host = host_name();
        let id = process_id(&host, started_at);
        let record = ProcessRecord {
            id: id.clone(),
            host,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            role: member.role,
            shards: member.shards,
            gateway: String::new(),
            flag_version: 0,
            started_at,
        };
        let beat = Beat {
            registry: Arc::clone(&registry),
            flags,
            gateway,
            record,
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(keep_fresh(beat, every, stopping));
        tracing::info!(process = id.as_str(), "registered in the fleet registry");
        Self {
            id,
            registry,
            stop,
            task,
        }
    }

    /// This process's registry id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops the heartbeat and removes this process from the registry.
    pub async fn leave(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Err(e) = self.registry.leave(&self.id).await {
            tracing::warn!(error = %e, "cannot leave the fleet registry; the entry expires");
        }
    }
}

async fn keep_fresh(
    mut beat: Beat,
    every: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut heartbeat = tokio::time::interval(every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Woken when the flag watcher applies a new version (was a 10 ms poll: a hundred wake-ups
    // a second of an idle bot).
    let (applied, mut applied_versions) = tokio::sync::watch::channel(beat.flags.version());
    beat.flags.on_applied(move |version| {
        applied.send_replace(Some(version));
    });
    let mut reported: Option<u64> = None;
    let mut down = false;
    loop {
        let result = tokio::select! {
            _ = stopping.changed() => return,
            _ = heartbeat.tick() => {
                let record = beat.current().clone();
                let result = beat.registry.heartbeat(&record).await;
                if result.is_ok() {
                    reported = Some(record.flag_version);
                }
                result.map(|()| true)
            }
            Ok(()) = applied_versions.changed() => {
                let applied = *applied_versions.borrow_and_update();
                match applied {
                    Some(v) if reported.is_some_and(|r| r < v) => {
                        let result = beat.registry.report_flag_version(&beat.record.id, v).await;
                        if let Ok(true) = result {
                            reported = Some(v);
                            tracing::debug!(version = v, "applied flag version reported");
                        }
                        result
                    }
                    _ => Ok(true),
                }
            }
        };
        match result {
            // Not registered (expired during an outage): register again at once.
            Ok(false) => heartbeat.reset_immediately(),
            Ok(true) => {
                if std::mem::take(&mut down) {
                    tracing::info!("the fleet registry answers again");
                }
            }
            Err(e) => {
                if !down {
                    down = true;
                    tracing::warn!(error = %e, "cannot refresh this process's fleet entry (logged once per outage)");
                }
            }
        }
    }
}

/// The fleet view over `store` (live processes, lag behind the newest flag change, shard
/// division).
pub async fn status(
    store: &Store,
    clock: &dyn Clock,
) -> Result<FleetStatus, troupe_ports::StoreError> {
    let processes = store.live(PROCESS_EXPIRY).await?;
    let version = store.version().await?;
    let changed_ago = store
        .audit(1)
        .await?
        .first()
        .map(|entry| clock.now().since(entry.at));
    Ok(FleetStatus::assess(processes, version, changed_ago))
}

/// Waits until every live process has applied flag `version` or `timeout` passed; the
/// processes that had not are named in the answer.
pub async fn confirm(
    registry: &dyn FleetRegistry,
    version: u64,
    timeout: Duration,
) -> Result<FleetConfirmation, troupe_ports::StoreError> {
    const POLL: Duration = Duration::from_millis(5);
    let started = Instant::now();
    loop {
        let processes: Vec<LiveProcess> = registry.live(PROCESS_EXPIRY).await?;
        let pending: Vec<String> = processes
            .iter()
            .filter(|p| p.record.flag_version < version)
            .map(|p| p.record.id.clone())
            .collect();
        let waited = started.elapsed();
        if pending.is_empty() || waited >= timeout {
            return Ok(FleetConfirmation {
                version,
                confirmed: pending.is_empty(),
                waited,
                processes: processes.len(),
                pending,
            });
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(waited))).await;
    }
}

/// The fleet source of the HTTP adapter: the view and confirmations over the store.
pub struct StoreFleet {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StoreFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFleet")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl FleetSource for StoreFleet {
    async fn status(&self) -> Result<FleetStatus, String> {
        status(&self.store, self.clock.as_ref())
            .await
            .map_err(|e| e.to_string())
    }

    async fn confirm(&self, timeout: Duration) -> Result<FleetConfirmation, String> {
        let version = self.store.version().await.map_err(|e| e.to_string())?;
        confirm(&self.store, version, timeout)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The lines `troupe fleet` prints.
pub fn render_text(status: &FleetStatus) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<40} {:<8} {:<7} {:<12} {:<12} {:>6} {:>9}",
        "PROCESS", "VERSION", "ROLE", "SHARDS", "GATEWAY", "FLAGS", "SEEN"
    );
    for p in &status.processes {
        let r = &p.record;
        let shards = r.shards.as_ref().map_or_else(
            || "-".to_owned(),
            |s| format!("{}..{}/{}", s.range.start, s.range.end, s.total),
        );
        let mark = if status.lagging.contains(&r.id) {
            " LAGGING"
        } else if status.behind.contains(&r.id) {
            " behind"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<40} {:<8} {:<7} {:<12} {:<12} {:>6} {:>7}ms{mark}",
            r.id,
            r.version,
            r.role,
            shards,
            r.gateway,
            r.flag_version,
            p.last_seen_ago.as_millis()
        );
    }
    let _ = writeln!(
        out,
        "{} live process(es); flag version {}{}",
        status.processes.len(),
        status.flag_version,
        if status.lagging.is_empty() {
            String::new()
        } else {
            format!("; not applied within 1 s by: {}", status.lagging.join(", "))
        }
    );
    for problem in &status.shard_problems {
        let _ = writeln!(out, "shards: {problem}");
    }
    out
}

/// The lines a confirmed flag change prints.
pub fn render_confirmation(c: &FleetConfirmation) -> String {
    if c.confirmed {
        format!(
            "confirmed: {} live process(es) applied flag version {} ({} ms)",
            c.processes,
            c.version,
            c.waited.as_millis()
        )
    } else {
        format!(
            "NOT confirmed after {} ms: {} of {} live process(es) have not applied flag version {}: {}",
            c.waited.as_millis(),
            c.pending.len(),
            c.processes,
            c.version,
            c.pending.join(", ")
        )
    }
}
