//! `troupe keygen`: prints a new random token key for `TROUPE_TOKEN_KEY`.

use std::process::ExitCode;

/// Prints a new key (32 random bytes, base64) on stdout, and how to use it on stderr.
pub fn run() -> anyhow::Result<ExitCode> {
    let key = troupe_store::TokenKey::generate()?;
    println!("{}", key.to_base64());
    eprintln!(
        "new token key (id {:02x}): set it as TROUPE_TOKEN_KEY; during a rotation keep the old \
         key in the previous-keys setting, then run `troupe tokens reencrypt` \
         (docs/adr/0010-store-token-encryption.md)",
        key.id()
    );
    Ok(ExitCode::SUCCESS)
}
