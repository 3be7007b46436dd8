use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::notifications::NotificationPreference;

use crate::StoreError;

/// Per-user release-notification preferences.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PreferencesRepository: Send + Sync {
    /// The user's stored preference; `None` means the default applies.
    async fn notification_preference(
        &self,
        user: UserId,
    ) -> Result<Option<NotificationPreference>, StoreError>;
    /// Stores the user's preference.
    async fn save_notification_preference(
        &self,
        user: UserId,
        preference: &NotificationPreference,
    ) -> Result<(), StoreError>;
    /// Users with a stored, opted-in preference, ordered by id, after `after`, at most `limit`.
    async fn opted_in_users(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<(UserId, NotificationPreference)>, StoreError>;
}
