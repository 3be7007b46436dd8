//! Category utility: ping, status, help, notifications, debug, purgbot, volumetest.

pub(crate) mod debug;
pub(crate) mod help;
pub(crate) mod notifications;
pub(crate) mod ping;
pub(crate) mod purgbot;
pub(crate) mod status;
pub(crate) mod volumetest;
