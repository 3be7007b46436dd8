//! `PreferencesRepository` over the in-memory state.

use std::ops::Bound;

use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::notifications::NotificationPreference;
use troupe_ports::{PreferencesRepository, StoreError};

use super::InMemoryStore;

#[async_trait]
impl PreferencesRepository for InMemoryStore {
    async fn notification_preference(
        &self,
        user: UserId,
    ) -> Result<Option<NotificationPreference>, StoreError> {
        self.read(|s| s.preferences.get(&user).copied())
    }

    async fn save_notification_preference(
        &self,
        user: UserId,
        preference: &NotificationPreference,
    ) -> Result<(), StoreError> {
        self.write(|s| {
            s.preferences.insert(user, *preference);
            Ok(())
        })
    }

    async fn opted_in_users(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<(UserId, NotificationPreference)>, StoreError> {
        self.read(|s| {
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            s.preferences
                .range((start, Bound::Unbounded))
                .filter(|(_, p)| p.opted_in)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(user, p)| (*user, *p))
                .collect()
        })
    }
}
