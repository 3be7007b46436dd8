//! Troupe's use cases. The command model (`CommandRequest` in, `CommandOutcome` out) and the
//! command-system port both command systems implement; the command catalog and prefix parser;
//! the new (domain-driven) command system with one handler per command; the message flow;
//! feature flags and the router.
//!
//! Depends on troupe-domain and troupe-ports only: no adapter crate, no sqlx, twilight, axum or
//! reqwest. Everything here is driven through ports, so it runs the same over in-memory fakes,
//! SQL stores, Discord or the console.

pub mod alerts;
pub mod catalog;
pub mod command;
pub mod comms;
pub mod compare;
pub mod conflicts;
pub mod context;
pub mod dispatch;
pub mod dryrun;
pub mod flags;
pub mod flow;
pub mod guard;
pub mod handlers;
pub mod model;
pub mod parser;
pub mod release;
pub mod replay;
pub mod router;
pub mod shadow;

pub use command::{Category, CommandName};
pub use context::{AppConfig, Deps};
pub use model::{
    Arguments, CommandOutcome, CommandRequest, CommandSystem, FollowUp, Invoker, Location,
    OutcomeClass, Permissions, ReferenceId, Reply, RequestSource, SystemKind,
};
