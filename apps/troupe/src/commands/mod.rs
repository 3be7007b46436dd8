//! Subcommands of the `troupe` binary that hold more than wiring.

pub mod compare;
