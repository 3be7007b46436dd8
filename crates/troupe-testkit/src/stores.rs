//! The six storage ports as one bundle.

use std::fmt;
use std::sync::Arc;

use troupe_ports::{
    AuthRepository, ConversationRepository, FlagStore, PersonalityRepository,
    PreferencesRepository, ProcessedMessages,
};

use crate::InMemoryStore;

/// The storage ports of one store, as the application uses them (`Arc<dyn Port>`). The
/// contract suites take this, so any store (in-memory, SQLite, PostgreSQL) can be checked.
#[derive(Clone)]
pub struct Stores {
    /// The personality registry.
    pub personalities: Arc<dyn PersonalityRepository>,
    /// Activations, conversations, history, autorespond and the message map.
    pub conversations: Arc<dyn ConversationRepository>,
    /// Tokens, age verifications and pending authorizations.
    pub auth: Arc<dyn AuthRepository>,
    /// Notification preferences.
    pub preferences: Arc<dyn PreferencesRepository>,
    /// Already handled message ids.
    pub processed: Arc<dyn ProcessedMessages>,
    /// Runtime flags and their audit log.
    pub flags: Arc<dyn FlagStore>,
}

impl Stores {
    /// Every port served by one store that implements them all.
    pub fn sharing<S>(store: Arc<S>) -> Self
    where
        S: PersonalityRepository
            + ConversationRepository
            + AuthRepository
            + PreferencesRepository
            + ProcessedMessages
            + FlagStore
            + 'static,
    {
        Self {
            personalities: store.clone(),
            conversations: store.clone(),
            auth: store.clone(),
            preferences: store.clone(),
            processed: store.clone(),
            flags: store,
        }
    }

    /// A fresh, empty [`InMemoryStore`] behind every port, and the store itself for its
    /// controls (failure injection, snapshots).
    pub fn in_memory() -> (Self, Arc<InMemoryStore>) {
        let store = Arc::new(InMemoryStore::new());
        (Self::sharing(store.clone()), store)
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
