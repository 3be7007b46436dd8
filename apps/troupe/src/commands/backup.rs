//! `troupe backup`: a consistent online backup of the store, verified before it counts, then
//! retention.
//!
//! Exit codes: 0 the backup was taken and verified; 1 it failed (nothing counts as a backup).

use std::path::PathBuf;
use std::process::ExitCode;

use troupe_store::{BackupFormat, Pace, prune_backups};

use crate::config::Config;

/// Options of `troupe backup`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 backup taken and verified, 1 failed, 2 invalid configuration or usage (e.g. --keep outside 1–10000, pending migrations).\n\
Example: troupe backup --dir /var/backups/troupe --keep 30"
)]
pub struct BackupArgs {
    /// Directory of the backups (default: TROUPE_BACKUP_DIR, i.e. <data dir>/backups).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// `sqlite` (a compact snapshot, SQLite stores only) or `portable` (JSON lines, restorable
    /// into SQLite or PostgreSQL). Default: sqlite for SQLite, portable for PostgreSQL.
    #[arg(long, value_parser = ["sqlite", "portable"])]
    pub format: Option<String>,
    /// Backups kept afterwards, newest first, 1–10000 (default: TROUPE_BACKUP_KEEP).
    #[arg(long, value_name = "N", value_parser = parse_keep)]
    pub keep: Option<usize>,
    /// The running bot's scheduled backup (ADR 0049): paced to keep out of the way of the
    /// commands it answers, no progress lines, one JSON object on standard output.
    #[arg(long, hide = true, conflicts_with = "format")]
    pub scheduled: bool,
}

/// `--keep`: the bounds of `TROUPE_BACKUP_KEEP`.
fn parse_keep(raw: &str) -> Result<usize, String> {
    let (min, max) = crate::config::BACKUP_KEEP_BOUNDS;
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a number from {min} to {max} (as TROUPE_BACKUP_KEEP)"))
}

pub async fn run(args: BackupArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| config.backup_dir.clone());
    let keep = args.keep.unwrap_or(config.backup_keep);
    if args.scheduled {
        return scheduled(config, &dir, keep).await;
    }
    eprintln!("[1/3] opening {}", config.database_label());
    let store = crate::wiring::open_store(config).await?;
    eprintln!(
        "[2/3] taking a consistent online backup into {} and verifying it",
        dir.display()
    );
    let started = std::time::Instant::now();
    let manifest = match args.format.as_deref() {
        Some("portable") => {
            store
                .backup_with(&dir, BackupFormat::Portable, Pace::Full)
                .await?
        }
        Some(_) => {
            store
                .backup_with(&dir, BackupFormat::SqliteSnapshot, Pace::Full)
                .await?
        }
        None => store.backup(&dir).await?,
    };
    eprintln!("[3/3] retention: keeping the newest {keep}");
    let pruned = prune_backups(&dir, keep)?;
    let rows: u64 = manifest.rows.values().sum();
    crate::outln!(
        "backup {} verified: {} bytes, {rows} rows, sha256 {}, schema version {} ({} ms)",
        dir.join(&manifest.file).display(),
        manifest.size,
        manifest.sha256,
        manifest.schema_version,
        started.elapsed().as_millis()
    );
    for file in pruned {
        crate::outln!("pruned {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `troupe backup --scheduled`: what the bot's backup scheduler runs in a child process.
async fn scheduled(
    config: &Config,
    dir: &std::path::Path,
    keep: usize,
) -> anyhow::Result<ExitCode> {
    let store = crate::wiring::open_store(config).await?;
    let manifest = store.backup_in_background(dir).await?;
    let report = crate::backups::ScheduledReport {
        file: manifest.file,
        size: manifest.size,
        pruned: crate::backups::retain(dir, keep),
    };
    crate::outln!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
