//! Prometheus metrics through the `metrics` facade: the recorder (explicit histogram buckets),
//! the command and shadow observers, and the gauges refreshed at each scrape. Labels are
//! bounded: command, category, system, outcome, result, flag, state, rule, severity, version, lane —
//! never a user, guild or channel id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use troupe_application::alerts::AlertMonitor;
use troupe_application::dispatch::{CommandObserver, CommandRecord};
use troupe_application::flags::{FlagName, FlagSnapshot};
use troupe_application::model::OutcomeClass;
use troupe_application::shadow::ShadowResult;
use troupe_application::{Category, CommandName, SystemKind};
use troupe_ports::{GatewayHealth, GatewayState};

use crate::sources::HealthSources;

/// Command duration buckets, seconds.
pub const COMMAND_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// AI request buckets, seconds.
pub const AI_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0];
/// Database round-trip buckets, seconds.
pub const DATABASE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The metric families Troupe exports (the documented contract of `/metrics`).
pub const FAMILIES: &[&str] = &[
    "troupe_command_duration_seconds",
    "troupe_commands_total",
    "troupe_command_fallbacks_total",
    "troupe_shadow_comparisons_total",
    "troupe_flag_changes_total",
    "troupe_gateway_up",
    "troupe_gateway_state",
    "troupe_gateway_latency_seconds",
    "troupe_gateway_heartbeat_ack_age_seconds",
    "troupe_gateway_shards_connected",
    "troupe_gateway_guilds",
    "troupe_gateway_reconnects_total",
    "troupe_gateway_events_queued",
    "troupe_gateway_events_running",
    "troupe_gateway_events_shed_total",
    "troupe_ai_request_duration_seconds",
    "troupe_ai_requests_total",
    "troupe_database_ping_duration_seconds",
    "troupe_database_up",
    "troupe_alerts_active",
    "troupe_backup_last_success_timestamp_seconds",
    "troupe_memory_baseline_bytes",
    "troupe_uptime_seconds",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_threads",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "troupe_build_info",
];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process-wide Prometheus recorder.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    flags_seen: Arc<Mutex<Option<Arc<FlagSnapshot>>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Installs the recorder as the global `metrics` recorder the first time (later calls, also
    /// from tests, share it). Fails only when another recorder was installed first.
    pub fn install() -> Result<Self, String> {
        let handle = HANDLE
            .get_or_init(|| {
                let builder = PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        Matcher::Full("troupe_command_duration_seconds".into()),
                        COMMAND_BUCKETS,
                    )
                    .and_then(|b| {
                        b.set_buckets_for_metric(
                            Matcher::Full("troupe_ai_request_duration_seconds".into()),
                            AI_BUCKETS,
                        )
                    })
                    .and_then(|b| {
                        b.set_buckets_for_metric(
                            Matcher::Full("troupe_database_ping_duration_seconds".into()),
                            DATABASE_BUCKETS,
                        )
                    })
                    .map_err(|e| e.to_string())?;
                builder.install_recorder().map_err(|e| e.to_string())
            })
            .clone()?;
        describe();
        Ok(Self {
            handle,
            flags_seen: Arc::new(Mutex::new(None)),
        })
    }

    /// Drains the histogram buffers; call every few seconds.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Counts the flags whose value changed since the last snapshot seen (any cause: the admin
    /// API, the CLI, another process, the auto-rollback). The first call only remembers.
    pub fn observe_flags(&self, snapshot: &Arc<FlagSnapshot>) {
        let Ok(mut seen) = self.flags_seen.lock() else {
            return;
        };
        if let Some(previous) = seen.as_ref() {
            if Arc::ptr_eq(previous, snapshot) {
                return;
            }
            for flag in FlagName::all() {
                if previous.get(flag) != snapshot.get(flag) {
                    counter!("troupe_flag_changes_total", "flag" => flag.key()).increment(1);
                }
            }
        }
        *seen = Some(Arc::clone(snapshot));
    }

    /// Refreshes the gauges read at scrape time, then renders the Prometheus text.
    pub fn render(&self, sources: &HealthSources) -> String {
        refresh_gauges(sources);
        self.observe_flags(&sources.router.flags().snapshot());
        self.handle.render()
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        describe_histogram!(
            "troupe_command_duration_seconds",
            Unit::Seconds,
            "Time from admission to the routed outcome, by command, category and serving system."
        );
        describe_counter!(
            "troupe_commands_total",
            "Commands run, by command, category, system and outcome class (a fallback counts \
             an internal_error of ddd and the legacy outcome)."
        );
        describe_counter!(
            "troupe_command_fallbacks_total",
            "Commands the new system failed internally and legacy served."
        );
        describe_counter!(
            "troupe_shadow_comparisons_total",
            "Shadow runs by category and result (match, mismatch, error, timeout, skipped)."
        );
        describe_counter!(
            "troupe_flag_changes_total",
            "Feature flag value changes seen by this process."
        );
        describe_gauge!(
            "troupe_gateway_up",
            "1 when every shard is connected with heartbeat acks on time; 0 while starting, reconnecting or stopped."
        );
        describe_counter!(
            "troupe_gateway_reconnects_total",
            "Gateway connections lost (every shard) since start."
        );
        describe_gauge!(
            "troupe_gateway_events_queued",
            "Gateway events waiting in their lane (commands, messages)."
        );
        describe_gauge!(
            "troupe_gateway_events_running",
            "Gateway events being handled, by lane."
        );
        describe_counter!(
            "troupe_gateway_events_shed_total",
            "Gateway events shed because their queue was full, by lane (a command's author is told it was busy)."
        );
        describe_gauge!("troupe_gateway_state", "1 for the gateway's current state.");
        describe_gauge!(
            "troupe_gateway_latency_seconds",
            Unit::Seconds,
            "Last heartbeat round trip."
        );
        describe_gauge!(
            "troupe_gateway_heartbeat_ack_age_seconds",
            Unit::Seconds,
            "Time since the last heartbeat acknowledgement."
        );
        describe_histogram!(
            "troupe_ai_request_duration_seconds",
            Unit::Seconds,
            "AI provider requests by outcome."
        );
        describe_histogram!(
            "troupe_database_ping_duration_seconds",
            Unit::Seconds,
            "Database round trips of the health checks."
        );
        describe_gauge!(
            "troupe_alerts_active",
            "1 for each active alert by rule and severity."
        );
        // process_* (CPU seconds, resident and virtual memory, threads, open files, start
        // time): the Prometheus process family, by metrics-process.
        process_collector().describe();
        describe_gauge!("troupe_build_info", "Always 1, labelled with the version.");
    });
}

/// Records one finished command (the [`CommandObserver`] of the dispatcher).
pub fn record_command(record: &CommandRecord) {
    let command = record.command.as_str();
    let category = record.category.as_str();
    if record.fell_back {
        counter!("troupe_command_fallbacks_total", "command" => command, "category" => category)
            .increment(1);
        counter!(
            "troupe_commands_total",
            "command" => command,
            "category" => category,
            "system" => SystemKind::New.as_str(),
            "outcome" => "internal_error"
        )
        .increment(1);
    }
    let (commands, duration) = command_series(record);
    commands.increment(1);
    duration.record(record.elapsed.as_secs_f64());
}

/// The series a finished command counts in (`troupe_commands_total` by its outcome) and the one
/// its duration goes to. Once Troupe's recorder is installed (for the rest of the process), a
/// series' handles are kept: registering one by name and labels hashes and looks them up in
/// the recorder, about 5,000 instructions a command (docs/PERFORMANCE.md, eleventh pass), and
/// a kept handle points at the same series.
fn command_series(record: &CommandRecord) -> (Counter, Histogram) {
    type Key = (CommandName, Category, SystemKind, OutcomeClass);
    type Series = HashMap<Key, (Counter, Histogram)>;
    static KEPT: LazyLock<Mutex<Series>> = LazyLock::new(Mutex::default);
    let register = || {
        let command = record.command.as_str();
        let category = record.category.as_str();
        let system = record.system.as_str();
        (
            counter!(
                "troupe_commands_total",
                "command" => command,
                "category" => category,
                "system" => system,
                "outcome" => record.class.as_str()
            ),
            histogram!(
                "troupe_command_duration_seconds",
                "command" => command,
                "category" => category,
                "system" => system
            ),
        )
    };
    let installed = matches!(HANDLE.get(), Some(Ok(_)));
    let Some(mut kept) = installed.then(|| KEPT.lock().ok()).flatten() else {
        return register();
    };
    kept.entry((record.command, record.category, record.system, record.class))
        .or_insert_with(register)
        .clone()
}

/// Records one shadow result (the observer of `ShadowRunner::with_observer`).
pub fn record_shadow(category: Category, result: ShadowResult) {
    counter!(
        "troupe_shadow_comparisons_total",
        "category" => category.as_str(),
        "result" => result.as_str()
    )
    .increment(1);
}

/// Records one AI provider request.
pub fn record_ai(elapsed: Duration, ok: bool) {
    let outcome = if ok { "success" } else { "error" };
    histogram!("troupe_ai_request_duration_seconds", "outcome" => outcome)
        .record(elapsed.as_secs_f64());
    counter!("troupe_ai_requests_total", "outcome" => outcome).increment(1);
}

pub(crate) fn record_database_ping(result: &Result<Duration, String>) {
    match result {
        Ok(elapsed) => {
            histogram!("troupe_database_ping_duration_seconds").record(elapsed.as_secs_f64());
            gauge!("troupe_database_up").set(1.0);
        }
        Err(_) => gauge!("troupe_database_up").set(0.0),
    }
}

/// A command observer that records metrics and, when given, feeds the alert monitor.
pub fn command_observer(
    alerts: Option<Arc<AlertMonitor>>,
    clock: Arc<dyn troupe_ports::Clock>,
) -> CommandObserver {
    Arc::new(move |record: &CommandRecord| {
        record_command(record);
        if let Some(alerts) = &alerts {
            alerts.record(record, clock.now());
        }
    })
}

/// The resident memory of this process in bytes (`VmRSS` of /proc/self/status), when readable.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The collector of the standard `process_*` metrics (from /proc on Linux).
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

fn refresh_gauges(sources: &HealthSources) {
    let now = sources.clock.now();
    let gw = sources.gateway.snapshot();
    // Up only when connected and heartbeating: a reconnect in progress is not up.
    let up = gw.health(now) == GatewayHealth::Ok;
    gauge!("troupe_gateway_up").set(if up { 1.0 } else { 0.0 });
    for state in GatewayState::ALL {
        gauge!("troupe_gateway_state", "state" => state.as_str()).set(if state == gw.state {
            1.0
        } else {
            0.0
        });
    }
    if let Some(latency) = gw.latency {
        gauge!("troupe_gateway_latency_seconds").set(latency.as_secs_f64());
    }
    if let Some(ack) = gw.last_heartbeat_ack {
        gauge!("troupe_gateway_heartbeat_ack_age_seconds").set(now.since(ack).as_secs_f64());
    }
    gauge!("troupe_gateway_shards_connected").set(f64::from(gw.shards_connected));
    gauge!("troupe_gateway_guilds").set(gw.guilds as f64);
    counter!("troupe_gateway_reconnects_total").absolute(gw.reconnects);
    let load = gw.load;
    for (lane, queued, running, shed) in [
        (
            "commands",
            load.commands_queued,
            load.commands_running,
            load.commands_shed,
        ),
        (
            "messages",
            load.messages_queued,
            load.messages_running,
            load.messages_shed,
        ),
    ] {
        gauge!("troupe_gateway_events_queued", "lane" => lane).set(queued as f64);
        gauge!("troupe_gateway_events_running", "lane" => lane).set(running as f64);
        counter!("troupe_gateway_events_shed_total", "lane" => lane).absolute(shed);
    }
    gauge!("troupe_uptime_seconds").set(now.since(sources.started_at).as_secs_f64());
    gauge!("troupe_build_info", "version" => sources.version.clone()).set(1.0);
    process_collector().collect();
    if let Some(last) = sources.backups.as_ref().and_then(|b| b.last_success()) {
        gauge!("troupe_backup_last_success_timestamp_seconds").set(last.as_millis() as f64 / 1e3);
    }
    if let Some(alerts) = &sources.alerts {
        if let Some(base) = alerts.memory_baseline() {
            gauge!("troupe_memory_baseline_bytes").set(base as f64);
        }
        let active: BTreeMap<String, &'static str> = alerts
            .active()
            .iter()
            .map(|a| (a.rule.name(), a.severity.as_str()))
            .collect();
        for rule in all_rules() {
            for severity in ["warning", "critical"] {
                let on = active.get(&rule) == Some(&severity);
                gauge!("troupe_alerts_active", "rule" => rule.clone(), "severity" => severity)
                    .set(if on { 1.0 } else { 0.0 });
            }
        }
    }
}

/// The names of every alert rule (bounded label values of `troupe_alerts_active`).
fn all_rules() -> Vec<String> {
    use troupe_application::alerts::AlertRule;
    let mut out: Vec<String> = [SystemKind::Legacy, SystemKind::New]
        .into_iter()
        .map(|s| AlertRule::ErrorRate(s).name())
        .collect();
    out.extend(
        Category::ALL
            .into_iter()
            .map(|c| AlertRule::CategoryErrorRate(c).name()),
    );
    out.extend(
        [
            AlertRule::ResponseTime,
            AlertRule::Memory,
            AlertRule::FailedCommands,
        ]
        .map(AlertRule::name),
    );
    out
}
