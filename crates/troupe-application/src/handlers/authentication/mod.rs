//! Category authentication: auth (with its subcommands) and verify.

pub(crate) mod auth;
pub(crate) mod verify;
