//! Channel activations, conversations, history, autorespond and the message map.

use async_trait::async_trait;
use troupe_domain::conversation::{
    ChannelActivation, Conversation, ConversationMode, HistoryEntry, Speaker,
};
use troupe_domain::personality::PersonalityName;
use troupe_domain::{ChannelId, MessageId, UserId};
use troupe_ports::{ConversationRepository, PersonalityMessage, StoreError};

use crate::Store;
use crate::backend::{
    Backend, ChatterConnection, Violation, WritePool as _, db, from_sql_count, on_pool, to_sql_int,
    violation,
};
use crate::reads::{self, Change, VERSION_SQL, counter, tracked_write};
use crate::rows::{self, corrupt};

const ACTIVATION: &str = "SELECT a.channel_id, p.name, a.activated_by, a.activated_at \
     FROM channel_activations a JOIN personalities p ON p.name_key = a.personality_key \
     WHERE a.channel_id = $1";

type ActivationRow = (i64, String, i64, i64);

/// speaker, author, content, at, user_id.
type HistoryRow = (String, String, String, i64, Option<i64>);

fn activation(row: ActivationRow) -> Result<ChannelActivation, StoreError> {
    let (channel, name, by, at) = row;
    Ok(ChannelActivation {
        channel: rows::channel_id(channel)?,
        personality: rows::personality_name(&name)?,
        activated_by: rows::user_id(by)?,
        activated_at: rows::ts(at),
    })
}

fn mode_text(mode: ConversationMode) -> &'static str {
    match mode {
        ConversationMode::Continuation => "continuation",
        ConversationMode::MentionOnly => "mention_only",
    }
}

fn speaker_text(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::User => "user",
        Speaker::Personality => "personality",
    }
}

/// A foreign-key violation means the personality does not exist.
fn missing_personality(e: sqlx::Error) -> StoreError {
    if violation(&e) == Some(Violation::ForeignKey) {
        StoreError::NotFound
    } else {
        db(e)
    }
}

#[async_trait]
impl ConversationRepository for Store {
    async fn activate(
        &self,
        activation_: &ChannelActivation,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let (previous, versions) = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let before = counter!(tx, track, lock);
            let exists: Option<String> =
                sqlx::query_scalar("SELECT name_key FROM personalities WHERE name_key = $1")
                    .bind(activation_.personality.key())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            let previous: Option<ActivationRow> = sqlx::query_as(ACTIVATION)
                .bind(activation_.channel.to_i64())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(
                "INSERT INTO channel_activations (channel_id, personality_key, activated_by, activated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET \
                 personality_key = excluded.personality_key, activated_by = excluded.activated_by, \
                 activated_at = excluded.activated_at",
            )
            .bind(activation_.channel.to_i64())
            .bind(activation_.personality.key())
            .bind(activation_.activated_by.to_i64())
            .bind(activation_.activated_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(missing_personality)?;
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            (previous, before.zip(after))
        });
        let change = Change::Activate {
            channel: activation_.channel.to_i64(),
            personality: activation_.personality.key(),
            by: activation_.activated_by.to_i64(),
            at: activation_.activated_at.as_millis(),
        };
        self.read_model_committed(versions, &[change]).await;
        previous.map(activation).transpose()
    }

    async fn deactivate(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let (previous, versions) = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let before = counter!(tx, track, lock);
            let previous: Option<ActivationRow> = sqlx::query_as(ACTIVATION)
                .bind(channel.to_i64())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query("DELETE FROM channel_activations WHERE channel_id = $1")
                .bind(channel.to_i64())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            (previous, before.zip(after))
        });
        self.read_model_committed(versions, &[Change::Deactivate(channel.to_i64())])
            .await;
        previous.map(activation).transpose()
    }

    async fn activation(
        &self,
        channel: ChannelId,
    ) -> Result<Option<ChannelActivation>, StoreError> {
        if let Some(found) = self.reads().activation(channel.to_i64()) {
            return found
                .map(|(name, by, at)| {
                    Ok(ChannelActivation {
                        channel,
                        personality: rows::personality_name(&name)?,
                        activated_by: rows::user_id(by)?,
                        activated_at: rows::ts(at),
                    })
                })
                .transpose();
        }
        let row: Option<ActivationRow> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(ACTIVATION)
                .bind(channel.to_i64())
                .fetch_optional(pool)
                .await
        })
        .map_err(db)?;
        row.map(activation).transpose()
    }

    async fn count_activations(&self) -> Result<u64, StoreError> {
        if let Some(n) = self.reads().count_activations() {
            return Ok(n);
        }
        let n: i64 = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM channel_activations")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }

    async fn conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<Option<Conversation>, StoreError> {
        let row: Option<(String, i64, String, bool)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT p.name, c.last_activity, c.mode, c.is_dm FROM conversations c \
                 JOIN personalities p ON p.name_key = c.personality_key \
                 WHERE c.user_id = $1 AND c.channel_id = $2",
            )
            .bind(user.to_i64())
            .bind(channel.to_i64())
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        let Some((name, last, mode, is_dm)) = row else {
            return Ok(None);
        };
        let mode = match mode.as_str() {
            "continuation" => ConversationMode::Continuation,
            "mention_only" => ConversationMode::MentionOnly,
            other => return Err(corrupt("conversation mode", other)),
        };
        Ok(Some(Conversation {
            user,
            channel,
            personality: rows::personality_name(&name)?,
            last_activity: rows::ts(last),
            mode,
            is_dm,
        }))
    }

    async fn save_conversation(&self, c: &Conversation) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            upsert_conversation(c).execute(pool).await.map(|_| ())
        })
        .map_err(missing_personality)?;
        Ok(())
    }

    async fn clear_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
        personality: &PersonalityName,
    ) -> Result<bool, StoreError> {
        let cleared: u64 = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let a = sqlx::query(
                "DELETE FROM conversations WHERE user_id = $1 AND channel_id = $2 AND personality_key = $3",
            )
            .bind(user.to_i64())
            .bind(channel.to_i64())
            .bind(personality.key())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            // The caller's turns and the unattributed ones (ADR 0017); other users' stay.
            let b = sqlx::query(
                "DELETE FROM history WHERE channel_id = $1 AND personality_key = $2 \
                 AND (user_id = $3 OR user_id IS NULL)",
            )
            .bind(channel.to_i64())
            .bind(personality.key())
            .bind(user.to_i64())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            a.rows_affected() + b.rows_affected()
        });
        Ok(cleared > 0)
    }

    async fn clear_user_conversation(
        &self,
        user: UserId,
        channel: ChannelId,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM conversations WHERE user_id = $1 AND channel_id = $2")
                .bind(user.to_i64())
                .bind(channel.to_i64())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)?;
        Ok(n > 0)
    }

    async fn append_history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        entry: &HistoryEntry,
        keep: usize,
    ) -> Result<(), StoreError> {
        self.write_history(
            None,
            channel,
            personality,
            std::slice::from_ref(entry),
            keep,
        )
        .await
    }

    async fn record_exchange(
        &self,
        c: &Conversation,
        entries: &[HistoryEntry],
        keep: usize,
    ) -> Result<(), StoreError> {
        self.write_history(Some(c), c.channel, &c.personality, entries, keep)
            .await
    }

    async fn history(
        &self,
        channel: ChannelId,
        personality: &PersonalityName,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let found: Vec<HistoryRow> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT speaker, author, content, at, user_id FROM (SELECT id, speaker, author, \
                 content, at, user_id FROM history WHERE channel_id = $1 AND personality_key = $2 ORDER BY id DESC LIMIT $3) h \
                 ORDER BY id",
            )
            .bind(channel.to_i64())
            .bind(personality.key())
            .bind(to_sql_int(limit as u64))
            .fetch_all(pool)
            .await
        })
        .map_err(db)?;
        found
            .into_iter()
            .map(|(speaker, author, content, at, user)| {
                let speaker = match speaker.as_str() {
                    "user" => Speaker::User,
                    "personality" => Speaker::Personality,
                    other => return Err(corrupt("history speaker", other)),
                };
                Ok(HistoryEntry {
                    speaker,
                    user: user.map(rows::user_id).transpose()?,
                    author,
                    content,
                    at: rows::ts(at),
                })
            })
            .collect()
    }

    async fn autorespond(&self, user: UserId) -> Result<bool, StoreError> {
        if let Some(enabled) = self.reads().autorespond(user.to_i64()) {
            return Ok(enabled);
        }
        let enabled: Option<bool> = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT enabled FROM autorespond WHERE user_id = $1")
                .bind(user.to_i64())
                .fetch_optional(pool)
                .await
        })
        .map_err(db)?;
        Ok(enabled.unwrap_or(false))
    }

    async fn set_autorespond(&self, user: UserId, enabled: bool) -> Result<(), StoreError> {
        let change = Change::Autorespond {
            user: user.to_i64(),
            enabled,
        };
        tracked_write!(
            self,
            change,
            sqlx::query(
                "INSERT INTO autorespond (user_id, enabled) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled",
            )
            .bind(user.to_i64())
            .bind(enabled)
        );
        Ok(())
    }

    async fn record_personality_message(&self, m: &PersonalityMessage) -> Result<(), StoreError> {
        // Chatter (ADR 0035): on a SQLite file under the default durability it commits
        // without waiting for the disk.
        match self.backend() {
            Backend::Sqlite(pool) => {
                let mut conn = ChatterConnection::acquire(pool, self.relaxed_chatter()).await?;
                upsert_personality_message(m)
                    .execute(&mut *conn)
                    .await
                    .map_err(missing_personality)?;
                conn.release().await
            }
            Backend::Postgres(pool) => upsert_personality_message(m)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(missing_personality),
        }
    }

    async fn personality_message(
        &self,
        message: MessageId,
    ) -> Result<Option<PersonalityMessage>, StoreError> {
        let row: Option<(i64, String, i64, i64)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT m.channel_id, p.name, m.user_id, m.at FROM message_map m \
                 JOIN personalities p ON p.name_key = m.personality_key WHERE m.message_id = $1",
            )
            .bind(message.to_i64())
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        row.map(|(channel, name, user, at)| {
            Ok(PersonalityMessage {
                message,
                channel: rows::channel_id(channel)?,
                personality: rows::personality_name(&name)?,
                user: rows::user_id(user)?,
                at: rows::ts(at),
            })
        })
        .transpose()
    }
}

impl Store {
    /// In one transaction: saves `conversation` (when given), appends `entries` to the
    /// (channel, personality) history and keeps its newest `keep`.
    async fn write_history(
        &self,
        conversation: Option<&Conversation>,
        channel: ChannelId,
        personality: &PersonalityName,
        entries: &[HistoryEntry],
        keep: usize,
    ) -> Result<(), StoreError> {
        // Chatter (ADR 0035): on a SQLite file under the default durability the exchange
        // commits without waiting for the disk; the next durable commit carries it there.
        macro_rules! write {
            ($tx:expr) => {{
                let mut tx = $tx;
                if let Some(c) = conversation {
                    upsert_conversation(c)
                        .execute(&mut *tx)
                        .await
                        .map_err(missing_personality)?;
                }
                for entry in entries {
                    insert_history(channel, personality, entry)
                        .execute(&mut *tx)
                        .await
                        .map_err(missing_personality)?;
                }
                trim_history(channel, personality, keep)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)
            }};
        }
        match self.backend() {
            Backend::Sqlite(pool) => {
                let mut conn = ChatterConnection::acquire(pool, self.relaxed_chatter()).await?;
                write!(conn.begin().await?)?;
                conn.release().await
            }
            Backend::Postgres(pool) => write!(pool.begin_write().await?),
        }
    }
}

/// Records which personality wrote a message (chatter).
fn upsert_personality_message<DB>(
    m: &PersonalityMessage,
) -> sqlx::query::Query<'_, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO message_map (message_id, channel_id, personality_key, user_id, at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO UPDATE SET \
         channel_id = excluded.channel_id, personality_key = excluded.personality_key, \
         user_id = excluded.user_id, at = excluded.at",
    )
    .bind(m.message.to_i64())
    .bind(m.channel.to_i64())
    .bind(m.personality.key())
    .bind(m.user.to_i64())
    .bind(m.at.as_millis())
}

/// Saves a conversation, replacing the user's one in that channel (either backend).
fn upsert_conversation<DB>(
    c: &Conversation,
) -> sqlx::query::Query<'_, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO conversations (user_id, channel_id, personality_key, last_activity, mode, is_dm) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, channel_id) DO UPDATE SET \
         personality_key = excluded.personality_key, last_activity = excluded.last_activity, \
         mode = excluded.mode, is_dm = excluded.is_dm",
    )
    .bind(c.user.to_i64())
    .bind(c.channel.to_i64())
    .bind(c.personality.key())
    .bind(c.last_activity.as_millis())
    .bind(mode_text(c.mode))
    .bind(c.is_dm)
}

/// Appends one history entry (either backend).
fn insert_history<'q, DB>(
    channel: ChannelId,
    personality: &'q PersonalityName,
    entry: &'q HistoryEntry,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO history (channel_id, personality_key, speaker, author, content, at, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(channel.to_i64())
    .bind(personality.key())
    .bind(speaker_text(entry.speaker))
    .bind(entry.author.as_str())
    .bind(entry.content.as_str())
    .bind(entry.at.as_millis())
    .bind(entry.user.map(UserId::to_i64))
}

/// Keeps the newest `keep` entries of a (channel, personality) history (either backend).
fn trim_history<'q, DB>(
    channel: ChannelId,
    personality: &'q PersonalityName,
    keep: usize,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "DELETE FROM history WHERE channel_id = $1 AND personality_key = $2 AND id NOT IN \
         (SELECT id FROM history WHERE channel_id = $1 AND personality_key = $2 \
          ORDER BY id DESC LIMIT $3)",
    )
    .bind(channel.to_i64())
    .bind(personality.key())
    .bind(to_sql_int(keep as u64))
}
