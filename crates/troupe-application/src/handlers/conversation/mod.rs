//! Category conversation: activate, deactivate, reset, autorespond.

pub(crate) mod activate;
pub(crate) mod autorespond;
pub(crate) mod deactivate;
pub(crate) mod reset;
