//! Category personality: add, remove, info, alias, list.

pub(crate) mod add;
pub(crate) mod alias;
pub(crate) mod info;
pub(crate) mod list;
pub(crate) mod remove;
