//! `troupe compare` (operations.md §3): plays the comparison corpus
//! (`troupe_parity::CORPUS`) through the legacy and the new command system, each
//! scenario on two fresh copies of a store, and reports a parity table per command and the
//! differences of every mismatch.
//!
//! The copies are SQLite in-memory stores of the real storage adapter (`sqlite::memory:`,
//! migrated like a production database; docs/adr/0012-compare-over-sqlite-memory.md): the
//! comparison then exercises the same SQL both systems run over in production, and the binary
//! needs no test-only store.

use std::sync::Arc;

use async_trait::async_trait;
use troupe_application::CommandSystem;
use troupe_legacy::LegacySystem;
use troupe_parity::{CORPUS, FreshStore, Report, Runner, StoragePorts};
use troupe_ports::StoreError;
use troupe_store::{Store, StoreOptions, TokenKey};

/// Fresh, migrated SQLite in-memory stores; tokens are encrypted with one throw-away key.
#[derive(Debug)]
pub struct SqliteMemoryStores {
    token_key: TokenKey,
}

impl SqliteMemoryStores {
    /// Stores that encrypt tokens with a fresh random key.
    pub fn new() -> anyhow::Result<Self> {
        let token_key =
            TokenKey::generate().map_err(|e| anyhow::anyhow!("cannot make a token key: {e}"))?;
        Ok(Self { token_key })
    }
}

#[async_trait]
impl FreshStore for SqliteMemoryStores {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let options = StoreOptions {
            token_key: Some(self.token_key.clone()),
            ..StoreOptions::default()
        };
        let store = Store::open("sqlite::memory:", options).await?;
        Ok(StoragePorts::of(&Arc::new(store)))
    }
}

/// Runs the whole corpus: legacy (the reference) against the new system.
pub async fn run_corpus() -> anyhow::Result<Report> {
    let runner = Runner::new(
        Arc::new(SqliteMemoryStores::new()?),
        Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
    );
    Ok(runner.run(CORPUS).await)
}

/// The report as text: the parity table, then every mismatch with its differences, then a
/// verdict line.
pub fn render_text(report: &Report) -> String {
    let mut out = report.render_table();
    for failure in report.failures() {
        let command = failure.command.map_or("?", |c| c.as_str());
        out.push_str(&format!(
            "\nMISMATCH {command}: {}\n  line: {}\n",
            failure.name, failure.line
        ));
        for difference in &failure.differences {
            out.push_str(&format!("  - {difference}\n"));
        }
    }
    let failures = report.failures().count();
    if report.is_full_parity() {
        out.push_str(&format!(
            "\nfull parity: {} scenarios, legacy and new agree on every one\n",
            report.results.len()
        ));
    } else {
        out.push_str(&format!(
            "\n{failures} of {} scenarios differ\n",
            report.results.len()
        ));
    }
    out
}

/// The report as JSON: `{"parity": bool, "scenarios": N, "commands": [...], "mismatches": [...]}`.
pub fn render_json(report: &Report) -> serde_json::Value {
    let commands: Vec<serde_json::Value> = report
        .table()
        .into_iter()
        .map(|row| {
            serde_json::json!({
                "command": row.command.as_str(),
                "scenarios": row.scenarios,
                "matches": row.matches,
                "mismatches": row.mismatches,
            })
        })
        .collect();
    let mismatches: Vec<serde_json::Value> = report
        .failures()
        .map(|f| {
            serde_json::json!({
                "command": f.command.map(troupe_application::CommandName::as_str),
                "scenario": f.name,
                "line": f.line,
                "differences": f.differences,
            })
        })
        .collect();
    serde_json::json!({
        "parity": report.is_full_parity(),
        "scenarios": report.results.len(),
        "commands": commands,
        "mismatches": mismatches,
    })
}
