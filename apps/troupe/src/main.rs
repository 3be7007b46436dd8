//! `troupe`: the command line of the Troupe bot — the console, migrations, runtime feature
//! flags, and (as they land) backups, restore, integrity check, comparison and import.
//! Thin: configuration and wiring only; every rule lives in the library crates.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use troupe_application::flags::{ACTOR_MAX_CHARS, FlagName, Flags, REASON_MAX_CHARS, show_value};
use troupe_ports::{Clock, SystemClock};

use troupe::config::Config;
use troupe::exit::{self, UsageError};
use troupe::{outln, wiring};

#[derive(Debug, Parser)]
#[command(
    name = "troupe",
    version,
    about = "Troupe: a Discord bot hosting AI personalities, with a safe, flag-driven migration between two command systems.",
    after_help = exit::HELP
)]
struct Cli {
    /// Configuration file (default: ./troupe.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Discord bot (needs DISCORD_TOKEN); stops gracefully on SIGTERM or SIGINT.
    Run {
        /// Turn off the client-side REST rate limiter (only against a fake Discord or a proxy
        /// that enforces Discord's limits itself).
        #[arg(long, hide = true)]
        no_rest_ratelimit: bool,
    },
    /// Gateway/worker mode: hold this process's gateway shards and publish their events to
    /// NATS JetStream (TROUPE_NATS_URL) for `troupe worker` processes, handling none here.
    Gateway {
        #[arg(long, hide = true)]
        no_rest_ratelimit: bool,
    },
    /// Gateway/worker mode: handle the events `troupe gateway` publishes to NATS JetStream
    /// (commands, conversations, replies); start, stop and scale workers freely.
    Worker {
        #[arg(long, hide = true)]
        no_rest_ratelimit: bool,
    },
    /// Talk to Troupe in this terminal, without Discord (SQLite in the data directory by default).
    Console {
        /// Also serve health, metrics and the admin API on TROUPE_HTTP_ADDR, with scheduled
        /// backups; keeps serving after the end of input until SIGINT/SIGTERM.
        #[arg(long)]
        http: bool,
    },
    /// Apply pending database migrations after a verified backup (`run`/`console` apply them
    /// themselves only on SQLite or with TROUPE_AUTO_MIGRATE=true; other commands never do).
    #[command(
        after_help = "Exit codes: 0 migrated (or nothing to do), 1 failed (taking the backup, or a migration: the message says which), 2 the database is newer than this binary (deploy the newer binary, or restore the pre-upgrade backup), 3 (--check) migrations are pending."
    )]
    Migrate {
        /// Only report: exit 0 when the schema is current, 3 when migrations are pending, 2
        /// when the database is newer than this binary.
        #[arg(long)]
        check: bool,
    },
    /// Show or change runtime feature flags (takes effect in every running process within 1 s).
    Flags {
        #[command(subcommand)]
        action: FlagsAction,
    },
    /// Run the comparison corpus through the legacy and the new command system on copies of a
    /// store; print a parity table per command and every mismatch. Exit 1 on any mismatch.
    Compare {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a consistent online backup of the store, verified before it counts; then retention.
    Backup(troupe::commands::backup::BackupArgs),
    /// Restore a backup (either format, from either backend) after a safety backup.
    Restore(troupe::commands::restore::RestoreArgs),
    /// Verify data integrity: the database and the application invariants.
    Check(troupe::commands::check::CheckArgs),
    /// Import the original bot's JSON data files into the store (idempotent).
    ImportLegacy(troupe::commands::import_legacy::ImportLegacyArgs),
    /// Production smoke test of a running Troupe: health endpoints, metrics, and with the admin
    /// token one command per category.
    Smoke(troupe::commands::smoke::SmokeArgs),
    /// The processes sharing this store (a fleet): id, host, version, shards, gateway state,
    /// applied flag version, last seen; who lags behind a flag change, shard overlaps and gaps.
    #[command(
        after_help = "Exit codes: 0 listed, 1 the store cannot be read, 3 (--check) a process has not applied the newest flag change within 1 s, or the shards overlap or have gaps."
    )]
    Fleet {
        /// Print the view as JSON (the document of GET /health/fleet).
        #[arg(long)]
        json: bool,
        /// Exit 3 when a process lags or the shard division has overlaps or gaps.
        #[arg(long)]
        check: bool,
    },
    /// Print a new random token key for TROUPE_TOKEN_KEY.
    Keygen,
    /// Stored tokens: re-encrypt them under the current key after a key rotation.
    Tokens {
        #[command(subcommand)]
        action: troupe::commands::tokens::TokensAction,
    },
}

#[derive(Debug, Subcommand)]
enum FlagsAction {
    /// Every flag with its effective value and source (runtime, environment, default).
    List,
    /// Set a runtime value, e.g. `troupe flags set ddd.commands.enabled false --reason "rollback"`.
    Set {
        /// Flag name, e.g. ddd.commands.personality.
        name: String,
        /// true/false, on/off, 1/0.
        value: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Who (kept in the audit log); default: the OS user.
        #[arg(long)]
        actor: Option<String>,
        /// Wait until every live process of the fleet applied the change (up to MS
        /// milliseconds, default 5000) and name those that did not (exit 4).
        #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "5000")]
        confirm: Option<u64>,
    },
    /// Remove a runtime value so the environment or default applies again.
    Unset {
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        actor: Option<String>,
        /// Wait until every live process of the fleet applied the change (up to MS
        /// milliseconds, default 5000) and name those that did not (exit 4).
        #[arg(long, value_name = "MS", num_args = 0..=1, default_missing_value = "5000")]
        confirm: Option<u64>,
    },
    /// The newest entries of the flag audit log.
    Audit {
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

/// mimalloc returns the memory of a burst to the system (issue 13; docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("troupe: invalid configuration: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    // Scheduled backups (in `run` and `console --http`) run in a child process of this binary
    // (ADR 0049). Without a path to it, they run in this process.
    config.backup_exe = std::env::current_exe().ok();
    init_logging(
        &config,
        matches!(
            cli.command,
            Command::Console { .. } | Command::Compare { .. }
        ),
    );
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // A process holding gateway shards gets one worker per shard it runs (ADR 0050), unless
    // TOKIO_WORKER_THREADS says otherwise (tokio reads it when no count is set here).
    if matches!(cli.command, Command::Run { .. } | Command::Gateway { .. })
        && std::env::var_os("TOKIO_WORKER_THREADS").is_none()
    {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        builder.worker_threads(config.gateway_workers(cores));
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("troupe: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        // The reader of our output went away (`troupe flags list | head -1`): it had all it
        // wanted; end quietly.
        Err(e) if exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("troupe: {e:#}");
            exit::code_of(&e)
        }
    }
}

fn init_logging(config: &Config, console: bool) {
    troupe::telemetry::init(config, console);
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { no_rest_ratelimit } => {
            let options = troupe::run::RunOptions {
                no_rest_ratelimit,
                ..troupe::run::RunOptions::default()
            };
            troupe::run::run(config, options).await
        }
        Command::Gateway { no_rest_ratelimit } => {
            let options = troupe::run::RunOptions {
                no_rest_ratelimit,
                ..troupe::run::RunOptions::default()
            };
            troupe::gateway::run(config, options).await
        }
        Command::Worker { no_rest_ratelimit } => {
            let options = troupe::run::RunOptions {
                no_rest_ratelimit,
                ..troupe::run::RunOptions::default()
            };
            troupe::worker::run(config, options).await
        }
        Command::Console { http } => {
            troupe::http_wiring::console(config, http).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { check } => migrate(&config, check).await,
        Command::Flags { action } => flags(action, config).await,
        Command::Backup(args) => troupe::commands::backup::run(args, &config).await,
        Command::Restore(args) => troupe::commands::restore::run(args, &config).await,
        Command::Check(args) => troupe::commands::check::run(args, &config).await,
        Command::ImportLegacy(args) => troupe::commands::import_legacy::run(args, &config).await,
        Command::Smoke(args) => troupe::commands::smoke::run(args, &config.prefix).await,
        Command::Keygen => troupe::commands::keygen::run(),
        Command::Fleet { json, check } => fleet(&config, json, check).await,
        Command::Tokens { action } => troupe::commands::tokens::run(action, &config).await,
        Command::Compare { json } => {
            let report = troupe::commands::compare::run_corpus().await?;
            if json {
                outln!("{}", troupe::commands::compare::render_json(&report));
            } else {
                troupe::out!("{}", troupe::commands::compare::render_text(&report));
            }
            Ok(if report.is_full_parity() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(exit::FAILED)
            })
        }
    }
}

/// `troupe fleet [--json] [--check]`.
async fn fleet(config: &Config, json: bool, check: bool) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let status = troupe::fleet::status(&store, &SystemClock).await?;
    if json {
        outln!("{}", troupe_http::health::fleet_document(&status));
    } else {
        troupe::out!("{}", troupe::fleet::render_text(&status));
    }
    Ok(if check && !status.is_healthy() {
        ExitCode::from(exit::FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

/// Waits up to `ms` until every live process applied the change just stored (exit 0), else
/// names those that did not (exit 4: the change is stored and keeps spreading).
async fn confirm_change(store: &troupe_store::Store, ms: u64) -> anyhow::Result<ExitCode> {
    use troupe_ports::FlagStore as _;
    if ms > 600_000 {
        return Err(UsageError::new("--confirm: wait at most 600000 ms").into());
    }
    let version = store.version().await?;
    let confirmation =
        troupe::fleet::confirm(store, version, std::time::Duration::from_millis(ms)).await?;
    outln!("{}", troupe::fleet::render_confirmation(&confirmation));
    Ok(if confirmation.confirmed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::NOT_CONFIRMED)
    })
}

/// `troupe migrate [--check]`.
async fn migrate(config: &Config, check: bool) -> anyhow::Result<ExitCode> {
    let store = wiring::connect_store(config).await?;
    let status = store.schema_status().await?;
    let label = config.database_label();
    if let Some(message) = status.newer_message(Some(&label)) {
        return Err(UsageError::new(message).into());
    }
    if status.is_current() {
        outln!(
            "database {label} is at schema version {} (current); nothing to do",
            status.applied
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (version, description) in &status.pending {
        outln!("pending: {version:04} {description}");
    }
    if check {
        outln!(
            "database {label} is at schema version {}; this troupe needs {}: run `troupe migrate`",
            status.applied,
            status.latest
        );
        return Ok(ExitCode::from(exit::FOUND));
    }
    let backup = wiring::apply_migrations(config, &store, &status).await?;
    if let Some(file) = backup {
        outln!("verified backup before migrating: {}", file.display());
    }
    outln!(
        "database {label} migrated from schema version {} to {}",
        status.applied,
        store.schema_version().await?
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks an audit field given on the command line: not blank (the reason), bounded, no
/// control characters (a newline or an escape sequence could forge an audit line).
fn audit_field(setting: &str, value: &str, max: usize) -> Result<(), UsageError> {
    troupe_application::flags::check_audit_text(setting, value, max).map_err(UsageError::new)
}

/// A refused flag change is a usage error (exit 2); a store failure is not (exit 1).
fn flag_error(e: troupe_application::flags::FlagError) -> anyhow::Error {
    use troupe_application::flags::FlagError;
    match e {
        FlagError::Store(e) => anyhow::Error::new(e).context("the flag change was not stored"),
        refused @ (FlagError::UnknownFlag(_)
        | FlagError::MissingReason
        | FlagError::InvalidAudit(_)) => UsageError::new(refused.to_string()).into(),
    }
}

async fn flags(action: FlagsAction, config: Config) -> anyhow::Result<ExitCode> {
    let writes = matches!(action, FlagsAction::Set { .. } | FlagsAction::Unset { .. });
    if let FlagsAction::Set {
        reason, actor: who, ..
    }
    | FlagsAction::Unset {
        reason, actor: who, ..
    } = &action
    {
        audit_field("--reason", reason, REASON_MAX_CHARS)?;
        if let Some(who) = who {
            audit_field("--actor", who, ACTOR_MAX_CHARS)?;
        }
    }
    let store = Arc::new(if writes {
        wiring::open_store_migrating(&config).await?
    } else {
        wiring::open_store(&config).await?
    });
    let flags = Flags::load(
        config.flags.clone(),
        config.targeting.clone(),
        Arc::clone(&store) as Arc<dyn troupe_ports::FlagStore>,
    )
    .await?;
    let actor = |given: Option<String>| {
        given
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "cli".into())
    };
    match action {
        FlagsAction::List => {
            let snapshot = flags.snapshot();
            for (flag, value, source) in snapshot.entries() {
                outln!("{:<40} {:<5} ({})", flag.key(), value, source.as_str());
            }
        }
        FlagsAction::Set {
            name,
            value,
            reason,
            actor: who,
            confirm,
        } => {
            let Some(parsed) = troupe_application::flags::parse_bool(&value) else {
                eprintln!("troupe: {value:?} is not a flag value; use true/false, on/off or 1/0");
                return Ok(ExitCode::from(exit::USAGE));
            };
            let Some(flag) = FlagName::parse(&name) else {
                eprintln!("troupe: unknown flag {name:?}; `troupe flags list` shows them all");
                return Ok(ExitCode::from(exit::USAGE));
            };
            let before = flags
                .change(&name, Some(parsed), &actor(who), &reason, SystemClock.now())
                .await
                .map_err(flag_error)?;
            outln!("{} {before} -> {parsed} (runtime)", flag.key());
            if let Some(ms) = confirm {
                return confirm_change(&store, ms).await;
            }
        }
        FlagsAction::Unset {
            name,
            reason,
            actor: who,
            confirm,
        } => {
            let Some(flag) = FlagName::parse(&name) else {
                eprintln!("troupe: unknown flag {name:?}; `troupe flags list` shows them all");
                return Ok(ExitCode::from(exit::USAGE));
            };
            let before = flags
                .change(&name, None, &actor(who), &reason, SystemClock.now())
                .await
                .map_err(flag_error)?;
            let snapshot = flags.snapshot();
            outln!(
                "{} {before} -> {} ({})",
                flag.key(),
                snapshot.get(flag),
                snapshot.source(flag).as_str()
            );
            if let Some(ms) = confirm {
                return confirm_change(&store, ms).await;
            }
        }
        FlagsAction::Audit { limit } => {
            for entry in flags.audit(limit).await? {
                // Entries written before the bounds (or by another tool) may hold control
                // characters: escaped, so one entry is one line.
                let clean = |text: &str| text.escape_default().to_string();
                outln!(
                    "{} {} {} -> {} by {}: {}",
                    entry.at,
                    entry.name,
                    show_value(entry.old),
                    show_value(entry.new),
                    clean(&entry.actor),
                    clean(&entry.reason)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
