//! The port contract suites: every documented clause of the storage ports, written once as
//! async functions over [`Stores`], so the same checks run against the in-memory store and
//! against the SQLite and PostgreSQL stores.
//!
//! Each suite expects a fresh, empty store and panics with a message naming the clause that
//! does not hold. The suites use the port traits only, never a store's internals. They include
//! hostile but valid values: 50-character names, multi-word aliases, case and whitespace
//! variants, non-ASCII letters, ids near `u64::MAX` and `i64::MAX` (stores keep ids as the
//! `i64` of `to_i64`), timestamps with odd milliseconds, and racing calls.
//!
//! A store's test runs them all, each on a fresh store (here the in-memory one; a SQL store's
//! test builds a fresh database in the closure):
//!
//! ```
//! # async fn example() {
//! use troupe_testkit::{Stores, contract};
//! contract::all(async || Stores::in_memory().0).await;
//! # }
//! ```

mod auth;
mod conversation;
mod fixtures;
mod flags;
mod personality;
mod preferences;
mod processed;
mod sessions;

pub use auth::auth_repository;
pub use conversation::conversation_repository;
pub use flags::flag_store;
pub use personality::personality_repository;
pub use preferences::preferences_repository;
pub use processed::processed_messages;
pub use sessions::{gateway_sessions, shared_rate_limit};

use crate::Stores;

/// Runs every suite, each on a fresh store from `make` (an async closure or an async fn).
pub async fn all(mut make: impl AsyncFnMut() -> Stores) {
    personality_repository(&make().await).await;
    conversation_repository(&make().await).await;
    auth_repository(&make().await).await;
    preferences_repository(&make().await).await;
    processed_messages(&make().await).await;
    flag_store(&make().await).await;
}
