//! The port implementations of [`Store`](crate::Store), one module per port family.

mod auth;
mod conversation;
mod flags;
mod fleet;
mod personality;
mod preferences;
mod processed;
mod sessions;

pub use auth::ReencryptReport;
pub use processed::{ClaimBook, ClaimBookSettings};
