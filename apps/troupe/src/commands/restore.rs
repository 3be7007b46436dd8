//! `troupe restore <file>`: verifies a backup completely, takes a safety backup of the current
//! content, then replaces the store's content with the backup's in one transaction.
//!
//! Exit codes: 0 restored; 1 failed; 3 refused: the file is not an intact Troupe backup (or its
//! schema differs), and the store was not touched.

use std::path::PathBuf;
use std::process::ExitCode;

use troupe_store::MaintenanceError;

use crate::config::Config;

/// The file is not an intact backup; nothing changed.
pub const REFUSED: u8 = 3;

/// Options of `troupe restore`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 restored, 1 failed, 2 invalid configuration or usage (e.g. pending migrations), 3 refused (not an intact backup; the store is untouched).\n\
Stop every `troupe run` process using the store first. A safety backup of the current content is taken before anything changes.\n\
Example: troupe restore data/backups/troupe-20250614T103000Z-sqlite.sqlite"
)]
pub struct RestoreArgs {
    /// The backup file (its `.manifest.json` must be next to it).
    pub file: PathBuf,
    /// Where the safety backup goes (default: TROUPE_BACKUP_DIR).
    #[arg(long, value_name = "DIR")]
    pub safety_dir: Option<PathBuf>,
}

pub async fn run(args: RestoreArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let safety = args.safety_dir.unwrap_or_else(|| config.backup_dir.clone());
    eprintln!("[1/3] opening {}", config.database_label());
    let store = crate::wiring::open_store(config).await?;
    eprintln!(
        "[2/3] verifying {} (manifest, size, sha256, format, schema, rows)",
        args.file.display()
    );
    let verified = match store.verify_backup(&args.file).await {
        Ok(verified) => verified,
        Err(e @ MaintenanceError::Refused { .. }) => {
            eprintln!("troupe: {e}");
            eprintln!("troupe: the store was not touched");
            return Ok(ExitCode::from(REFUSED));
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "[3/3] safety backup into {}, then restoring in one transaction",
        safety.display()
    );
    match store.restore_verified(verified, &safety).await {
        Ok(report) => {
            let rows: u64 = report.rows.values().sum();
            crate::outln!(
                "restored {} ({} backup of {}, {rows} rows); safety backup of the previous content: {}",
                args.file.display(),
                report.restored.backend,
                report.restored.created_at,
                report.safety_backup.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ MaintenanceError::Refused { .. }) => {
            eprintln!("troupe: {e}");
            eprintln!("troupe: the store was not touched");
            Ok(ExitCode::from(REFUSED))
        }
        Err(e) => Err(e.into()),
    }
}
