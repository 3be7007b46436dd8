//! One in-memory store implementing every storage port.

mod auth;
mod conversations;
mod flags;
mod personalities;
mod preferences;
mod processed;
mod sessions;

pub use sessions::InMemorySessions;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry};
use troupe_domain::notifications::NotificationPreference;
use troupe_domain::personality::Personality;
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};
use troupe_ports::{FlagAuditEntry, PersonalityMessage, StoreError, StoredFlag};

/// Everything the store holds. Personalities are keyed by their lower-cased name key, with
/// indexes (alias → name, display name → names, owner → names) kept in step so that lookups
/// are O(1) and owner listings are ordered.
#[derive(Debug, Clone, Default)]
struct State {
    personalities: HashMap<String, Personality>,
    /// Alias key → name key of the personality holding it.
    aliases: HashMap<String, String>,
    /// Display-name key → name keys of the personalities showing it.
    display_names: HashMap<String, BTreeSet<String>>,
    /// Owner → name keys, in name-key order.
    by_owner: HashMap<UserId, BTreeSet<String>>,

    activations: HashMap<ChannelId, ChannelActivation>,
    conversations: HashMap<(UserId, ChannelId), Conversation>,
    /// (channel, personality name key) → entries, oldest first.
    history: HashMap<(ChannelId, String), VecDeque<HistoryEntry>>,
    autorespond: HashSet<UserId>,
    personality_messages: HashMap<MessageId, PersonalityMessage>,

    tokens: HashMap<UserId, UserAuth>,
    verifications: HashMap<UserId, AgeVerification>,
    /// Pending authorizations per user, in the order they were saved.
    pending: HashMap<UserId, Vec<PendingAuthorization>>,

    preferences: BTreeMap<UserId, NotificationPreference>,

    /// Claimed id → when it was (last) claimed.
    claims: HashMap<MessageId, Timestamp>,

    flags: BTreeMap<String, StoredFlag>,
    /// Oldest first.
    audit: Vec<FlagAuditEntry>,
    flag_version: u64,
}

/// The state with the failure-injection controls, all behind one lock.
#[derive(Debug, Default)]
struct Inner {
    state: State,
    fail_next_writes: usize,
    fail_all: bool,
}

/// An in-memory implementation of every storage port (`PersonalityRepository`,
/// `ConversationRepository`, `AuthRepository`, `PreferencesRepository`, `ProcessedMessages`,
/// `FlagStore`) over one shared state, so that a personality deleted through one port is gone
/// from the others. It honours the documented port contracts (the [`crate::contract`] suites
/// prove it) and can inject failures.
///
/// All state sits behind one `std::sync::Mutex`, never held across an `.await`.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
}

/// The error every injected failure returns.
fn injected() -> StoreError {
    StoreError::Unavailable("injected".to_owned())
}

/// The case-insensitive key of what a user typed: the domain's folding of names, aliases and
/// display names (NFKC, whitespace collapsed, case-folded, direction marks ignored).
fn query_key(query: &str) -> String {
    troupe_domain::personality::lookup_key(query)
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A deep copy of the stored data, independent from this store from now on. The copy
    /// starts without injected failures.
    pub fn snapshot(&self) -> InMemoryStore {
        let state = self.lock().state.clone();
        InMemoryStore {
            inner: Mutex::new(Inner {
                state,
                ..Inner::default()
            }),
        }
    }

    /// The next `n` mutating calls (any port) return `StoreError::Unavailable("injected")` and
    /// change nothing. Reads are unaffected. Replaces any earlier count.
    pub fn fail_next_writes(&self, n: usize) {
        self.lock().fail_next_writes = n;
    }

    /// While on, every call (reads and writes, any port) returns
    /// `StoreError::Unavailable("injected")` and changes nothing.
    pub fn fail_all(&self, on: bool) {
        self.lock().fail_all = on;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a read against the state, unless every call is failing.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, StoreError> {
        let inner = self.lock();
        if inner.fail_all {
            return Err(injected());
        }
        Ok(f(&inner.state))
    }

    /// Runs a mutation against the state, unless a failure is injected. `f` must check
    /// everything before it changes anything, so that an error leaves the state untouched.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut inner = self.lock();
        if inner.fail_all {
            return Err(injected());
        }
        if inner.fail_next_writes > 0 {
            inner.fail_next_writes -= 1;
            return Err(injected());
        }
        f(&mut inner.state)
    }
}
