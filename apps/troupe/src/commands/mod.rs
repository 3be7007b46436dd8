//! Subcommands of the `troupe` binary that hold more than wiring.

pub mod backup;
pub mod check;
pub mod compare;
pub mod import_legacy;
pub mod keygen;
pub mod restore;
pub mod smoke;
pub mod tokens;
