//! `troupe check`: database integrity, every row decoded as the bot decodes it, and the
//! application invariants (aliases, activations, conversations reference existing
//! personalities; no alias equals a name; tokens decrypt; no duplicate keys). Never migrates.
//!
//! Exit codes: 0 no violation; 1 the check could not run; 3 violations found (listed).

use std::process::ExitCode;

use crate::config::Config;

/// Violations were found.
pub const VIOLATIONS: u8 = 3;

/// Options of `troupe check`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 no violation, 1 the check could not run, 2 invalid configuration or a schema newer than this binary, 3 violations found (each listed)."
)]
pub struct CheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: CheckArgs, config: &Config) -> anyhow::Result<ExitCode> {
    eprintln!("checking {} …", config.database_label());
    let store = crate::wiring::connect_store(config).await?;
    // A newer release's schema cannot be judged by this build's rules.
    if let Some(message) = store
        .schema_status()
        .await?
        .newer_message(Some(&config.database_label()))
    {
        return Err(crate::exit::UsageError::new(message).into());
    }
    let report = store.check().await?;
    if args.json {
        let violations: Vec<_> = report
            .violations
            .iter()
            .map(|v| {
                serde_json::json!({
                    "rule": v.rule,
                    "table": v.table,
                    "key": v.key,
                    "column": v.column,
                    "detail": v.detail,
                })
            })
            .collect();
        crate::outln!(
            "{}",
            serde_json::json!({
                "ok": report.is_ok(),
                "backend": report.backend.to_string(),
                "schema_version": report.schema_version,
                "rows": report.rows,
                "violations": violations,
            })
        );
    } else {
        crate::out!("{report}");
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(VIOLATIONS)
    })
}
