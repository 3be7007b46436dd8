//! Alert thresholds of operations.md §4, evaluated over rolling windows: error rate of a command
//! system (and of each new-system category, for the auto-rollback), response time of the new
//! system against the legacy baseline, memory against its baseline, and failed commands per hour.
//!
//! Pure logic: fed [`CommandRecord`]s and memory samples with their timestamps, evaluated at a
//! given instant. No clock, no IO; the caller (the app) logs, posts and rolls back. The same
//! thresholds are shipped as Prometheus alerting rules in `docs/alerts/troupe-alerts.yml`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use troupe_domain::{Duration, Timestamp};

use crate::command::{Category, CommandName};
use crate::dispatch::CommandRecord;
use crate::flags::{FlagError, FlagName, FlagSource, Flags};
use crate::model::SystemKind;

/// Error rate of a system: warning above 0.1 % of its commands failing internally.
pub const ERROR_RATE_WARNING: f64 = 0.001;
/// Error rate of a system: critical above 1 %.
pub const ERROR_RATE_CRITICAL: f64 = 0.01;
/// Mean response time of the new system: warning above the legacy baseline + 20 %.
pub const RESPONSE_TIME_WARNING: f64 = 0.20;
/// Mean response time: critical above the legacy baseline + 50 %.
pub const RESPONSE_TIME_CRITICAL: f64 = 0.50;
/// Resident memory: warning above the baseline + 25 %.
pub const MEMORY_WARNING: f64 = 0.25;
/// Resident memory: critical above the baseline + 50 %.
pub const MEMORY_CRITICAL: f64 = 0.50;
/// Failed commands (an internal error delivered to the user): warning above 5 in an hour.
pub const FAILED_COMMANDS_WARNING: u64 = 5;
/// Failed commands: critical above 20 in an hour.
pub const FAILED_COMMANDS_CRITICAL: u64 = 20;

/// Windows and minimum sample sizes of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertSettings {
    /// Window of the error-rate and response-time rules.
    pub window: Duration,
    /// Fewest commands in the window before an error rate is judged.
    pub min_commands: u64,
    /// Window over which legacy's mean response time per command is the baseline (the last
    /// known baseline is kept when legacy serves nothing any more).
    pub baseline_window: Duration,
    /// Fewest timed commands (per side) before a response time is judged.
    pub min_timed: u64,
    /// Window of the failed-commands rule.
    pub failed_window: Duration,
    /// Window averaged for the current memory.
    pub memory_window: Duration,
    /// Without a configured baseline, the memory baseline is the mean over `memory_window`
    /// starting this long after the first sample (once the process has settled).
    pub memory_settle: Duration,
    /// A fixed memory baseline in bytes (e.g. measured with legacy only).
    pub memory_baseline: Option<u64>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            min_commands: 100,
            baseline_window: Duration::from_secs(6 * 3600),
            min_timed: 20,
            failed_window: Duration::from_secs(3600),
            memory_window: Duration::from_secs(10 * 60),
            memory_settle: Duration::from_secs(5 * 60),
            memory_baseline: None,
        }
    }
}

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// The rules of operations.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertRule {
    /// Internal errors / commands of one system (a fallback counts as a new-system error).
    ErrorRate(SystemKind),
    /// The same for one category of the new system (drives the auto-rollback).
    CategoryErrorRate(Category),
    /// The new system's mean response time against legacy's, command by command.
    ResponseTime,
    /// Resident memory against its baseline.
    Memory,
    /// Internal errors delivered to users in the last hour.
    FailedCommands,
}

impl AlertRule {
    /// A stable name, e.g. `error_rate.ddd`, `category_error_rate.personality`.
    pub fn name(self) -> String {
        match self {
            Self::ErrorRate(system) => format!("error_rate.{}", system.as_str()),
            Self::CategoryErrorRate(category) => format!("category_error_rate.{category}"),
            Self::ResponseTime => "response_time".into(),
            Self::Memory => "memory".into(),
            Self::FailedCommands => "failed_commands".into(),
        }
    }
}

/// One active alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: AlertRule,
    pub severity: Severity,
    /// The measured value: a rate (0.012), a relative increase (0.31) or a count (7).
    pub value: f64,
    /// The threshold it crossed, in the same unit.
    pub threshold: f64,
    /// Since when it has been active at this severity.
    pub since: Timestamp,
    /// One readable line, e.g. `error rate of ddd 1.20% > 1% (3 of 250 commands in 15m)`.
    pub message: String,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.severity.as_str(),
            self.rule.name(),
            self.message
        )
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Every active alert, most severe first.
    pub active: Vec<Alert>,
    /// Alerts that became active, or more severe, at this evaluation.
    pub fired: Vec<Alert>,
    /// Alerts that were active and no longer are.
    pub resolved: Vec<Alert>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    commands: u64,
    /// Internal errors of this system (for the new system, fallbacks included).
    errors: u64,
    timed: u64,
    seconds: f64,
}

const SYSTEMS: usize = 2;
const COMMANDS: usize = CommandName::ALL.len();

fn system_index(system: SystemKind) -> usize {
    match system {
        SystemKind::Legacy => 0,
        SystemKind::New => 1,
    }
}

fn command_index(command: CommandName) -> usize {
    CommandName::ALL
        .iter()
        .position(|c| *c == command)
        .unwrap_or(0)
}

/// One minute of commands.
#[derive(Debug, Clone)]
struct Minute {
    at: i64,
    cells: [[Cell; COMMANDS]; SYSTEMS],
    /// Internal errors delivered to users.
    failed: u64,
}

impl Minute {
    fn new(at: i64) -> Self {
        Self {
            at,
            cells: [[Cell::default(); COMMANDS]; SYSTEMS],
            failed: 0,
        }
    }
}

fn minute_of(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(60_000)
}

fn minutes(d: Duration) -> i64 {
    i64::try_from(d.as_secs().div_ceil(60)).unwrap_or(i64::MAX)
}

/// The evaluation state: rolling per-minute aggregates and memory samples.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    settings: AlertSettings,
    history: VecDeque<Minute>,
    memory: VecDeque<(Timestamp, u64)>,
    first_memory: Option<Timestamp>,
    memory_baseline: Option<f64>,
    /// Legacy's mean seconds per command, the last time it was measurable.
    baseline: [Option<f64>; COMMANDS],
    active: BTreeMap<String, Alert>,
}

impl AlertEngine {
    pub fn new(settings: AlertSettings) -> Self {
        Self {
            memory_baseline: settings.memory_baseline.map(|b| b as f64),
            settings,
            history: VecDeque::new(),
            memory: VecDeque::new(),
            first_memory: None,
            baseline: [None; COMMANDS],
            active: BTreeMap::new(),
        }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    fn minute_mut(&mut self, at: Timestamp) -> &mut Minute {
        let minute = minute_of(at);
        let position = self.history.iter().rposition(|m| m.at == minute);
        let index = if let Some(i) = position {
            i
        } else {
            // Records arrive roughly in order; keep the deque sorted anyway.
            let i = self.history.partition_point(|m| m.at < minute);
            self.history.insert(i, Minute::new(minute));
            i
        };
        &mut self.history[index]
    }

    /// Adds one finished command. A fallback counts as an internal error of the new system and
    /// as a command of legacy (untimed: its time includes the failed attempt).
    pub fn record(&mut self, record: &CommandRecord, at: Timestamp) {
        let c = command_index(record.command);
        let failed = record.class.is_failure();
        let minute = self.minute_mut(at);
        if record.fell_back {
            let cell = &mut minute.cells[system_index(SystemKind::New)][c];
            cell.commands += 1;
            cell.errors += 1;
        }
        let cell = &mut minute.cells[system_index(record.system)][c];
        cell.commands += 1;
        cell.errors += u64::from(failed);
        if !record.fell_back {
            cell.timed += 1;
            cell.seconds += record.elapsed.as_secs_f64();
        }
        minute.failed += u64::from(failed);
    }

    /// Adds a resident-memory sample in bytes.
    pub fn record_memory(&mut self, bytes: u64, at: Timestamp) {
        self.first_memory.get_or_insert(at);
        self.memory.push_back((at, bytes));
    }

    /// The memory baseline in bytes, once known.
    pub fn memory_baseline(&self) -> Option<u64> {
        self.memory_baseline.map(|b| b as u64)
    }

    fn roll_off(&mut self, now: Timestamp) {
        let keep = self
            .settings
            .baseline_window
            .max(self.settings.window)
            .max(self.settings.failed_window);
        let oldest = minute_of(now) - minutes(keep);
        while self.history.front().is_some_and(|m| m.at < oldest) {
            self.history.pop_front();
        }
        let memory_keep = now.minus(self.settings.memory_window);
        // Samples are kept until the baseline period is over.
        if self.memory_baseline.is_some() {
            while self.memory.front().is_some_and(|(t, _)| *t < memory_keep) {
                self.memory.pop_front();
            }
        }
    }

    /// Sums the cells of minutes within `window` before `now` (the current minute included).
    fn sum(&self, now: Timestamp, window: Duration) -> [[Cell; COMMANDS]; SYSTEMS] {
        let from = minute_of(now) - minutes(window) + 1;
        let mut out = [[Cell::default(); COMMANDS]; SYSTEMS];
        for m in self
            .history
            .iter()
            .filter(|m| m.at >= from && m.at <= minute_of(now))
        {
            for (s, row) in m.cells.iter().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    let o = &mut out[s][c];
                    o.commands += cell.commands;
                    o.errors += cell.errors;
                    o.timed += cell.timed;
                    o.seconds += cell.seconds;
                }
            }
        }
        out
    }

    /// Evaluates every rule at `now`, forgets what fell out of the windows, and reports what
    /// fired and what resolved since the previous evaluation.
    pub fn evaluate(&mut self, now: Timestamp) -> Evaluation {
        self.roll_off(now);
        let mut found: Vec<(AlertRule, Severity, f64, f64, String)> = Vec::new();
        let window = self.sum(now, self.settings.window);
        let win = crate::alerts::humanize_window(self.settings.window);

        // Error rate per system, and per category of the new system.
        for system in [SystemKind::Legacy, SystemKind::New] {
            let row = &window[system_index(system)];
            let (commands, errors) = row
                .iter()
                .fold((0, 0), |(n, e), c| (n + c.commands, e + c.errors));
            if let Some((severity, threshold, rate)) = self.error_rate(commands, errors) {
                found.push((
                    AlertRule::ErrorRate(system),
                    severity,
                    rate,
                    threshold,
                    format!(
                        "error rate of {} {} > {} ({errors} of {commands} commands in {win})",
                        system.as_str(),
                        percent(rate),
                        percent(threshold)
                    ),
                ));
            }
        }
        for category in Category::ALL {
            let row = &window[system_index(SystemKind::New)];
            let (commands, errors) = CommandName::ALL
                .iter()
                .filter(|c| c.category() == category)
                .map(|c| row[command_index(*c)])
                .fold((0, 0), |(n, e), c| (n + c.commands, e + c.errors));
            if let Some((severity, threshold, rate)) = self.error_rate(commands, errors) {
                found.push((
                    AlertRule::CategoryErrorRate(category),
                    severity,
                    rate,
                    threshold,
                    format!(
                        "error rate of the ddd {category} commands {} > {} ({errors} of \
                         {commands} in {win})",
                        percent(rate),
                        percent(threshold)
                    ),
                ));
            }
        }

        // Response time of the new system against legacy's baseline, command by command.
        let long = self.sum(now, self.settings.baseline_window);
        for (c, cell) in long[system_index(SystemKind::Legacy)].iter().enumerate() {
            if cell.timed >= self.settings.min_timed {
                self.baseline[c] = Some(cell.seconds / cell.timed as f64);
            }
        }
        let (mut actual, mut expected, mut timed) = (0.0, 0.0, 0u64);
        for (c, cell) in window[system_index(SystemKind::New)].iter().enumerate() {
            if let (Some(base), true) = (self.baseline[c], cell.timed > 0) {
                actual += cell.seconds;
                expected += base * cell.timed as f64;
                timed += cell.timed;
            }
        }
        if timed >= self.settings.min_timed && expected > 0.0 {
            let increase = actual / expected - 1.0;
            if let Some((severity, threshold)) =
                grade(increase, RESPONSE_TIME_WARNING, RESPONSE_TIME_CRITICAL)
            {
                found.push((
                    AlertRule::ResponseTime,
                    severity,
                    increase,
                    threshold,
                    format!(
                        "ddd response time {} above the legacy baseline > +{} ({timed} commands \
                         in {win}: {:.1} ms vs {:.1} ms)",
                        signed_percent(increase),
                        percent(threshold),
                        actual / timed as f64 * 1000.0,
                        expected / timed as f64 * 1000.0
                    ),
                ));
            }
        }

        // Memory against its baseline.
        if self.memory_baseline.is_none()
            && let Some(first) = self.first_memory
        {
            let from = first.plus(self.settings.memory_settle);
            let to = from.plus(self.settings.memory_window);
            if now >= to {
                let samples: Vec<u64> = self
                    .memory
                    .iter()
                    .filter(|(t, _)| *t >= from && *t < to)
                    .map(|(_, b)| *b)
                    .collect();
                let late = self
                    .memory
                    .iter()
                    .find(|(t, _)| *t >= from)
                    .map(|(_, b)| *b);
                self.memory_baseline = if samples.is_empty() {
                    late.map(|b| b as f64)
                } else {
                    Some(samples.iter().sum::<u64>() as f64 / samples.len() as f64)
                };
            }
        }
        let recent: Vec<u64> = self
            .memory
            .iter()
            .filter(|(t, _)| *t >= now.minus(self.settings.memory_window) && *t <= now)
            .map(|(_, b)| *b)
            .collect();
        if let (Some(base), false) = (self.memory_baseline, recent.is_empty())
            && base > 0.0
        {
            let current = recent.iter().sum::<u64>() as f64 / recent.len() as f64;
            let increase = current / base - 1.0;
            if let Some((severity, threshold)) = grade(increase, MEMORY_WARNING, MEMORY_CRITICAL) {
                found.push((
                    AlertRule::Memory,
                    severity,
                    increase,
                    threshold,
                    format!(
                        "resident memory {} above the baseline > +{} ({} MiB vs {} MiB)",
                        signed_percent(increase),
                        percent(threshold),
                        (current / 1_048_576.0).round(),
                        (base / 1_048_576.0).round()
                    ),
                ));
            }
        }

        // Failed commands in the last hour.
        let from = minute_of(now) - minutes(self.settings.failed_window) + 1;
        let failed: u64 = self
            .history
            .iter()
            .filter(|m| m.at >= from && m.at <= minute_of(now))
            .map(|m| m.failed)
            .sum();
        let failed_grade = if failed > FAILED_COMMANDS_CRITICAL {
            Some((Severity::Critical, FAILED_COMMANDS_CRITICAL))
        } else if failed > FAILED_COMMANDS_WARNING {
            Some((Severity::Warning, FAILED_COMMANDS_WARNING))
        } else {
            None
        };
        if let Some((severity, threshold)) = failed_grade {
            found.push((
                AlertRule::FailedCommands,
                severity,
                failed as f64,
                threshold as f64,
                format!(
                    "{failed} failed commands in the last {} > {threshold}",
                    humanize_window(self.settings.failed_window)
                ),
            ));
        }

        self.transition(found, now)
    }

    fn error_rate(&self, commands: u64, errors: u64) -> Option<(Severity, f64, f64)> {
        if commands < self.settings.min_commands.max(1) {
            return None;
        }
        let rate = errors as f64 / commands as f64;
        grade(rate, ERROR_RATE_WARNING, ERROR_RATE_CRITICAL).map(|(s, t)| (s, t, rate))
    }

    fn transition(
        &mut self,
        found: Vec<(AlertRule, Severity, f64, f64, String)>,
        now: Timestamp,
    ) -> Evaluation {
        let mut next = BTreeMap::new();
        let mut fired = Vec::new();
        for (rule, severity, value, threshold, message) in found {
            let key = rule.name();
            let since = match self.active.get(&key) {
                Some(previous) if previous.severity == severity => previous.since,
                _ => now,
            };
            let alert = Alert {
                rule,
                severity,
                value,
                threshold,
                since,
                message,
            };
            let escalated = self
                .active
                .get(&key)
                .is_none_or(|previous| previous.severity < severity);
            if escalated {
                fired.push(alert.clone());
            }
            next.insert(key, alert);
        }
        let resolved = self
            .active
            .iter()
            .filter(|(rule, _)| !next.contains_key(*rule))
            .map(|(_, a)| a.clone())
            .collect();
        self.active = next;
        Evaluation {
            active: self.active(),
            fired,
            resolved,
        }
    }

    /// The alerts active at the last evaluation, most severe first.
    pub fn active(&self) -> Vec<Alert> {
        let mut out: Vec<Alert> = self.active.values().cloned().collect();
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule.name().cmp(&b.rule.name()))
        });
        out
    }
}

fn grade(value: f64, warning: f64, critical: f64) -> Option<(Severity, f64)> {
    if value > critical {
        Some((Severity::Critical, critical))
    } else if value > warning {
        Some((Severity::Warning, warning))
    } else {
        None
    }
}

fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

fn signed_percent(rate: f64) -> String {
    if rate >= 0.0 {
        format!("+{}", percent(rate))
    } else {
        format!("-{}", percent(-rate))
    }
}

/// `15m`, `1h`, `6h`, `90s`.
pub fn humanize_window(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// An [`AlertEngine`] shared between the command observer, the memory sampler, the evaluation
/// loop and `/health`.
#[derive(Debug)]
pub struct AlertMonitor {
    engine: Mutex<AlertEngine>,
}

impl AlertMonitor {
    pub fn new(settings: AlertSettings) -> Self {
        Self {
            engine: Mutex::new(AlertEngine::new(settings)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut AlertEngine) -> T) -> T {
        let mut guard = self
            .engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    pub fn record(&self, record: &CommandRecord, at: Timestamp) {
        self.with(|e| e.record(record, at));
    }

    pub fn record_memory(&self, bytes: u64, at: Timestamp) {
        self.with(|e| e.record_memory(bytes, at));
    }

    pub fn evaluate(&self, now: Timestamp) -> Evaluation {
        self.with(|e| e.evaluate(now))
    }

    /// The alerts active at the last evaluation (cheap; for `/health`).
    pub fn active(&self) -> Vec<Alert> {
        self.with(|e| e.active())
    }

    pub fn memory_baseline(&self) -> Option<u64> {
        self.with(|e| e.memory_baseline())
    }
}

/// The actor recorded in the flag audit log for automatic rollbacks.
pub const AUTO_ROLLBACK_ACTOR: &str = "auto-rollback";

/// Turns a category back to legacy when its critical error-rate alert fired: the category flag
/// and any per-command override that sends one of its commands to the new system are set off,
/// with an audit entry by [`AUTO_ROLLBACK_ACTOR`]. Returns the flags changed (errors are
/// returned per flag; the others still apply).
pub async fn auto_rollback(
    flags: &Flags,
    fired: &[Alert],
    now: Timestamp,
) -> Vec<(FlagName, Result<(), FlagError>)> {
    let mut out = Vec::new();
    for alert in fired {
        let AlertRule::CategoryErrorRate(category) = alert.rule else {
            continue;
        };
        if alert.severity != Severity::Critical {
            continue;
        }
        let snapshot = flags.snapshot();
        let mut targets: Vec<FlagName> = Vec::new();
        if snapshot.get(FlagName::Category(category)) {
            targets.push(FlagName::Category(category));
        }
        for command in CommandName::ALL
            .into_iter()
            .filter(|c| c.category() == category)
        {
            let flag = FlagName::Command(command);
            if snapshot.source(flag) != FlagSource::Default && snapshot.get(flag) {
                targets.push(flag);
            }
        }
        for flag in targets {
            let reason = format!("critical alert: {}", alert.message);
            let result = flags
                .change(&flag.key(), Some(false), AUTO_ROLLBACK_ACTOR, &reason, now)
                .await
                .map(|_| ());
            match &result {
                Ok(()) => {
                    tracing::error!(flag = %flag, %reason, "auto-rollback: sent back to legacy");
                }
                Err(e) => tracing::error!(flag = %flag, error = %e, "auto-rollback failed"),
            }
            out.push((flag, result));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The runbook's communication plan (operations.md §6): the texts; posting is the adapters'.

/// What a flag change is, for the deployment announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutStep {
    /// A flag turned on: a stage starts.
    StageStart,
    /// A flag turned off or back to its default (by an operator or the auto-rollback).
    Rollback,
    /// The global kill switch turned off: every command back on legacy.
    EmergencyRollback,
}

impl RolloutStep {
    /// The step of an audited flag change.
    pub fn of(change: &troupe_ports::FlagAuditEntry) -> Self {
        let off = change.new == Some(false) || (change.new.is_none() && change.old == Some(true));
        match (FlagName::parse(&change.name), off) {
            (Some(FlagName::Enabled), true) => Self::EmergencyRollback,
            (_, true) => Self::Rollback,
            (_, false) => Self::StageStart,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StageStart => "stage start",
            Self::Rollback => "rollback",
            Self::EmergencyRollback => "EMERGENCY rollback",
        }
    }
}

/// The commands whose routing a flag decides (`every command` for the global switches).
pub fn commands_affected(flag: &str) -> String {
    let list = |commands: Vec<CommandName>| {
        commands
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match FlagName::parse(flag) {
        Some(FlagName::Enabled | FlagName::Integration) => "every command".into(),
        Some(FlagName::Category(category)) => list(
            CommandName::ALL
                .into_iter()
                .filter(|c| c.category() == category)
                .collect(),
        ),
        Some(FlagName::Command(command)) => command.as_str().into(),
        Some(FlagName::Shadow(category)) => {
            format!("none answer differently (shadow of {category})")
        }
        Some(FlagName::Slash) => "slash commands".into(),
        Some(FlagName::FallbackOnError) => "every command on the new system (fallback)".into(),
        None => "unknown flag".into(),
    }
}

/// The deployment announcement for a flag change: stage, commands affected, monitoring status
/// (`active_alerts` active now), rollback ready, next update (the default template of
/// [`crate::comms::Templates`]).
pub fn deployment_announcement(
    change: &troupe_ports::FlagAuditEntry,
    active_alerts: usize,
) -> String {
    crate::comms::Templates::default().announcement(change, active_alerts)
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Investigating,
    RollingBack,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "Investigating",
            Self::RollingBack => "Rolling back",
            Self::Resolved => "Resolved",
        }
    }
}

/// The commands an alert concerns.
pub(crate) fn alert_commands(rule: AlertRule) -> String {
    match rule {
        AlertRule::CategoryErrorRate(category) => {
            commands_affected(&FlagName::Category(category).key())
        }
        AlertRule::ErrorRate(system) => format!("every command on the {} system", system.as_str()),
        AlertRule::ResponseTime | AlertRule::FailedCommands => "every command".into(),
        AlertRule::Memory => "the whole process".into(),
    }
}

/// The incident message: impact, commands affected, status, actions taken (the default
/// template of [`crate::comms::Templates`]).
pub fn incident_message(alert: &Alert, status: IncidentStatus, actions: &[String]) -> String {
    crate::comms::Templates::default().incident(alert, status, actions)
}

#[cfg(test)]
mod comms_tests {
    use super::*;

    fn change(name: &str, old: Option<bool>, new: Option<bool>) -> troupe_ports::FlagAuditEntry {
        troupe_ports::FlagAuditEntry {
            name: name.into(),
            old,
            new,
            actor: "ops".into(),
            reason: "stage 2".into(),
            at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_flag_change_is_a_stage_start_a_rollback_or_an_emergency() {
        let step = |n, o, v| RolloutStep::of(&change(n, o, v));
        assert_eq!(
            step("ddd.commands.utility", None, Some(true)),
            RolloutStep::StageStart
        );
        assert_eq!(
            step("ddd.commands.utility", Some(true), Some(false)),
            RolloutStep::Rollback
        );
        assert_eq!(
            step("ddd.commands.utility", Some(true), None),
            RolloutStep::Rollback
        );
        assert_eq!(
            step("ddd.commands.enabled", Some(true), Some(false)),
            RolloutStep::EmergencyRollback
        );
    }

    #[test]
    fn the_announcement_names_stage_commands_monitoring_rollback_and_next_update() {
        let text = deployment_announcement(&change("ddd.commands.utility", None, Some(true)), 0);
        for part in [
            "stage start",
            "ddd.commands.utility = true",
            "commands affected: ",
            "monitoring active",
            "rollback ready: `troupe flags set ddd.commands.utility false",
            "next update",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let affected = commands_affected("ddd.commands.utility");
        assert!(!affected.is_empty() && affected != "unknown flag");
    }
}
