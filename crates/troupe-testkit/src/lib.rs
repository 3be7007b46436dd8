//! Dev-only test support for Troupe: in-memory fakes of every driven port (the storage ports in
//! one [`InMemoryStore`], plus [`FakeClock`], [`FakePlatform`], [`FakeVolume`],
//! [`FakeProfileSource`], [`FakeAuthProvider`] and `pluralkit::FakeProxyAuthors`) with controls
//! to inspect what was done and to inject failures, the port [`contract`] suites that every
//! storage adapter must pass, and loopback fakes of the outside services (`discord`, `ai`,
//! `pluralkit::FakePluralKit`), and a scratch PostgreSQL database (`postgres::Database`).
//!
//! This crate knows the domain and the port traits only. It must not know the application
//! (depending on it would make a dev-dependency cycle), nor any adapter technology (sqlx,
//! twilight, axum, reqwest): the contract suites talk to stores through the port traits alone,
//! so they run unchanged against the in-memory, SQLite and PostgreSQL stores.

pub mod ai;
mod clock;
pub mod contract;
pub mod discord;
mod loopback;
mod platform;
pub mod pluralkit;
pub mod postgres;
mod providers;
mod snapshots;
mod store;
mod stores;
mod volume;

pub use clock::FakeClock;
pub use platform::FakePlatform;
pub use providers::{FakeAuthProvider, FakeProfileSource, IntoAccessToken};
pub use snapshots::InMemorySnapshots;
pub use store::{InMemorySessions, InMemoryStore};
pub use stores::Stores;
pub use volume::FakeVolume;
