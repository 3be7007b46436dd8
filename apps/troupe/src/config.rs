//! Configuration: a TOML file (`troupe.toml`, keys = the environment names in lower case) and
//! environment variables (which win), validated at start with errors that name the setting.
//! Secrets are kept in [`Secret`], which never prints its value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use troupe_application::Category;
use troupe_application::flags::{EnvFlags, Targeting};
use troupe_domain::{ChannelId, GuildId, UserId};

/// A secret value: a [`secrecy::SecretString`] (wiped on drop; `Debug` and `Display` show
/// `<redacted>`), handed to the adapter crates as one ([`Secret::to_secret_string`]).
#[derive(Clone)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(secrecy::SecretString::from(value))
    }

    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }

    /// The value as the adapters take secrets.
    pub fn to_secret_string(&self) -> secrecy::SecretString {
        self.0.clone()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A configuration error, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {message}")]
    Invalid { setting: String, message: String },
    #[error("cannot read the configuration file {path}: {message}")]
    File { path: String, message: String },
}

pub(crate) fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

/// Every setting Troupe reads (environment name, secret?).
pub const SETTINGS: &[(&str, bool)] = &[
    ("DISCORD_TOKEN", true),
    ("TROUPE_DATA_DIR", false),
    ("TROUPE_DATABASE_URL", true),
    ("TROUPE_PREFIX", false),
    ("TROUPE_MENTION_CHAR", false),
    ("TROUPE_BOT_OWNERS", false),
    ("TROUPE_HTTP_ADDR", false),
    ("TROUPE_ADMIN_TOKEN", true),
    ("TROUPE_TOKEN_KEY", true),
    ("TROUPE_TOKEN_KEY_PREVIOUS", true),
    ("TROUPE_AI_BASE_URL", false),
    ("TROUPE_AI_API_KEY", true),
    ("TROUPE_AI_MODEL", false),
    ("TROUPE_PROFILE_URL", false),
    ("TROUPE_OAUTH_AUTHORIZE_URL", false),
    ("TROUPE_OAUTH_TOKEN_URL", false),
    ("TROUPE_OAUTH_CLIENT_ID", false),
    ("TROUPE_OAUTH_CLIENT_SECRET", true),
    ("TROUPE_OAUTH_REDIRECT_URL", false),
    ("TROUPE_AI_TIMEOUT_MS", false),
    ("TROUPE_AI_VISION_MODELS", false),
    ("TROUPE_AI_USER_TOKEN_HEADER", false),
    ("TROUPE_PROXY_WAIT_MS", false),
    ("TROUPE_PLURALKIT_URL", false),
    ("TROUPE_PLURALKIT_TIMEOUT_MS", false),
    ("TROUPE_AGE_GATE", false),
    ("TROUPE_SHARDS", false),
    ("TROUPE_SHARD_RANGE", false),
    // Shards from the orchestrator (issue 16): this process's index among the processes that
    // divide TROUPE_SHARDS (a number, or `hostname` for a StatefulSet ordinal like troupe-2).
    ("TROUPE_SHARD_INDEX", false),
    ("TROUPE_SHARD_PROCESSES", false),
    ("TROUPE_DISCORD_GATEWAY_URL", false),
    ("TROUPE_DISCORD_API_PROXY", false),
    ("TROUPE_DISCORD_DEV_GUILD", false),
    // The Discord adapter's load, REST and restart settings (issue 12).
    ("TROUPE_DISCORD_COMMANDS_RUNNING", false),
    ("TROUPE_DISCORD_COMMANDS_QUEUED", false),
    ("TROUPE_DISCORD_MESSAGES_RUNNING", false),
    ("TROUPE_DISCORD_MESSAGES_QUEUED", false),
    ("TROUPE_DISCORD_REST_TIMEOUT_MS", false),
    ("TROUPE_DISCORD_SHARED_LIMIT", false),
    ("TROUPE_DISCORD_IDENTIFY_INTERVAL_MS", false),
    ("TROUPE_DISCORD_RECONNECT_MAX_MS", false),
    ("TROUPE_SHUTDOWN_GRACE_MS", false),
    // Gateway/worker mode over NATS JetStream (`troupe gateway`, `troupe worker`; ADR 0045).
    ("TROUPE_NATS_URL", true),
    ("TROUPE_NATS_STREAM", false),
    ("TROUPE_NATS_ACK_WAIT_MS", false),
    ("TROUPE_WORKER_CONCURRENCY", false),
    ("TROUPE_LOG_FORMAT", false),
    ("TROUPE_BACKUP_DIR", false),
    ("TROUPE_BACKUP_KEEP", false),
    ("TROUPE_BACKUP_SCHEDULE", false),
    ("TROUPE_OPS_WEBHOOK_URL", true),
    // The communication plan (ADR 0023): channels through the bot, editable texts.
    ("TROUPE_OPS_CHANNEL", false),
    ("TROUPE_MAINTENANCE_CHANNEL", false),
    ("TROUPE_COMMS_ANNOUNCEMENT_TEMPLATE", false),
    ("TROUPE_COMMS_INCIDENT_TEMPLATE", false),
    ("TROUPE_COMMS_MAINTENANCE_TEMPLATE", false),
    ("TROUPE_AUTO_ROLLBACK", false),
    ("TROUPE_MEMORY_BASELINE_MB", false),
    ("TROUPE_SHADOW_SAMPLE_RATE", false),
    ("TROUPE_SHADOW_MAX_CONCURRENT", false),
    ("TROUPE_SHADOW_TIMEOUT_MS", false),
    ("TROUPE_ROLLOUT_UTILITY_GUILDS", false),
    ("TROUPE_ROLLOUT_UTILITY_PERCENT", false),
    ("TROUPE_ROLLOUT_AUTHENTICATION_GUILDS", false),
    ("TROUPE_ROLLOUT_AUTHENTICATION_PERCENT", false),
    ("TROUPE_ROLLOUT_CONVERSATION_GUILDS", false),
    ("TROUPE_ROLLOUT_CONVERSATION_PERCENT", false),
    ("TROUPE_ROLLOUT_PERSONALITY_GUILDS", false),
    ("TROUPE_ROLLOUT_PERSONALITY_PERCENT", false),
    // Schema changes at start (issue 11): `run`/`console` migrate on SQLite, or when this is on.
    ("TROUPE_AUTO_MIGRATE", false),
    // The store's in-memory read model (issue 13, ADR 0031).
    ("TROUPE_READ_MODEL", false),
    // SQLite's durability per kind of write (issue 13, ADR 0035).
    ("TROUPE_SQLITE_DURABILITY", false),
    // Read elsewhere: the log filter (telemetry), `troupe smoke`'s URL and admin token.
    ("TROUPE_LOG", false),
    ("TROUPE_URL", false),
    ("TROUPE_SMOKE_ADMIN_TOKEN", true),
];

/// Prefixes reserved for the test and bench harnesses (`TROUPE_TEST_POSTGRES_URL`, …) and the
/// deploy scripts (`TROUPE_BINARY`, `TROUPE_DEPLOY_IMAGE` of deploy/check): never read by the
/// bot, so an environment that sets them does not stop it.
pub const RESERVED_PREFIXES: &[&str] = &[
    "TROUPE_TEST_",
    "TROUPE_BENCH_",
    "TROUPE_DEPLOY_",
    "TROUPE_BINARY",
];

/// The bounds of `TROUPE_BACKUP_KEEP` and `troupe backup --keep`.
pub const BACKUP_KEEP_BOUNDS: (usize, usize) = (1, 10_000);

/// The shortest admin token accepted (`TROUPE_ADMIN_TOKEN`).
pub const ADMIN_TOKEN_MIN_CHARS: usize = 32;

/// Whether `upper` (an upper-cased variable name) is one Troupe reads.
fn is_known(upper: &str) -> bool {
    SETTINGS.iter().any(|(name, _)| *name == upper)
}

/// The known name closest to an unknown one, when it is close enough to be a typo.
fn did_you_mean(unknown: &str) -> Option<String> {
    let upper = unknown.to_ascii_uppercase();
    let candidates: Vec<String> = if upper.starts_with("FEATURE_FLAG_") {
        troupe_application::flags::FlagName::all()
            .map(troupe_application::flags::FlagName::env_var)
            .collect()
    } else {
        SETTINGS.iter().map(|(n, _)| (*n).to_owned()).collect()
    };
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&upper, &c), c))
        .filter(|(d, c)| *d <= (c.len() / 5).max(2))
        .min()
        .map(|(_, c)| c)
}

/// The error for a variable (or file key) Troupe does not know.
fn unknown_setting(name: &str, whence: &str) -> ConfigError {
    let hint = did_you_mean(name).map_or_else(
        || " (docs/CONFIGURATION.md lists every setting)".to_owned(),
        |known| format!("; did you mean {known}?"),
    );
    invalid(name, format!("unknown setting {whence}{hint}"))
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub discord_token: Option<Secret>,
    pub data_dir: PathBuf,
    pub database_url: Secret,
    /// Whether the database URL is the default (SQLite in the data directory).
    pub database_url_is_default: bool,
    /// Apply pending migrations at start of `run`/`console` on PostgreSQL too
    /// (`TROUPE_AUTO_MIGRATE`; SQLite always migrates at start).
    pub auto_migrate: bool,
    /// Serve the hot reads of the store from memory (`TROUPE_READ_MODEL`, default on; ADR 0031).
    pub read_model: bool,
    /// SQLite's durability per kind of write (`TROUPE_SQLITE_DURABILITY`: `full`,
    /// `per-operation` (default), `normal`; ADR 0035).
    pub sqlite_durability: troupe_store::Durability,
    pub prefix: String,
    pub mention_char: char,
    pub bot_owners: BTreeSet<UserId>,
    pub http_addr: SocketAddr,
    pub admin_token: Option<Secret>,
    pub token_key: Option<Secret>,
    pub previous_token_keys: Vec<Secret>,
    pub ai_base_url: Option<String>,
    pub ai_api_key: Option<Secret>,
    pub ai_model: Option<String>,
    pub profile_url: Option<String>,
    /// Longest wait for one AI answer (`TROUPE_AI_TIMEOUT_MS`).
    pub ai_timeout_ms: u64,
    /// Models that accept image parts; `*` = all (`TROUPE_AI_VISION_MODELS`).
    pub ai_vision_models: Vec<String>,
    /// Header carrying a user's own token; none: it replaces the key (`TROUPE_AI_USER_TOKEN_HEADER`).
    pub ai_user_token_header: Option<String>,
    /// Per-user authentication with the AI provider (all `TROUPE_OAUTH_*` set), or `None`.
    pub oauth: Option<OAuthSettings>,
    /// Wait before answering a guild message that a proxy system may replace (`TROUPE_PROXY_WAIT_MS`).
    pub proxy_wait_ms: u64,
    /// PluralKit's API, asked who wrote a proxied message (`TROUPE_PLURALKIT_URL`; default
    /// the public API, `off`: not asked, the webhook is the author as for Tupperbox).
    pub pluralkit_url: Option<String>,
    /// Longest wait for PluralKit's answer (`TROUPE_PLURALKIT_TIMEOUT_MS`).
    pub pluralkit_timeout_ms: u64,
    pub age_gate: bool,
    /// Total gateway shards of the bot across all processes (`None`: Discord's recommendation).
    pub shards: Option<u32>,
    /// The shards this process runs (`None`: all of them).
    pub shard_range: Option<std::ops::Range<u32>>,
    /// Gateway base URL instead of Discord's (`ws://host:port`, a gateway proxy or a fake).
    pub discord_gateway_url: Option<String>,
    /// `host:port` of a plain-HTTP Discord REST proxy (or a fake) instead of discord.com.
    pub discord_api_proxy: Option<String>,
    /// Register slash commands in this guild only (development); global otherwise.
    pub discord_dev_guild: Option<GuildId>,
    /// Event budgets, REST timeout, shared global limit, reconnect cap, shutdown grace.
    pub discord: DiscordSettings,
    /// The broker of the gateway/worker mode (`TROUPE_NATS_*`, `TROUPE_WORKER_CONCURRENCY`).
    pub broker: crate::broker::BrokerSettings,
    pub log_format: Option<LogFormat>,
    pub backup_dir: PathBuf,
    pub backup_keep: usize,
    /// Scheduled backups in `run` and `console --http` (`TROUPE_BACKUP_SCHEDULE`, default on).
    pub backup_schedule: bool,
    /// Not a setting: the configuration file this was read from (`--config`, or
    /// `./troupe.toml`), handed to the child process of a scheduled backup.
    pub file: Option<PathBuf>,
    /// Not a setting: the binary that takes scheduled backups in a child process (`troupe
    /// backup --scheduled`, ADR 0049). `main` sets it to its own executable; `None` (tests,
    /// benches) takes them in this process.
    pub backup_exe: Option<PathBuf>,
    /// Where active alerts are posted (`TROUPE_OPS_WEBHOOK_URL`; Slack/Discord-style JSON).
    pub ops_webhook_url: Option<Secret>,
    /// The communication plan's channels and texts (`TROUPE_OPS_CHANNEL`,
    /// `TROUPE_MAINTENANCE_CHANNEL`, `TROUPE_COMMS_*_TEMPLATE`).
    pub comms: CommsSettings,
    /// Turn a category off when its critical error-rate alert fires (`TROUPE_AUTO_ROLLBACK`).
    pub auto_rollback: bool,
    /// The memory baseline of the memory alert, in MiB (`TROUPE_MEMORY_BASELINE_MB`).
    pub memory_baseline_mb: Option<u64>,
    pub shadow_sample_rate: f64,
    pub shadow_max_concurrent: usize,
    pub shadow_timeout_ms: u64,
    pub flags: EnvFlags,
    pub targeting: BTreeMap<Category, Targeting>,
}

impl Config {
    /// Loads `file` (if given, or `./troupe.toml` when it exists) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let default_file = Path::new("troupe.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let file_values = match file {
            Some(path) => read_file(path)?,
            None => BTreeMap::new(),
        };
        let mut config = Self::from_sources(&file_values, std::env::vars())?;
        config.file = file.map(Path::to_path_buf);
        Ok(config)
    }

    /// Merges file values (already upper-cased keys) with environment variables (which win).
    pub fn from_sources<I>(file: &BTreeMap<String, String>, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut values: BTreeMap<String, String> = file.clone();
        let mut unknown = Vec::new();
        let mut hostname: Option<String> = None;
        for (key, value) in env {
            let upper = key.to_ascii_uppercase();
            if upper == "HOSTNAME" {
                hostname = Some(value.trim().to_owned());
            }
            if is_known(&upper) {
                values.insert(upper, value);
            } else if upper.starts_with("FEATURE_FLAG_") {
                if troupe_application::flags::FlagName::from_env_var(&upper).is_none() {
                    unknown.push(key);
                } else {
                    values.insert(upper, value);
                }
            } else if upper.starts_with("TROUPE_")
                && !RESERVED_PREFIXES.iter().any(|p| upper.starts_with(p))
            {
                unknown.push(key);
            }
        }
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(unknown_setting(first, "in the environment"));
        }
        let get = |name: &str| {
            values
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let data_dir = PathBuf::from(get("TROUPE_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url_given = get("TROUPE_DATABASE_URL");
        let database_url_is_default = database_url_given.is_none();
        let database_url = database_url_given
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("troupe.db").display()));
        if let Some(path) = database_url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            if path.split('?').next().unwrap_or_default().trim().is_empty() {
                return Err(invalid(
                    "TROUPE_DATABASE_URL",
                    "sqlite:// needs a file path, e.g. sqlite://./data/troupe.db (or leave it \
                     unset for the data directory's troupe.db)",
                ));
            }
        }
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "TROUPE_DATABASE_URL",
                "must start with sqlite:// or postgres://",
            ));
        }
        if values
            .get("TROUPE_PREFIX")
            .is_some_and(|raw| !raw.is_empty() && raw.trim().is_empty())
        {
            return Err(invalid(
                "TROUPE_PREFIX",
                "must be 1–10 characters without spaces (it is only whitespace)",
            ));
        }
        let prefix = get("TROUPE_PREFIX").unwrap_or_else(|| "!tz".into());
        if prefix.chars().count() > 10 || prefix.chars().any(char::is_whitespace) {
            return Err(invalid(
                "TROUPE_PREFIX",
                "must be 1–10 characters without spaces",
            ));
        }
        let mention_char = match get("TROUPE_MENTION_CHAR") {
            None => '@',
            Some(raw) => {
                let mut chars = raw.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_alphanumeric() && !c.is_whitespace() => c,
                    _ => {
                        return Err(invalid(
                            "TROUPE_MENTION_CHAR",
                            "must be one non-alphanumeric character",
                        ));
                    }
                }
            }
        };
        let bot_owners = match get("TROUPE_BOT_OWNERS") {
            None => BTreeSet::new(),
            Some(raw) => raw
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    UserId::parse(s)
                        .map_err(|e| invalid("TROUPE_BOT_OWNERS", format!("{:?}: {e}", s.trim())))
                })
                .collect::<Result<_, _>>()?,
        };
        let http_addr = get("TROUPE_HTTP_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| invalid("TROUPE_HTTP_ADDR", "must be host:port, e.g. 127.0.0.1:3000"))?;
        let age_gate = match get("TROUPE_AGE_GATE") {
            None => true,
            Some(raw) => troupe_application::flags::parse_bool(&raw)
                .ok_or_else(|| invalid("TROUPE_AGE_GATE", "must be on or off"))?,
        };
        let shards = match get("TROUPE_SHARDS") {
            None => None,
            Some(raw) => Some(parse_num(Some(raw), "TROUPE_SHARDS", 1u32, 1, 65_535)?),
        };
        let shard_range = match get("TROUPE_SHARD_RANGE") {
            None => None,
            Some(raw) => Some(parse_shard_range(&raw, shards)?),
        };
        let shard_range = match (get("TROUPE_SHARD_INDEX"), get("TROUPE_SHARD_PROCESSES")) {
            (None, None) => shard_range,
            (index, processes) => {
                if shard_range.is_some() {
                    return Err(invalid(
                        "TROUPE_SHARD_INDEX",
                        "set either TROUPE_SHARD_RANGE or TROUPE_SHARD_INDEX with \
                         TROUPE_SHARD_PROCESSES, not both",
                    ));
                }
                Some(shard_range_from_index(
                    index.as_deref(),
                    processes.as_deref(),
                    shards,
                    hostname.as_deref(),
                )?)
            }
        };
        let discord_gateway_url = match get("TROUPE_DISCORD_GATEWAY_URL") {
            None => None,
            Some(url) if url.starts_with("ws://") || url.starts_with("wss://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "TROUPE_DISCORD_GATEWAY_URL",
                    "must be a ws:// or wss:// URL, e.g. ws://127.0.0.1:9000",
                ));
            }
        };
        let discord_api_proxy = match get("TROUPE_DISCORD_API_PROXY") {
            None => None,
            Some(addr)
                if !addr.contains("://")
                    && addr.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok()
                    }) =>
            {
                Some(addr)
            }
            Some(_) => {
                return Err(invalid(
                    "TROUPE_DISCORD_API_PROXY",
                    "must be host:port without a scheme, e.g. 127.0.0.1:9000",
                ));
            }
        };
        let discord_dev_guild = get("TROUPE_DISCORD_DEV_GUILD")
            .map(|raw| {
                GuildId::parse(&raw).map_err(|e| invalid("TROUPE_DISCORD_DEV_GUILD", e.to_string()))
            })
            .transpose()?;
        let discord = parse_discord_settings(&get)?;
        let log_format = match get("TROUPE_LOG_FORMAT").as_deref() {
            None => None,
            Some("pretty") => Some(LogFormat::Pretty),
            Some("json") => Some(LogFormat::Json),
            Some(_) => return Err(invalid("TROUPE_LOG_FORMAT", "must be pretty or json")),
        };
        if let Some(filter) = get("TROUPE_LOG") {
            tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| {
                invalid(
                    "TROUPE_LOG",
                    format!("is not a log filter ({e}); e.g. info or troupe=debug,warn"),
                )
            })?;
        }
        let backup_dir =
            get("TROUPE_BACKUP_DIR").map_or_else(|| data_dir.join("backups"), PathBuf::from);
        let backup_keep = parse_num(
            get("TROUPE_BACKUP_KEEP"),
            "TROUPE_BACKUP_KEEP",
            30usize,
            BACKUP_KEEP_BOUNDS.0,
            BACKUP_KEEP_BOUNDS.1,
        )?;
        let on_off = |setting: &str, default: bool| match get(setting) {
            None => Ok(default),
            Some(raw) => troupe_application::flags::parse_bool(&raw)
                .ok_or_else(|| invalid(setting, "must be on or off")),
        };
        let backup_schedule = on_off("TROUPE_BACKUP_SCHEDULE", true)?;
        let auto_rollback = on_off("TROUPE_AUTO_ROLLBACK", false)?;
        let memory_baseline_mb = get("TROUPE_MEMORY_BASELINE_MB")
            .map(|raw| parse_num(Some(raw), "TROUPE_MEMORY_BASELINE_MB", 0u64, 1, 1_048_576))
            .transpose()?;
        let auto_migrate = on_off("TROUPE_AUTO_MIGRATE", false)?;
        let read_model = on_off("TROUPE_READ_MODEL", true)?;
        let sqlite_durability = match get("TROUPE_SQLITE_DURABILITY") {
            None => troupe_store::Durability::default(),
            Some(raw) => raw
                .parse()
                .map_err(|e: String| invalid("TROUPE_SQLITE_DURABILITY", e))?,
        };
        let admin_token = get("TROUPE_ADMIN_TOKEN");
        if let Some(token) = &admin_token
            && token.chars().count() < ADMIN_TOKEN_MIN_CHARS
        {
            return Err(invalid(
                "TROUPE_ADMIN_TOKEN",
                format!(
                    "must be at least {ADMIN_TOKEN_MIN_CHARS} characters (e.g. the output of \
                     `openssl rand -hex 32`)"
                ),
            ));
        }
        let token_key = get("TROUPE_TOKEN_KEY");
        if let Some(key) = &token_key {
            troupe_store::TokenKey::parse(key)
                .map_err(|e| invalid("TROUPE_TOKEN_KEY", e.to_string()))?;
        }
        let previous_token_keys: Vec<Secret> = get("TROUPE_TOKEN_KEY_PREVIOUS")
            .map(|raw| {
                raw.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| Secret::new(s.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        for key in &previous_token_keys {
            troupe_store::TokenKey::parse(key.expose())
                .map_err(|e| invalid("TROUPE_TOKEN_KEY_PREVIOUS", e.to_string()))?;
        }
        let ops_webhook_url = get("TROUPE_OPS_WEBHOOK_URL");
        if let Some(url) = &ops_webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("TROUPE_OPS_WEBHOOK_URL", "must be an http(s) URL"));
        }
        let comms = parse_comms_settings(&get)?;
        let shadow_sample_rate = match get("TROUPE_SHADOW_SAMPLE_RATE") {
            None => 1.0,
            Some(raw) => raw
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    invalid("TROUPE_SHADOW_SAMPLE_RATE", "must be a number from 0 to 1")
                })?,
        };
        let shadow_max_concurrent = parse_num(
            get("TROUPE_SHADOW_MAX_CONCURRENT"),
            "TROUPE_SHADOW_MAX_CONCURRENT",
            4usize,
            1,
            1024,
        )?;
        let shadow_timeout_ms = parse_num(
            get("TROUPE_SHADOW_TIMEOUT_MS"),
            "TROUPE_SHADOW_TIMEOUT_MS",
            5000u64,
            1,
            600_000,
        )?;
        for url_setting in ["TROUPE_AI_BASE_URL", "TROUPE_PROFILE_URL"] {
            if let Some(url) = get(url_setting)
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(invalid(url_setting, "must be an http(s) URL"));
            }
        }
        let ai = parse_ai_settings(&get)?;
        let flags = EnvFlags::from_vars(
            values
                .iter()
                .filter(|(k, _)| k.starts_with("FEATURE_FLAG_")),
        )
        .map_err(|e| match &e {
            troupe_application::flags::FlagEnvError::UnknownVariable(var)
            | troupe_application::flags::FlagEnvError::BadValue { var, .. } => {
                invalid(var, e.to_string())
            }
        })?;
        let mut targeting = BTreeMap::new();
        for category in Category::ALL {
            let upper = category.as_str().to_ascii_uppercase();
            let guilds_key = format!("TROUPE_ROLLOUT_{upper}_GUILDS");
            let pct_key = format!("TROUPE_ROLLOUT_{upper}_PERCENT");
            let guilds: BTreeSet<GuildId> = match get(&guilds_key) {
                None => BTreeSet::new(),
                Some(raw) => raw
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        GuildId::parse(s)
                            .map_err(|e| invalid(&guilds_key, format!("{:?}: {e}", s.trim())))
                    })
                    .collect::<Result<_, _>>()?,
            };
            let percentage = match get(&pct_key) {
                None => None,
                Some(raw) => Some(
                    raw.parse::<u8>()
                        .ok()
                        .filter(|p| *p <= 100)
                        .ok_or_else(|| invalid(&pct_key, "must be 0–100"))?,
                ),
            };
            if !guilds.is_empty() || percentage.is_some() {
                targeting.insert(category, Targeting { guilds, percentage });
            }
        }
        Ok(Self {
            discord_token: get("DISCORD_TOKEN").map(Secret::new),
            data_dir,
            database_url: Secret::new(database_url),
            prefix,
            mention_char,
            bot_owners,
            http_addr,
            database_url_is_default,
            auto_migrate,
            read_model,
            sqlite_durability,
            admin_token: admin_token.map(Secret::new),
            token_key: token_key.map(Secret::new),
            previous_token_keys,
            ai_base_url: get("TROUPE_AI_BASE_URL"),
            ai_api_key: get("TROUPE_AI_API_KEY").map(Secret::new),
            ai_model: get("TROUPE_AI_MODEL"),
            profile_url: get("TROUPE_PROFILE_URL"),
            ai_timeout_ms: ai.timeout_ms,
            ai_vision_models: ai.vision_models,
            ai_user_token_header: ai.user_token_header,
            oauth: ai.oauth,
            proxy_wait_ms: ai.proxy_wait_ms,
            pluralkit_url: ai.pluralkit_url,
            pluralkit_timeout_ms: ai.pluralkit_timeout_ms,
            age_gate,
            shards,
            shard_range,
            discord_gateway_url,
            discord_api_proxy,
            discord_dev_guild,
            discord,
            broker: crate::broker::parse_settings(&get)?,
            log_format,
            backup_dir,
            backup_keep,
            backup_schedule,
            file: None,
            backup_exe: None,
            ops_webhook_url: ops_webhook_url.map(Secret::new),
            comms,
            auto_rollback,
            memory_baseline_mb,
            shadow_sample_rate,
            shadow_max_concurrent,
            shadow_timeout_ms,
            flags,
            targeting,
        })
    }

    /// Tokio workers for a process that holds gateway shards (`run`, `gateway`; ADR 0050): one
    /// per shard it runs, at most one per core. The shards are known when `TROUPE_SHARDS` (and
    /// a range) say; with Discord's recommendation they are not known before the runtime starts,
    /// and one worker is assumed (the recommendation is one shard up to 2,500 guilds; the
    /// gateway logs when it starts more shards than workers).
    pub fn gateway_workers(&self, cores: usize) -> usize {
        let shards = match (&self.shard_range, self.shards) {
            (Some(range), _) => range.len(),
            (None, Some(total)) => usize::try_from(total).unwrap_or(usize::MAX),
            (None, None) => 1,
        };
        shards.clamp(1, cores.max(1))
    }

    /// The database URL with any password replaced, for messages.
    pub fn database_label(&self) -> String {
        redact_url(self.database_url.expose())
    }
}

/// `TROUPE_SHARD_RANGE`: `start..end` (end exclusive), inside `0..TROUPE_SHARDS`.
fn parse_shard_range(raw: &str, shards: Option<u32>) -> Result<std::ops::Range<u32>, ConfigError> {
    const SETTING: &str = "TROUPE_SHARD_RANGE";
    let (start, end) = raw
        .split_once("..")
        .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)))
        .ok_or_else(|| invalid(SETTING, "must be start..end, e.g. 0..4 (end exclusive)"))?;
    if start >= end {
        return Err(invalid(SETTING, "must not be empty (start < end)"));
    }
    let Some(total) = shards else {
        return Err(invalid(
            SETTING,
            "needs TROUPE_SHARDS (the total across all processes)",
        ));
    };
    if end > total {
        return Err(invalid(
            SETTING,
            format!("must lie within 0..{total} (TROUPE_SHARDS)"),
        ));
    }
    Ok(start..end)
}

/// The StatefulSet ordinal at the end of a host name: `troupe-2` → 2.
pub fn ordinal_of(host: &str) -> Option<u32> {
    let (_, digits) = host.trim().rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `TROUPE_SHARD_INDEX` (a number, or `hostname`: the ordinal ending the host name, as a
/// StatefulSet names its pods) of `TROUPE_SHARD_PROCESSES` processes dividing `TROUPE_SHARDS`:
/// this process's range, the shards divided evenly in order.
fn shard_range_from_index(
    index: Option<&str>,
    processes: Option<&str>,
    shards: Option<u32>,
    hostname: Option<&str>,
) -> Result<std::ops::Range<u32>, ConfigError> {
    const INDEX: &str = "TROUPE_SHARD_INDEX";
    const PROCESSES: &str = "TROUPE_SHARD_PROCESSES";
    let Some(processes) = processes else {
        return Err(invalid(
            INDEX,
            "needs TROUPE_SHARD_PROCESSES (how many processes divide the shards)",
        ));
    };
    let processes = parse_num(Some(processes.to_owned()), PROCESSES, 1u32, 1, 65_535)?;
    let Some(index) = index else {
        return Err(invalid(
            PROCESSES,
            "needs TROUPE_SHARD_INDEX (this process's index: a number or `hostname`)",
        ));
    };
    let index = if index.eq_ignore_ascii_case("hostname") {
        let host = hostname
            .map(str::to_owned)
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        ordinal_of(&host).ok_or_else(|| {
            invalid(
                INDEX,
                format!(
                    "`hostname` needs a host name ending in -<ordinal> (like troupe-2), not {:?}",
                    host.chars().take(64).collect::<String>()
                ),
            )
        })?
    } else {
        index.parse::<u32>().map_err(|_| {
            invalid(
                INDEX,
                "must be a number (0 for the first process) or `hostname`",
            )
        })?
    };
    let Some(total) = shards else {
        return Err(invalid(
            INDEX,
            "needs TROUPE_SHARDS (the total across all processes)",
        ));
    };
    if index >= processes {
        return Err(invalid(
            INDEX,
            format!("{index} is not below TROUPE_SHARD_PROCESSES ({processes})"),
        ));
    }
    troupe_ports::shard_range_of(index, processes, total).ok_or_else(|| {
        invalid(
            PROCESSES,
            format!(
                "{processes} processes cannot divide {total} shards (TROUPE_SHARDS): each needs one"
            ),
        )
    })
}

/// The Discord adapter's load, REST and restart settings (`TROUPE_DISCORD_*`,
/// `TROUPE_SHUTDOWN_GRACE_MS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordSettings {
    /// Commands handled at once (`TROUPE_DISCORD_COMMANDS_RUNNING`).
    pub commands_running: usize,
    /// Commands waiting per shard before new ones are answered "busy"
    /// (`TROUPE_DISCORD_COMMANDS_QUEUED`).
    pub commands_queued: usize,
    /// Other messages (AI exchanges) handled at once (`TROUPE_DISCORD_MESSAGES_RUNNING`).
    pub messages_running: usize,
    /// Messages waiting per shard before new ones are dropped and counted
    /// (`TROUPE_DISCORD_MESSAGES_QUEUED`).
    pub messages_queued: usize,
    /// Longest wait for one REST request (`TROUPE_DISCORD_REST_TIMEOUT_MS`).
    pub rest_timeout_ms: u64,
    /// Share Discord's global REST limit with every process of the store
    /// (`TROUPE_DISCORD_SHARED_LIMIT`; `None`: on with PostgreSQL, off with SQLite).
    pub shared_limit: Option<bool>,
    /// Longest wait between reconnect attempts (`TROUPE_DISCORD_RECONNECT_MAX_MS`).
    pub reconnect_max_ms: u64,
    /// How long shutdown waits for work already taken (`TROUPE_SHUTDOWN_GRACE_MS`).
    pub shutdown_grace_ms: u64,
    /// The spacing of IDENTIFYs per bucket of the fleet-wide identify queue
    /// (`TROUPE_DISCORD_IDENTIFY_INTERVAL_MS`; Discord's 5000 by default; shorter only
    /// against a fake Discord).
    pub identify_interval_ms: u64,
}

fn parse_discord_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<DiscordSettings, ConfigError> {
    let count = |name: &str, default: usize| parse_num(get(name), name, default, 1, 100_000);
    let shared_limit = match get("TROUPE_DISCORD_SHARED_LIMIT") {
        None => None,
        Some(raw) => Some(
            troupe_application::flags::parse_bool(&raw)
                .ok_or_else(|| invalid("TROUPE_DISCORD_SHARED_LIMIT", "must be on or off"))?,
        ),
    };
    Ok(DiscordSettings {
        commands_running: count("TROUPE_DISCORD_COMMANDS_RUNNING", 64)?,
        commands_queued: count("TROUPE_DISCORD_COMMANDS_QUEUED", 256)?,
        messages_running: count("TROUPE_DISCORD_MESSAGES_RUNNING", 1024)?,
        messages_queued: count("TROUPE_DISCORD_MESSAGES_QUEUED", 1024)?,
        identify_interval_ms: parse_num(
            get("TROUPE_DISCORD_IDENTIFY_INTERVAL_MS"),
            "TROUPE_DISCORD_IDENTIFY_INTERVAL_MS",
            5_000u64,
            100,
            60_000,
        )?,
        rest_timeout_ms: parse_num(
            get("TROUPE_DISCORD_REST_TIMEOUT_MS"),
            "TROUPE_DISCORD_REST_TIMEOUT_MS",
            15_000u64,
            100,
            600_000,
        )?,
        shared_limit,
        reconnect_max_ms: parse_num(
            get("TROUPE_DISCORD_RECONNECT_MAX_MS"),
            "TROUPE_DISCORD_RECONNECT_MAX_MS",
            10_000u64,
            100,
            600_000,
        )?,
        shutdown_grace_ms: parse_num(
            get("TROUPE_SHUTDOWN_GRACE_MS"),
            "TROUPE_SHUTDOWN_GRACE_MS",
            10_000u64,
            0,
            3_600_000,
        )?,
    })
}

/// Where the communication plan posts besides the ops webhook, and its texts (ADR 0023).
#[derive(Debug, Clone, Default)]
pub struct CommsSettings {
    /// The Discord channel the bot posts announcements and incident messages to.
    pub ops_channel: Option<ChannelId>,
    /// The channel the bot posts the user-facing maintenance notice to.
    pub maintenance_channel: Option<ChannelId>,
    pub templates: troupe_application::comms::Templates,
}

fn parse_comms_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<CommsSettings, ConfigError> {
    use troupe_application::comms::{
        ANNOUNCEMENT_FIELDS, INCIDENT_FIELDS, MAINTENANCE_FIELDS, Template,
    };
    let channel = |setting: &str| {
        get(setting)
            .map(|raw| {
                ChannelId::parse(raw.trim()).map_err(|e| {
                    invalid(
                        setting,
                        format!("{e} (a channel id, e.g. 1234567890123456789)"),
                    )
                })
            })
            .transpose()
    };
    let template = |setting: &str, fields: &[&str], default: Template| {
        get(setting).map_or(Ok(default), |raw| {
            Template::parse(&raw, fields).map_err(|e| invalid(setting, e.to_string()))
        })
    };
    let defaults = troupe_application::comms::Templates::default();
    Ok(CommsSettings {
        ops_channel: channel("TROUPE_OPS_CHANNEL")?,
        maintenance_channel: channel("TROUPE_MAINTENANCE_CHANNEL")?,
        templates: troupe_application::comms::Templates {
            announcement: template(
                "TROUPE_COMMS_ANNOUNCEMENT_TEMPLATE",
                ANNOUNCEMENT_FIELDS,
                defaults.announcement,
            )?,
            incident: template(
                "TROUPE_COMMS_INCIDENT_TEMPLATE",
                INCIDENT_FIELDS,
                defaults.incident,
            )?,
            maintenance: template(
                "TROUPE_COMMS_MAINTENANCE_TEMPLATE",
                MAINTENANCE_FIELDS,
                defaults.maintenance,
            )?,
        },
    })
}

/// The OAuth 2.0 client settings (`TROUPE_OAUTH_*`).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_url: String,
}

/// The AI-related settings beyond base URL, key, model and profile URL.
struct AiSettings {
    timeout_ms: u64,
    vision_models: Vec<String>,
    user_token_header: Option<String>,
    oauth: Option<OAuthSettings>,
    proxy_wait_ms: u64,
    pluralkit_url: Option<String>,
    pluralkit_timeout_ms: u64,
}

const OAUTH_SETTINGS: [&str; 5] = [
    "TROUPE_OAUTH_AUTHORIZE_URL",
    "TROUPE_OAUTH_TOKEN_URL",
    "TROUPE_OAUTH_CLIENT_ID",
    "TROUPE_OAUTH_CLIENT_SECRET",
    "TROUPE_OAUTH_REDIRECT_URL",
];

fn parse_ai_settings(get: &dyn Fn(&str) -> Option<String>) -> Result<AiSettings, ConfigError> {
    if let Some(model) = get("TROUPE_AI_MODEL") {
        troupe_domain::personality::ModelId::parse(&model)
            .map_err(|e| invalid("TROUPE_AI_MODEL", e.to_string()))?;
    }
    if let Some(url) = get("TROUPE_PROFILE_URL")
        && !url.contains("{name}")
    {
        return Err(invalid(
            "TROUPE_PROFILE_URL",
            "must contain {name}, e.g. https://profiles.example/api/{name}",
        ));
    }
    let timeout_ms = parse_num(
        get("TROUPE_AI_TIMEOUT_MS"),
        "TROUPE_AI_TIMEOUT_MS",
        60_000u64,
        100,
        600_000,
    )?;
    let proxy_wait_ms = parse_num(
        get("TROUPE_PROXY_WAIT_MS"),
        "TROUPE_PROXY_WAIT_MS",
        1_500u64,
        0,
        10_000,
    )?;
    let pluralkit_url = match get("TROUPE_PLURALKIT_URL") {
        // Opt-in: asking a third party about messages is the operator's decision (and tests
        // never reach the internet by accident).
        None => None,
        Some(off) if off.eq_ignore_ascii_case("off") => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Some(url),
        Some(_) => {
            return Err(invalid(
                "TROUPE_PLURALKIT_URL",
                "must be an http(s) URL (e.g. https://api.pluralkit.me/v2) or off",
            ));
        }
    };
    let pluralkit_timeout_ms = parse_num(
        get("TROUPE_PLURALKIT_TIMEOUT_MS"),
        "TROUPE_PLURALKIT_TIMEOUT_MS",
        2_000u64,
        100,
        10_000,
    )?;
    let vision_models = get("TROUPE_AI_VISION_MODELS")
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let user_token_header = get("TROUPE_AI_USER_TOKEN_HEADER");
    if let Some(header) = &user_token_header
        && !header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "TROUPE_AI_USER_TOKEN_HEADER",
            "must be an HTTP header name (letters, digits, -)",
        ));
    }
    let given: Vec<&str> = OAUTH_SETTINGS
        .iter()
        .copied()
        .filter(|s| get(s).is_some())
        .collect();
    let oauth = if given.is_empty() {
        None
    } else if let Some(missing) = OAUTH_SETTINGS.iter().find(|s| get(s).is_none()) {
        return Err(invalid(
            missing,
            format!("is required when {} is set", given[0]),
        ));
    } else {
        for setting in [OAUTH_SETTINGS[0], OAUTH_SETTINGS[1], OAUTH_SETTINGS[4]] {
            let url = get(setting).unwrap_or_default();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(setting, "must be an http(s) URL"));
            }
        }
        let value = |s: &str| get(s).unwrap_or_default();
        Some(OAuthSettings {
            authorize_url: value(OAUTH_SETTINGS[0]),
            token_url: value(OAUTH_SETTINGS[1]),
            client_id: value(OAUTH_SETTINGS[2]),
            client_secret: Secret::new(value(OAUTH_SETTINGS[3])),
            redirect_url: value(OAUTH_SETTINGS[4]),
        })
    };
    Ok(AiSettings {
        timeout_ms,
        vision_models,
        user_token_header,
        oauth,
        proxy_wait_ms,
        pluralkit_url,
        pluralkit_timeout_ms,
    })
}

pub(crate) fn parse_num<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
    raw: Option<String>,
    setting: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<T>()
            .ok()
            .filter(|v| *v >= min && *v <= max)
            .ok_or_else(|| invalid(setting, format!("must be a number from {min} to {max}"))),
    }
}

/// `scheme://user:password@host/db` → `scheme://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_owned(),
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let upper = key.to_ascii_uppercase();
        let known = is_known(&upper)
            || (upper.starts_with("FEATURE_FLAG_")
                && troupe_application::flags::FlagName::from_env_var(&upper).is_some());
        if !known {
            return Err(unknown_setting(&key, &format!("in {}", path.display())));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(","),
            _ => return Err(invalid(&key, "must be a string, number, boolean or list")),
        };
        out.insert(upper, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(
            &BTreeMap::new(),
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = load(&[]).unwrap();
        assert_eq!(c.prefix, "!tz");
        assert_eq!(c.mention_char, '@');
        assert!(c.age_gate);
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:3000");
        assert!(c.database_url.expose().starts_with("sqlite://"));
        assert!(c.database_url.expose().ends_with("troupe.db"));
        assert_eq!(c.sqlite_durability, troupe_store::Durability::PerOperation);
        let full = load(&[("TROUPE_SQLITE_DURABILITY", "full")]).unwrap();
        assert_eq!(full.sqlite_durability, troupe_store::Durability::Full);
    }

    #[test]
    fn a_gateway_process_gets_one_worker_per_shard_it_runs_up_to_the_cores() {
        assert_eq!(
            load(&[]).unwrap().gateway_workers(8),
            1,
            "Discord's recommendation"
        );
        assert_eq!(
            load(&[("TROUPE_SHARDS", "4")]).unwrap().gateway_workers(8),
            4
        );
        assert_eq!(
            load(&[("TROUPE_SHARDS", "64")]).unwrap().gateway_workers(8),
            8
        );
        let ranged = load(&[("TROUPE_SHARDS", "16"), ("TROUPE_SHARD_RANGE", "4..6")]).unwrap();
        assert_eq!(ranged.gateway_workers(8), 2);
        assert_eq!(ranged.gateway_workers(0), 1);
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            ("TROUPE_HTTP_ADDR", "not an address"),
            ("TROUPE_BOT_OWNERS", "12,abc"),
            ("TROUPE_AGE_GATE", "sometimes"),
            ("TROUPE_DATABASE_URL", "mysql://x"),
            ("TROUPE_MENTION_CHAR", "ab"),
            ("TROUPE_SHADOW_SAMPLE_RATE", "2"),
            ("TROUPE_ROLLOUT_PERSONALITY_PERCENT", "101"),
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "maybe"),
            ("FEATURE_FLAG_DDD_COMMANDS_WARP", "true"),
            ("TROUPE_SHARDS", "0"),
            ("TROUPE_DISCORD_GATEWAY_URL", "http://x"),
            ("TROUPE_DISCORD_API_PROXY", "http://127.0.0.1:1"),
            ("TROUPE_DISCORD_DEV_GUILD", "x"),
            ("TROUPE_LOG", "troupe=loud"),
            ("TROUPE_SQLITE_DURABILITY", "fsync"),
        ];
        for (setting, value) in cases {
            let err = load(&[(setting, value)]).unwrap_err().to_string();
            assert!(err.starts_with(setting), "{setting}: {err}");
        }
    }

    #[test]
    fn shards_come_from_an_index_or_a_statefulset_host_name() {
        let range = |env: &[(&str, &str)]| load(env).map(|c| c.shard_range);
        assert_eq!(
            range(&[
                ("TROUPE_SHARDS", "8"),
                ("TROUPE_SHARD_PROCESSES", "3"),
                ("TROUPE_SHARD_INDEX", "1")
            ])
            .unwrap(),
            Some(3..6)
        );
        assert_eq!(
            range(&[
                ("TROUPE_SHARDS", "8"),
                ("TROUPE_SHARD_PROCESSES", "3"),
                ("TROUPE_SHARD_INDEX", "hostname"),
                ("HOSTNAME", "troupe-2"),
            ])
            .unwrap(),
            Some(6..8)
        );
        assert_eq!(ordinal_of("troupe-gateway-12"), Some(12));
        assert_eq!(ordinal_of("troupe"), None);
        assert_eq!(ordinal_of("troupe-2a"), None);
        let refused = [
            (vec![("TROUPE_SHARD_INDEX", "0")], "TROUPE_SHARD_INDEX"),
            (
                vec![("TROUPE_SHARDS", "4"), ("TROUPE_SHARD_PROCESSES", "2")],
                "TROUPE_SHARD_PROCESSES",
            ),
            (
                vec![("TROUPE_SHARD_PROCESSES", "2"), ("TROUPE_SHARD_INDEX", "0")],
                "TROUPE_SHARD_INDEX",
            ),
            (
                vec![
                    ("TROUPE_SHARDS", "4"),
                    ("TROUPE_SHARD_PROCESSES", "2"),
                    ("TROUPE_SHARD_INDEX", "2"),
                ],
                "TROUPE_SHARD_INDEX",
            ),
            (
                vec![
                    ("TROUPE_SHARDS", "2"),
                    ("TROUPE_SHARD_PROCESSES", "3"),
                    ("TROUPE_SHARD_INDEX", "0"),
                ],
                "TROUPE_SHARD_PROCESSES",
            ),
            (
                vec![
                    ("TROUPE_SHARDS", "4"),
                    ("TROUPE_SHARD_PROCESSES", "2"),
                    ("TROUPE_SHARD_INDEX", "hostname"),
                    ("HOSTNAME", "web"),
                ],
                "TROUPE_SHARD_INDEX",
            ),
            (
                vec![
                    ("TROUPE_SHARDS", "4"),
                    ("TROUPE_SHARD_PROCESSES", "2"),
                    ("TROUPE_SHARD_INDEX", "x"),
                ],
                "TROUPE_SHARD_INDEX",
            ),
            (
                vec![
                    ("TROUPE_SHARDS", "4"),
                    ("TROUPE_SHARD_RANGE", "0..2"),
                    ("TROUPE_SHARD_PROCESSES", "2"),
                    ("TROUPE_SHARD_INDEX", "0"),
                ],
                "TROUPE_SHARD_INDEX",
            ),
        ];
        for (env, setting) in refused {
            let err = load(&env).unwrap_err().to_string();
            assert!(err.starts_with(setting), "{env:?}: {err}");
        }
    }

    #[test]
    fn shard_settings_are_validated_and_name_the_setting() {
        let c = load(&[("TROUPE_SHARDS", "8"), ("TROUPE_SHARD_RANGE", "4..8")]).unwrap();
        assert_eq!((c.shards, c.shard_range), (Some(8), Some(4..8)));
        for (shards, range) in [("8", "4..9"), ("8", "3..3"), ("8", "a..b"), ("", "0..1")] {
            let err = load(&[("TROUPE_SHARDS", shards), ("TROUPE_SHARD_RANGE", range)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("TROUPE_SHARD_RANGE"), "{range}: {err}");
        }
        let c = load(&[
            ("TROUPE_DISCORD_GATEWAY_URL", "ws://127.0.0.1:9000/"),
            ("TROUPE_DISCORD_API_PROXY", "127.0.0.1:9000"),
        ])
        .unwrap();
        assert_eq!(
            c.discord_gateway_url.as_deref(),
            Some("ws://127.0.0.1:9000")
        );
        assert_eq!(c.discord_api_proxy.as_deref(), Some("127.0.0.1:9000"));
    }

    #[test]
    fn ai_and_oauth_settings_are_validated_naming_the_setting() {
        let cases: [&[(&str, &str)]; 8] = [
            &[("TROUPE_PLURALKIT_URL", "api.pluralkit.me")],
            &[("TROUPE_PLURALKIT_TIMEOUT_MS", "60000")],
            &[("TROUPE_AI_TIMEOUT_MS", "0")],
            &[("TROUPE_AI_MODEL", "bad model!")],
            &[("TROUPE_PROFILE_URL", "https://p.example/api")],
            &[("TROUPE_AI_USER_TOKEN_HEADER", "X Token")],
            &[("TROUPE_PROXY_WAIT_MS", "-1")],
            &[("TROUPE_OAUTH_CLIENT_ID", "abc")],
        ];
        let expected = [
            "TROUPE_PLURALKIT_URL",
            "TROUPE_PLURALKIT_TIMEOUT_MS",
            "TROUPE_AI_TIMEOUT_MS",
            "TROUPE_AI_MODEL",
            "TROUPE_PROFILE_URL",
            "TROUPE_AI_USER_TOKEN_HEADER",
            "TROUPE_PROXY_WAIT_MS",
            "TROUPE_OAUTH_AUTHORIZE_URL",
        ];
        for (env, setting) in cases.iter().zip(expected) {
            let err = load(env).unwrap_err().to_string();
            assert!(err.starts_with(setting), "{setting}: {err}");
        }
        let c = load(&[
            ("TROUPE_AI_VISION_MODELS", "gpt-4o, llava "),
            ("TROUPE_OAUTH_AUTHORIZE_URL", "https://p.example/authorize"),
            ("TROUPE_OAUTH_TOKEN_URL", "https://p.example/token"),
            ("TROUPE_OAUTH_CLIENT_ID", "troupe"),
            ("TROUPE_OAUTH_CLIENT_SECRET", "cs-0001"),
            ("TROUPE_OAUTH_REDIRECT_URL", "https://p.example/code"),
        ])
        .unwrap();
        assert_eq!(c.ai_vision_models, ["gpt-4o", "llava"]);
        assert_eq!(
            c.pluralkit_url, None,
            "PluralKit is asked only when configured"
        );
        let public = load(&[("TROUPE_PLURALKIT_URL", troupe_ai::PLURALKIT_API)]).unwrap();
        assert_eq!(
            public.pluralkit_url.as_deref(),
            Some(troupe_ai::PLURALKIT_API)
        );
        assert_eq!(c.pluralkit_timeout_ms, 2_000);
        let off = load(&[("TROUPE_PLURALKIT_URL", "OFF")]).unwrap();
        assert_eq!(off.pluralkit_url, None, "off: PluralKit is not asked");
        assert_eq!(c.ai_timeout_ms, 60_000);
        assert_eq!(c.proxy_wait_ms, 1_500);
        assert_eq!(c.oauth.as_ref().unwrap().client_id, "troupe");
        assert!(!format!("{c:?}").contains("cs-0001"));
    }

    #[test]
    fn secrets_never_print() {
        let c = load(&[
            ("DISCORD_TOKEN", "tok-123"),
            (
                "TROUPE_ADMIN_TOKEN",
                "adm-456-0123456789abcdef0123456789abcdef",
            ),
            ("TROUPE_AI_API_KEY", "key-789"),
            ("TROUPE_DATABASE_URL", "postgres://u:pw-000@h/db"),
        ])
        .unwrap();
        let dump = format!("{c:?}");
        for secret in ["tok-123", "adm-456", "key-789", "pw-000"] {
            assert!(!dump.contains(secret), "{secret} leaked");
        }
        assert_eq!(c.database_label(), "postgres://u:***@h/db");
    }

    #[test]
    fn the_environment_beats_the_file_and_unknown_file_keys_are_refused() {
        let file = BTreeMap::from([("TROUPE_PREFIX".to_owned(), "!file".to_owned())]);
        let c =
            Config::from_sources(&file, [("TROUPE_PREFIX".to_owned(), "!env".to_owned())]).unwrap();
        assert_eq!(c.prefix, "!env");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("troupe.toml");
        std::fs::write(&path, "troupe_prefix = \"!t\"\nfeature_flag_ddd_commands_enabled = true\ntroupe_bot_owners = [\"42\"]\n").unwrap();
        let values = read_file(&path).unwrap();
        let c = Config::from_sources(&values, Vec::new()).unwrap();
        assert_eq!(c.prefix, "!t");
        assert_eq!(
            c.flags.get(troupe_application::flags::FlagName::Enabled),
            Some(true)
        );
        assert_eq!(c.bot_owners.len(), 1);
        std::fs::write(&path, "troupe_prefx = \"!t\"\n").unwrap();
        assert!(
            read_file(&path)
                .unwrap_err()
                .to_string()
                .starts_with("troupe_prefx")
        );
        std::fs::write(&path, "this is not toml").unwrap();
        assert!(matches!(read_file(&path), Err(ConfigError::File { .. })));
    }

    #[test]
    fn unknown_variables_are_errors_naming_them_with_a_did_you_mean() {
        let cases = [
            (
                "TROUPE_ROLLOUT_UTILTY_PERCENT",
                Some("TROUPE_ROLLOUT_UTILITY_PERCENT"),
            ),
            ("TROUPE_PREFX", Some("TROUPE_PREFIX")),
            (
                "TROUPE_TOKEN_KEYS_PREVIOUS",
                Some("TROUPE_TOKEN_KEY_PREVIOUS"),
            ),
            ("troupe_data_dri", Some("TROUPE_DATA_DIR")),
            (
                "FEATURE_FLAG_DDD_COMMANDS_UTILTY",
                Some("FEATURE_FLAG_DDD_COMMANDS_UTILITY"),
            ),
            ("TROUPE_SOMETHING_ELSE_ENTIRELY", None),
        ];
        for (var, suggestion) in cases {
            let err = load(&[(var, "1")]).unwrap_err().to_string();
            assert!(err.starts_with(var), "{var}: {err}");
            match suggestion {
                Some(known) => assert!(err.contains(&format!("did you mean {known}?")), "{err}"),
                None => assert!(!err.contains("did you mean"), "{err}"),
            }
        }
        // Other programs' variables and the test harnesses' are not Troupe's business.
        let c = load(&[
            ("PATH", "/bin"),
            ("TROUPE_TEST_POSTGRES_URL", "postgres://x@h/db"),
            ("TROUPE_BENCH_POSTGRES_URL", "postgres://x@h/db"),
            ("TROUPE_LOG", "debug"),
            ("TROUPE_URL", "http://127.0.0.1:3000"),
            ("TROUPE_DEPLOY_IMAGE", "0"),
            ("TROUPE_BINARY", "/usr/local/bin/troupe"),
        ]);
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn strict_values_are_refused_naming_the_setting() {
        let key = troupe_store::TokenKey::from_bytes([7; 32]).to_base64();
        let short = "a".repeat(ADMIN_TOKEN_MIN_CHARS - 1);
        let cases: [(&str, &str); 8] = [
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "yes"),
            ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "no"),
            ("TROUPE_AUTO_ROLLBACK", "yes"),
            ("TROUPE_PREFIX", " \t "),
            ("TROUPE_ADMIN_TOKEN", &short),
            ("TROUPE_TOKEN_KEY", "not base64!"),
            ("TROUPE_TOKEN_KEY_PREVIOUS", "short"),
            ("TROUPE_DATABASE_URL", "sqlite://"),
        ];
        for (setting, value) in cases {
            let err = load(&[(setting, value)]).unwrap_err().to_string();
            assert!(err.starts_with(setting), "{setting}={value:?}: {err}");
        }
        let long = "a".repeat(ADMIN_TOKEN_MIN_CHARS);
        let c = load(&[
            ("TROUPE_ADMIN_TOKEN", long.as_str()),
            ("TROUPE_TOKEN_KEY", key.as_str()),
            ("TROUPE_TOKEN_KEY_PREVIOUS", key.as_str()),
            ("TROUPE_AUTO_MIGRATE", "on"),
        ])
        .unwrap();
        assert_eq!(c.previous_token_keys.len(), 1);
        assert!(c.auto_migrate);
        assert!(c.database_url_is_default);
    }
}
