//! The driven ports of Troupe: every trait the application core needs from the outside world
//! (storage, the AI provider, the profile source, the OAuth provider, the chat platform, the
//! proxy system's author lookup, the clock, the flag store, the fleet registry, the data
//! directory), each documented as a contract, with its error enum (expected variants plus one
//! `Unexpected` bucket).
//!
//! Ports are `Send + Sync` and used as `Arc<dyn Port>`. This crate knows the domain types and
//! nothing of sqlx, twilight, axum or reqwest. With the `mocks` feature every trait also has a
//! mockall mock (`MockPersonalityRepository`, …).

mod ai;
mod auth;
mod clock;
mod conversation;
mod error;
mod flags;
mod fleet;
mod gateway;
mod personality;
mod platform;
mod preferences;
mod processed;
mod proxy;
mod relay;
mod sessions;
mod snapshot;
mod volume;

pub use ai::{
    AiChat, AiError, ChatMessage, ChatRequest, ChatRole, ProfileError, ProfileSource, SourceProfile,
};
pub use auth::{AuthProvider, AuthProviderError, AuthRepository, IssuedToken};
pub use clock::{Clock, SystemClock};
pub use conversation::{ConversationRepository, PersonalityMessage};
pub use error::StoreError;
pub use flags::{FlagAuditEntry, FlagChange, FlagNotifications, FlagStore, StoredFlag};
pub use fleet::{
    FLAG_APPLY_WITHIN, FleetRegistry, FleetStatus, LiveProcess, PROCESS_EXPIRY, ProcessRecord,
    ShardProblem, ShardSpan, shard_problems, shard_range_of,
};
pub use gateway::{
    EventLoad, GatewayHealth, GatewayMonitor, GatewaySnapshot, GatewayState, RECONNECT_GRACE,
    SessionStarts, ack_overdue_after,
};
pub use personality::{Page, PersonalityRepository};
pub use platform::{
    ChatPlatform, DmMessage, DmMessageKind, Embed, EmbedField, OutgoingMessage, PersonaIdentity,
    PlatformError, PlatformStatus,
};
pub use preferences::PreferencesRepository;
pub use processed::ProcessedMessages;
pub use proxy::{ProxyAuthors, ProxyError};
pub use relay::{EventRelay, RelayError, RelayedEvent};
pub use sessions::{GatewaySessions, SharedRateLimit, StoredSession};
pub use snapshot::{Snapshot, SnapshotSource, StoreView};
pub use volume::{DataVolume, VolumeError, VolumeReport};

#[cfg(feature = "mocks")]
pub use ai::{MockAiChat, MockProfileSource};
#[cfg(feature = "mocks")]
pub use auth::{MockAuthProvider, MockAuthRepository};
#[cfg(feature = "mocks")]
pub use clock::MockClock;
#[cfg(feature = "mocks")]
pub use conversation::MockConversationRepository;
#[cfg(feature = "mocks")]
pub use flags::MockFlagStore;
#[cfg(feature = "mocks")]
pub use fleet::MockFleetRegistry;
#[cfg(feature = "mocks")]
pub use gateway::MockGatewayMonitor;
#[cfg(feature = "mocks")]
pub use personality::MockPersonalityRepository;
#[cfg(feature = "mocks")]
pub use platform::MockChatPlatform;
#[cfg(feature = "mocks")]
pub use preferences::MockPreferencesRepository;
#[cfg(feature = "mocks")]
pub use processed::MockProcessedMessages;
#[cfg(feature = "mocks")]
pub use proxy::MockProxyAuthors;
#[cfg(feature = "mocks")]
pub use sessions::{MockGatewaySessions, MockSharedRateLimit};
#[cfg(feature = "mocks")]
pub use volume::MockDataVolume;
