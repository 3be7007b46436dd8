//! The Troupe application: configuration, wiring of the adapters around the application core,
//! and the console adapter. The `troupe` binary (src/main.rs) is the command line over this
//! library; end-to-end tests drive the same wiring. No business rules live here.

pub mod backups;
pub mod broker;
pub mod commands;
pub mod comms;
pub mod config;
pub mod console;
pub mod exit;
pub mod fleet;
pub mod gateway;
pub mod http_wiring;
pub mod run;
pub mod telemetry;
pub mod volume;
pub mod wiring;
pub mod worker;
