use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::personality::{Alias, Personality, PersonalityName};

use crate::StoreError;

/// One page of a listing, with the total count for "page p of n".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The global registry of personalities and their aliases.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PersonalityRepository: Send + Sync {
    /// Stores a new personality with its aliases, atomically.
    /// Returns `NameTaken` when the name (case-insensitive) exists as a name or as an alias,
    /// `AliasTaken` when one of its
    /// aliases belongs to another personality or equals an existing name; nothing is stored then.
    async fn insert(&self, personality: &Personality) -> Result<(), StoreError>;

    /// Replaces the profile and alias set of an existing personality, atomically.
    /// Returns `NotFound` when it does not exist and `AliasTaken` when a new alias belongs to
    /// another personality or equals a name; nothing changes then.
    async fn update(&self, personality: &Personality) -> Result<(), StoreError>;

    /// Moves `alias` from whichever personality holds it to `to`, atomically (both aggregates
    /// updated in one step). Returns `NotFound` when `to` does not exist.
    async fn move_alias(&self, alias: &Alias, to: &PersonalityName) -> Result<(), StoreError>;

    /// Deletes a personality with its aliases, channel activations, conversations, history and
    /// message map entries. Returns whether it existed.
    async fn delete(&self, name: &PersonalityName) -> Result<bool, StoreError>;

    /// The personality with exactly this name (case-insensitive).
    async fn get(&self, name: &PersonalityName) -> Result<Option<Personality>, StoreError>;

    /// Resolves what a user typed: exact name, then alias, then display name, all
    /// case-insensitive with whitespace collapsed (see `troupe_domain::personality::resolve`).
    async fn lookup(&self, query: &str) -> Result<Option<Personality>, StoreError>;

    /// The personality holding `alias`, if any.
    async fn alias_owner(&self, alias: &Alias) -> Result<Option<PersonalityName>, StoreError>;

    /// The owner's personalities ordered by name key, `limit` from `offset`, with the total.
    async fn list_by_owner(
        &self,
        owner: UserId,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Personality>, StoreError>;

    /// Number of personalities in the registry.
    async fn count(&self) -> Result<u64, StoreError>;
}
