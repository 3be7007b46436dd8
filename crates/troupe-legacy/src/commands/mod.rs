//! One plain function per command, grouped in one file per category.

pub(crate) mod auth;
pub(crate) mod conversation;
pub(crate) mod personality;
pub(crate) mod utility;
