//! `troupe tokens reencrypt`: the last step of a token key rotation. Rewrites every stored
//! token under `TROUPE_TOKEN_KEY` in batches (progress on stderr), skipping tokens already
//! under it, so it is idempotent, resumable and safe while the bot runs; reports the tokens that
//! still need an old key.
//!
//! Exit codes: 0 every token is under the current key; 1 the run failed; 2 no token key is
//! configured; 3 some tokens still need an old key (listed by key id).

use std::ops::ControlFlow;
use std::process::ExitCode;

use crate::config::Config;

/// Options of `troupe tokens`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokensAction {
    /// Re-encrypt every stored token under TROUPE_TOKEN_KEY (after a key rotation).
    #[command(
        after_help = "Exit codes: 0 every token is under the current key, 1 the run failed, 2 no token key configured, 3 some tokens still need an old key (listed)."
    )]
    Reencrypt {
        /// Tokens per batch (each batch is written before the next is read).
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

pub async fn run(action: TokensAction, config: &Config) -> anyhow::Result<ExitCode> {
    let TokensAction::Reencrypt { batch } = action;
    if config.token_key.is_none() {
        eprintln!(
            "troupe: no token key configured: set TROUPE_TOKEN_KEY (`troupe keygen` makes one) \
             and keep the old key among the previous keys"
        );
        return Ok(ExitCode::from(2));
    }
    let store = crate::wiring::open_store(config).await?;
    let report = store
        .reencrypt_tokens(batch, |r| {
            eprintln!(
                "re-encrypting tokens: {}/{} looked at, {} rewritten",
                r.seen, r.total, r.rewritten
            );
            ControlFlow::Continue(())
        })
        .await?;
    println!(
        "{} token(s): {} rewritten under the current key, {} already under it",
        report.seen, report.rewritten, report.current
    );
    if report.needs_old_key.is_empty() {
        println!("every token is under the current key: the previous keys can be removed");
        return Ok(ExitCode::SUCCESS);
    }
    for (key, n) in &report.needs_old_key {
        match key {
            Some(id) => println!(
                "{n} token(s) sealed with key id {id:02x} decrypt with no configured key: add \
                 that key to the previous keys and run again, or let those users sign in again"
            ),
            None => println!("{n} stored value(s) are not sealed tokens (see `troupe check`)"),
        }
    }
    Ok(ExitCode::from(3))
}
