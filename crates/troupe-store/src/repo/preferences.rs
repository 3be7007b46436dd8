//! Release-notification preferences.

use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};
use troupe_ports::{PreferencesRepository, StoreError};

use crate::Store;
use crate::backend::{db, on_pool, to_sql_int};
use crate::rows::{self, corrupt};

fn preference(
    opted_in: bool,
    level: &str,
    last: Option<&str>,
) -> Result<NotificationPreference, StoreError> {
    Ok(NotificationPreference {
        opted_in,
        level: NotificationLevel::parse(level)
            .ok_or_else(|| corrupt("notification level", level))?,
        last_notified: last
            .map(|v| Version::parse(v).ok_or_else(|| corrupt("last notified version", v)))
            .transpose()?,
    })
}

#[async_trait]
impl PreferencesRepository for Store {
    async fn notification_preference(
        &self,
        user: UserId,
    ) -> Result<Option<NotificationPreference>, StoreError> {
        let row: Option<(bool, String, Option<String>)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT opted_in, level, last_notified FROM notification_preferences WHERE user_id = $1",
            )
            .bind(user.to_i64())
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        row.map(|(opted_in, level, last)| preference(opted_in, &level, last.as_deref()))
            .transpose()
    }

    async fn save_notification_preference(
        &self,
        user: UserId,
        p: &NotificationPreference,
    ) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO notification_preferences (user_id, opted_in, level, last_notified) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                 opted_in = excluded.opted_in, level = excluded.level, \
                 last_notified = excluded.last_notified",
            )
            .bind(user.to_i64())
            .bind(p.opted_in)
            .bind(p.level.as_str())
            .bind(p.last_notified.map(|v| v.to_string()))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db)?;
        Ok(())
    }

    async fn opted_in_users(
        &self,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<(UserId, NotificationPreference)>, StoreError> {
        let found: Vec<(i64, bool, String, Option<String>)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT user_id, opted_in, level, last_notified FROM notification_preferences \
                 WHERE opted_in = TRUE AND user_id > $1 ORDER BY user_id LIMIT $2",
            )
            .bind(after.map_or(i64::MIN, UserId::to_i64))
            .bind(to_sql_int(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(db)?;
        found
            .into_iter()
            .map(|(user, opted_in, level, last)| {
                Ok((
                    rows::user_id(user)?,
                    preference(opted_in, &level, last.as_deref())?,
                ))
            })
            .collect()
    }
}
