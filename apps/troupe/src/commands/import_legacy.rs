//! `troupe import-legacy <data dir>`: reads the original bot's JSON data files into the store,
//! idempotently, and reports what was imported, what was skipped and why, and every field
//! dropped or altered per personality (`--strict` refuses the import instead).
//!
//! Exit codes: 0 imported (skipped entries are listed, not an error); 1 failed: a file is
//! malformed or the store failed, and nothing was imported.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

/// Options of `troupe import-legacy`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Reads personalities.json (both formats), aliases.json, auth_tokens.json, nsfw_verified.json, conversations.json, message_map.json, channel_activations.json, auto_response.json and releaseNotificationPreferences.json; absent files are fine. Running it twice imports nothing new.\n\
With --strict, an import that would skip an entry or drop or alter a field is refused and nothing is written.\n\
Exit codes: 0 imported (skipped entries and altered fields listed), 1 failed or refused by --strict (nothing imported), 2 invalid usage."
)]
pub struct ImportLegacyArgs {
    /// The original bot's data directory.
    pub dir: PathBuf,
    /// Refuse the import (write nothing) when an entry would be skipped or a field dropped or
    /// altered; without it such changes are listed in the report.
    #[arg(long)]
    pub strict: bool,
}

pub async fn run(args: ImportLegacyArgs, config: &Config) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        return Err(crate::exit::UsageError::new(format!(
            "{} is not a directory (give the original bot's data directory)",
            args.dir.display()
        ))
        .into());
    }
    eprintln!("[1/2] opening {}", config.database_label());
    let store = crate::wiring::open_store_migrating(config).await?;
    eprintln!("[2/2] importing from {}", args.dir.display());
    let report = troupe_store::import_legacy_with(&store, &args.dir, args.strict).await?;
    crate::out!("{report}");
    Ok(ExitCode::SUCCESS)
}
