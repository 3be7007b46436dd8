//! `AuthRepository` over the in-memory state.

use async_trait::async_trait;
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{Timestamp, UserId};
use troupe_ports::{AuthRepository, StoreError};

use super::InMemoryStore;

#[async_trait]
impl AuthRepository for InMemoryStore {
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError> {
        self.write(|s| {
            s.tokens.insert(auth.user, auth.clone());
            Ok(())
        })
    }

    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError> {
        self.read(|s| s.tokens.get(&user).cloned())
    }

    async fn delete_token(&self, user: UserId) -> Result<bool, StoreError> {
        self.write(|s| Ok(s.tokens.remove(&user).is_some()))
    }

    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.write(|s| {
            let before = s.tokens.len();
            s.tokens.retain(|_, t| !t.is_expired(now));
            Ok((before - s.tokens.len()) as u64)
        })
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.read(|s| s.tokens.len() as u64)
    }

    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError> {
        self.read(|s| s.verifications.get(&user).copied())
    }

    async fn save_verification(&self, verification: &AgeVerification) -> Result<(), StoreError> {
        self.write(|s| {
            s.verifications
                .entry(verification.user)
                .or_insert(*verification);
            Ok(())
        })
    }

    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError> {
        self.write(|s| Ok(s.verifications.remove(&user).is_some()))
    }

    async fn save_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        self.write(|s| {
            s.pending
                .entry(pending.user)
                .or_default()
                .push(pending.clone());
            Ok(())
        })
    }

    async fn take_pending(&self, user: UserId) -> Result<Option<PendingAuthorization>, StoreError> {
        self.write(|s| {
            let Some(pending) = s.pending.get_mut(&user) else {
                return Ok(None);
            };
            // Newest by creation time; among equals, the last saved (`max_by_key` keeps the last).
            let newest = pending
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| p.created_at)
                .map(|(i, _)| i);
            let taken = newest.map(|i| pending.remove(i));
            if pending.is_empty() {
                s.pending.remove(&user);
            }
            Ok(taken)
        })
    }
}
