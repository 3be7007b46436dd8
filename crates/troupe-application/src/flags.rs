//! Feature flags of the rollout (operations.md §1): names, environment mapping, runtime values
//! with precedence runtime > environment > default, and targeting by guild.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, RwLock};

use troupe_domain::{GuildId, Timestamp};
use troupe_ports::{FlagAuditEntry, FlagChange, FlagStore, StoreError};

use crate::command::{Category, CommandName};

/// One flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagName {
    /// `ddd.commands.enabled`: the global kill switch.
    Enabled,
    /// `ddd.commands.integration`.
    Integration,
    /// `ddd.commands.<category>`.
    Category(Category),
    /// `ddd.commands.fallbackOnError` (default on).
    FallbackOnError,
    /// `ddd.commands.slash`.
    Slash,
    /// `ddd.commands.shadow.<category>`.
    Shadow(Category),
    /// `ddd.commands.<command>`: a per-command override.
    Command(CommandName),
}

/// Number of flags: enabled, integration, 4 categories, fallbackOnError, slash, 4 shadows, 18 commands.
pub const FLAG_COUNT: usize = 30;

impl FlagName {
    /// Every flag, in a stable order (the index used by [`FlagSnapshot`]).
    pub fn all() -> impl Iterator<Item = Self> {
        [Self::Enabled, Self::Integration]
            .into_iter()
            .chain(Category::ALL.into_iter().map(Self::Category))
            .chain([Self::FallbackOnError, Self::Slash])
            .chain(Category::ALL.into_iter().map(Self::Shadow))
            .chain(CommandName::ALL.into_iter().map(Self::Command))
    }

    /// The position of this flag in [`Self::all`].
    pub fn index(self) -> usize {
        let cat = |c: Category| Category::ALL.iter().position(|x| *x == c).unwrap_or(0);
        match self {
            Self::Enabled => 0,
            Self::Integration => 1,
            Self::Category(c) => 2 + cat(c),
            Self::FallbackOnError => 6,
            Self::Slash => 7,
            Self::Shadow(c) => 8 + cat(c),
            Self::Command(c) => 12 + CommandName::ALL.iter().position(|x| *x == c).unwrap_or(0),
        }
    }

    /// The dotted name, e.g. `ddd.commands.fallbackOnError`.
    pub fn key(self) -> String {
        match self {
            Self::Enabled => "ddd.commands.enabled".into(),
            Self::Integration => "ddd.commands.integration".into(),
            Self::Category(c) => format!("ddd.commands.{c}"),
            Self::FallbackOnError => "ddd.commands.fallbackOnError".into(),
            Self::Slash => "ddd.commands.slash".into(),
            Self::Shadow(c) => format!("ddd.commands.shadow.{c}"),
            Self::Command(c) => format!("ddd.commands.{c}"),
        }
    }

    /// Parses a dotted name, case-insensitively; a command alias names its command's flag
    /// (`ddd.commands.act` is `ddd.commands.activate`).
    pub fn parse(raw: &str) -> Option<Self> {
        let lower = raw.trim().to_ascii_lowercase();
        let rest = lower.strip_prefix("ddd.commands.")?;
        match rest {
            "enabled" => Some(Self::Enabled),
            "integration" => Some(Self::Integration),
            "fallbackonerror" => Some(Self::FallbackOnError),
            "slash" => Some(Self::Slash),
            _ => {
                if let Some(cat) = rest.strip_prefix("shadow.") {
                    return Category::parse(cat).map(Self::Shadow);
                }
                Category::parse(rest)
                    .map(Self::Category)
                    .or_else(|| CommandName::resolve(rest).map(Self::Command))
            }
        }
    }

    /// The environment variable: `FEATURE_FLAG_` + the name with dots as underscores and
    /// camelCase split, upper-cased (`FEATURE_FLAG_DDD_COMMANDS_FALLBACK_ON_ERROR`).
    pub fn env_var(self) -> String {
        let mut out = String::from("FEATURE_FLAG_");
        for c in self.key().chars() {
            match c {
                '.' => out.push('_'),
                c if c.is_ascii_uppercase() => {
                    out.push('_');
                    out.push(c);
                }
                c => out.push(c.to_ascii_uppercase()),
            }
        }
        out
    }

    /// The flag an environment variable sets (case-insensitive; underscores optional inside
    /// camelCase words, so `..._FALLBACKONERROR` also works).
    pub fn from_env_var(var: &str) -> Option<Self> {
        let squash = |s: &str| s.to_ascii_uppercase().replace('_', "");
        let wanted = squash(var);
        Self::all().find(|f| squash(&f.env_var()) == wanted)
    }

    /// The value when neither environment nor runtime sets it: off, except fallbackOnError.
    pub fn default_value(self) -> bool {
        matches!(self, Self::FallbackOnError)
    }
}

impl fmt::Display for FlagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Parses a flag value: exactly true/false, 1/0 or on/off (case-insensitive; surrounding
/// whitespace ignored). Anything else, `yes`/`no` included, is refused.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" => Some(true),
        "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// A start-up error in the environment's flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagEnvError {
    #[error("unknown feature flag variable {0} (see docs/CONFIGURATION.md for the flag names)")]
    UnknownVariable(String),
    #[error("{var} has the value {value:?}; expected true, false, 1, 0, on or off")]
    BadValue { var: String, value: String },
}

/// Where a flag's effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSource {
    Default,
    Environment,
    Runtime,
}

impl FlagSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Environment => "environment",
            Self::Runtime => "runtime",
        }
    }
}

/// Flag values from `FEATURE_FLAG_*` environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFlags(BTreeMap<FlagName, bool>);

impl EnvFlags {
    /// Reads every `FEATURE_FLAG_*` variable (prefix case-insensitive) from `vars`; an unknown
    /// name or a bad value is an error naming the variable.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, FlagEnvError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut map = BTreeMap::new();
        for (key, value) in vars {
            let key = key.as_ref();
            if !key.to_ascii_uppercase().starts_with("FEATURE_FLAG_") {
                continue;
            }
            let flag = FlagName::from_env_var(key)
                .ok_or_else(|| FlagEnvError::UnknownVariable(key.to_owned()))?;
            let parsed = parse_bool(value.as_ref()).ok_or_else(|| FlagEnvError::BadValue {
                var: key.to_owned(),
                value: value.as_ref().chars().take(64).collect(),
            })?;
            map.insert(flag, parsed);
        }
        Ok(Self(map))
    }

    pub fn get(&self, flag: FlagName) -> Option<bool> {
        self.0.get(&flag).copied()
    }
}

/// Targeting of one category on top of its enabled flag: a guild allow-list and a sticky
/// percentage rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targeting {
    pub guilds: BTreeSet<GuildId>,
    /// 0–100; `None` with an empty allow-list means every guild.
    pub percentage: Option<u8>,
}

impl Targeting {
    /// Whether a command in `guild` (None for DMs) lands on the new system. Allow-listed guilds
    /// always do; otherwise a guild's fixed bucket (0–99) must be below the percentage, so the
    /// same guild always lands on the same side and raising the percentage only adds guilds.
    /// DMs follow the percentage alone when it is 100, or no targeting at all.
    pub fn admits(&self, guild: Option<GuildId>) -> bool {
        if self.guilds.is_empty() && self.percentage.is_none() {
            return true;
        }
        match guild {
            Some(g) if self.guilds.contains(&g) => true,
            Some(g) => self.percentage.is_some_and(|p| bucket(g) < u64::from(p)),
            None => self.percentage == Some(100),
        }
    }
}

/// A guild's rollout bucket, 0–99, stable across processes and versions (splitmix64).
pub fn bucket(guild: GuildId) -> u64 {
    let mut z = guild.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

/// The effective value of every flag at one moment, with its source. Cheap to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSnapshot {
    values: [bool; FLAG_COUNT],
    sources: [FlagSource; FLAG_COUNT],
    targeting: BTreeMap<Category, Targeting>,
}

impl FlagSnapshot {
    /// Combines the layers: runtime > environment > default.
    pub fn build(
        env: &EnvFlags,
        runtime: &BTreeMap<FlagName, bool>,
        targeting: &BTreeMap<Category, Targeting>,
    ) -> Self {
        let mut values = [false; FLAG_COUNT];
        let mut sources = [FlagSource::Default; FLAG_COUNT];
        for flag in FlagName::all() {
            let i = flag.index();
            (values[i], sources[i]) = match (runtime.get(&flag), env.get(flag)) {
                (Some(v), _) => (*v, FlagSource::Runtime),
                (None, Some(v)) => (v, FlagSource::Environment),
                (None, None) => (flag.default_value(), FlagSource::Default),
            };
        }
        Self {
            values,
            sources,
            targeting: targeting.clone(),
        }
    }

    /// Defaults only.
    pub fn defaults() -> Self {
        Self::build(&EnvFlags::default(), &BTreeMap::new(), &BTreeMap::new())
    }

    pub fn get(&self, flag: FlagName) -> bool {
        self.values[flag.index()]
    }

    pub fn source(&self, flag: FlagName) -> FlagSource {
        self.sources[flag.index()]
    }

    /// Whether a per-command override exists (set by environment or at runtime).
    pub fn has_override(&self, command: CommandName) -> bool {
        self.source(FlagName::Command(command)) != FlagSource::Default
    }

    pub fn targeting(&self, category: Category) -> Option<&Targeting> {
        self.targeting.get(&category)
    }

    /// Every flag with its value and source, in [`FlagName::all`] order.
    pub fn entries(&self) -> impl Iterator<Item = (FlagName, bool, FlagSource)> + '_ {
        FlagName::all().map(|f| (f, self.get(f), self.source(f)))
    }
}

/// A flag value for messages and logs: `true`, `false`, or `unset` (no runtime value).
pub fn show_value(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "unset",
    }
}

/// The longest actor of a flag change (characters).
pub const ACTOR_MAX_CHARS: usize = 200;
/// The longest reason of a flag change (characters).
pub const REASON_MAX_CHARS: usize = 500;

/// Checks an audit text (`what` names it in the message): not blank, at most `max`
/// characters, no control characters (a newline or an escape sequence could forge an audit
/// line or rewrite a terminal).
pub fn check_audit_text(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(format!(
            "{what} is {chars} characters long; at most {max} are allowed"
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} contains the control character {c:?}; use one line of plain text"
        ));
    }
    Ok(())
}

/// Whether a flag watcher currently sees a store outage (see [`Flags::watch_step`]).
#[derive(Debug, Clone, Default)]
pub struct WatchHealth {
    down: bool,
}

impl WatchHealth {
    /// Whether the last refresh failed.
    pub fn is_down(&self) -> bool {
        self.down
    }
}

/// Errors of flag changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("unknown flag {0:?}")]
    UnknownFlag(String),
    #[error("a reason is required for a flag change")]
    MissingReason,
    /// The actor or reason is too long or holds control characters.
    #[error("{0}")]
    InvalidAudit(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The live flags of this process: environment layer, runtime layer (shared through the
/// [`FlagStore`], so every process sees a change), and targeting.
pub struct Flags {
    env: EnvFlags,
    targeting: BTreeMap<Category, Targeting>,
    store: Arc<dyn FlagStore>,
    current: RwLock<(u64, Arc<FlagSnapshot>)>,
    /// Told each version a refresh applies ([`Flags::on_applied`]).
    listeners: std::sync::Mutex<Vec<Listener>>,
}

/// What [`Flags::on_applied`] calls.
type Listener = Box<dyn Fn(u64) + Send + Sync>;

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flags")
            .field("env", &self.env)
            .field("snapshot", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl Flags {
    /// Flags over `store`, loading the runtime values once.
    pub async fn load(
        env: EnvFlags,
        targeting: BTreeMap<Category, Targeting>,
        store: Arc<dyn FlagStore>,
    ) -> Result<Self, StoreError> {
        let initial = Arc::new(FlagSnapshot::build(&env, &BTreeMap::new(), &targeting));
        let flags = Self {
            env,
            targeting,
            store,
            current: RwLock::new((u64::MAX, initial)),
            listeners: std::sync::Mutex::new(Vec::new()),
        };
        flags.refresh().await?;
        Ok(flags)
    }

    /// The current effective values (a cheap `Arc` clone).
    pub fn snapshot(&self) -> Arc<FlagSnapshot> {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().1.clone(), |g| g.1.clone())
    }

    /// The flag version (see [`FlagStore::version`]) of the values in force: what this process
    /// reports to the fleet registry so a change can be confirmed fleet-wide. `None` before the
    /// first successful read.
    pub fn version(&self) -> Option<u64> {
        let version = self.current.read().map_or(u64::MAX, |g| g.0);
        (version != u64::MAX).then_some(version)
    }

    /// Re-reads the runtime values when the store's version changed (one cheap query when
    /// nothing changed). Returns whether the snapshot changed.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let version = self.store.version().await?;
        let known = self.current.read().map_or(u64::MAX, |g| g.0);
        if version == known {
            return Ok(false);
        }
        let runtime: BTreeMap<FlagName, bool> = self
            .store
            .values()
            .await?
            .into_iter()
            .filter_map(|f| FlagName::parse(&f.name).map(|n| (n, f.value)))
            .collect();
        let snapshot = Arc::new(FlagSnapshot::build(&self.env, &runtime, &self.targeting));
        if let Ok(mut guard) = self.current.write() {
            *guard = (version, snapshot);
        }
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for listener in listeners.iter() {
            listener(version);
        }
        Ok(true)
    }

    /// Calls `listener` with each new version a refresh applies ([`Flags::version`]), so
    /// nobody needs to poll for it. It runs inside the refresh: keep it quick (hand the
    /// version on, e.g. to a channel).
    pub fn on_applied(&self, listener: impl Fn(u64) + Send + Sync + 'static) {
        self.listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(listener));
    }

    /// Sets (or with `None` removes) a runtime value with an audit entry, and applies it to this
    /// process at once. Returns the flag's effective value before the change.
    pub async fn change(
        &self,
        name: &str,
        value: Option<bool>,
        actor: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, FlagError> {
        let flag = FlagName::parse(name)
            .ok_or_else(|| FlagError::UnknownFlag(name.chars().take(100).collect()))?;
        if reason.trim().is_empty() {
            return Err(FlagError::MissingReason);
        }
        check_audit_text("the reason", reason, REASON_MAX_CHARS)
            .and_then(|()| check_audit_text("the actor", actor, ACTOR_MAX_CHARS))
            .map_err(FlagError::InvalidAudit)?;
        let before = self.snapshot().get(flag);
        let change = FlagChange {
            name: flag.key(),
            value,
            actor: actor.trim().to_owned(),
            reason: reason.trim().to_owned(),
            at: now,
        };
        self.store.apply(&change).await?;
        self.refresh().await?;
        tracing::info!(
            flag = %flag,
            value = show_value(value),
            actor = change.actor,
            reason = change.reason,
            "feature flag changed"
        );
        Ok(before)
    }

    /// One step of a flag watcher: re-reads the flags when their version changed. A store
    /// outage is logged once (not at every poll) and its end once; the last values stay in
    /// force meanwhile. Returns whether the snapshot changed.
    pub async fn watch_step(&self, health: &mut WatchHealth) -> bool {
        match self.refresh().await {
            Ok(changed) => {
                if std::mem::take(&mut health.down) {
                    tracing::info!("the flag store answers again; feature flags are current");
                }
                if changed {
                    tracing::debug!("feature flags re-read after a change");
                }
                changed
            }
            Err(e) => {
                if !health.down {
                    health.down = true;
                    tracing::warn!(
                        error = %e,
                        "cannot refresh feature flags; the last values stay in force until the \
                         store answers (logged once per outage)"
                    );
                }
                false
            }
        }
    }

    /// The newest audit entries.
    pub async fn audit(&self, limit: u64) -> Result<Vec<FlagAuditEntry>, StoreError> {
        self.store.audit(limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_thirty_flags_with_distinct_indexes_and_names() {
        let all: Vec<_> = FlagName::all().collect();
        assert_eq!(all.len(), FLAG_COUNT);
        for (i, f) in all.iter().enumerate() {
            assert_eq!(f.index(), i, "{f}");
            assert_eq!(FlagName::parse(&f.key()), Some(*f));
            assert_eq!(
                FlagName::from_env_var(&f.env_var()),
                Some(*f),
                "{}",
                f.env_var()
            );
        }
    }

    #[test]
    fn environment_names_follow_the_runbook() {
        let cases = [
            (FlagName::Enabled, "FEATURE_FLAG_DDD_COMMANDS_ENABLED"),
            (
                FlagName::Integration,
                "FEATURE_FLAG_DDD_COMMANDS_INTEGRATION",
            ),
            (
                FlagName::Category(Category::Personality),
                "FEATURE_FLAG_DDD_COMMANDS_PERSONALITY",
            ),
            (
                FlagName::FallbackOnError,
                "FEATURE_FLAG_DDD_COMMANDS_FALLBACK_ON_ERROR",
            ),
            (FlagName::Slash, "FEATURE_FLAG_DDD_COMMANDS_SLASH"),
            (
                FlagName::Shadow(Category::Utility),
                "FEATURE_FLAG_DDD_COMMANDS_SHADOW_UTILITY",
            ),
            (
                FlagName::Command(CommandName::Ping),
                "FEATURE_FLAG_DDD_COMMANDS_PING",
            ),
        ];
        for (flag, var) in cases {
            assert_eq!(flag.env_var(), var);
            assert_eq!(
                FlagName::from_env_var(&var.to_lowercase()),
                Some(flag),
                "case-insensitive"
            );
        }
        assert_eq!(
            FlagName::from_env_var("FEATURE_FLAG_DDD_COMMANDS_FALLBACKONERROR"),
            Some(FlagName::FallbackOnError)
        );
        assert_eq!(
            FlagName::parse("DDD.COMMANDS.ACT"),
            Some(FlagName::Command(CommandName::Activate))
        );
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let err =
            EnvFlags::from_vars([("FEATURE_FLAG_DDD_COMMANDS_TELEPORT", "true")]).unwrap_err();
        assert_eq!(
            err,
            FlagEnvError::UnknownVariable("FEATURE_FLAG_DDD_COMMANDS_TELEPORT".into())
        );
        let err =
            EnvFlags::from_vars([("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "maybe")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("FEATURE_FLAG_DDD_COMMANDS_ENABLED")
        );
        let ok = EnvFlags::from_vars([
            ("feature_flag_ddd_commands_enabled", "ON"),
            ("PATH", "/bin"),
            ("FEATURE_FLAG_DDD_COMMANDS_PING", "0"),
        ])
        .unwrap();
        assert_eq!(ok.get(FlagName::Enabled), Some(true));
        assert_eq!(ok.get(FlagName::Command(CommandName::Ping)), Some(false));
        for (raw, v) in [
            ("true", true),
            ("1", true),
            ("on", true),
            ("FALSE", false),
            ("0", false),
            ("off", false),
        ] {
            assert_eq!(parse_bool(raw), Some(v), "{raw}");
        }
        for refused in ["", "yes", "no", "y", "enabled", "2"] {
            assert_eq!(parse_bool(refused), None, "{refused}");
        }
    }

    #[test]
    fn runtime_beats_environment_beats_default() {
        let env = EnvFlags::from_vars([
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
            ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ])
        .unwrap();
        let runtime = BTreeMap::from([(FlagName::Category(Category::Utility), false)]);
        let s = FlagSnapshot::build(&env, &runtime, &BTreeMap::new());
        assert!(s.get(FlagName::Enabled));
        assert_eq!(s.source(FlagName::Enabled), FlagSource::Environment);
        assert!(!s.get(FlagName::Category(Category::Utility)));
        assert_eq!(
            s.source(FlagName::Category(Category::Utility)),
            FlagSource::Runtime
        );
        assert!(s.get(FlagName::FallbackOnError));
        assert_eq!(s.source(FlagName::FallbackOnError), FlagSource::Default);
        assert!(!s.get(FlagName::Integration));
    }

    #[test]
    fn percentage_rollout_is_sticky_and_only_adds_guilds() {
        let guilds: Vec<GuildId> = (1..=2000)
            .map(|n| GuildId::new(n * 7919).unwrap())
            .collect();
        let mut previous: BTreeSet<GuildId> = BTreeSet::new();
        for pct in [0u8, 10, 25, 50, 75, 100] {
            let t = Targeting {
                guilds: BTreeSet::new(),
                percentage: Some(pct),
            };
            let admitted: BTreeSet<GuildId> = guilds
                .iter()
                .copied()
                .filter(|g| t.admits(Some(*g)))
                .collect();
            assert!(
                previous.is_subset(&admitted),
                "raising to {pct}% dropped a guild"
            );
            let share = admitted.len() as f64 / guilds.len() as f64 * 100.0;
            assert!(
                (share - f64::from(pct)).abs() < 5.0,
                "{pct}% admitted {share:.1}%"
            );
            previous = admitted;
        }
        let t = Targeting {
            guilds: BTreeSet::from([GuildId::new(5).unwrap()]),
            percentage: None,
        };
        assert!(t.admits(Some(GuildId::new(5).unwrap())));
        assert!(!t.admits(Some(GuildId::new(6).unwrap())));
        assert!(!t.admits(None));
        assert!(Targeting::default().admits(None));
    }
}
