//! Tokens (encrypted at rest), age verifications and pending authorizations.

use async_trait::async_trait;
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{Timestamp, UserId};
use troupe_ports::{AuthRepository, StoreError};

use crate::Store;
use crate::backend::{WritePool as _, db, from_sql_count, on_pool};
use crate::reads::{Change, tracked_write};
use crate::rows;

#[async_trait]
impl AuthRepository for Store {
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError> {
        let sealed = self.cipher().encrypt(auth.user, &auth.token)?;
        let change = Change::Token {
            user: auth.user.to_i64(),
            expires: Some(auth.expires_at.as_millis()),
        };
        tracked_write!(
            self,
            change,
            sqlx::query(
                "INSERT INTO auth_tokens (user_id, token_ciphertext, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                 token_ciphertext = excluded.token_ciphertext, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
            )
            .bind(auth.user.to_i64())
            .bind(sealed.as_slice())
            .bind(auth.created_at.as_millis())
            .bind(auth.expires_at.as_millis())
        );
        Ok(())
    }

    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError> {
        if let Some(None) = self.reads().token_expiry(user.to_i64()) {
            return Ok(None);
        }
        let row: Option<(Vec<u8>, i64, i64)> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(
                "SELECT token_ciphertext, created_at, expires_at FROM auth_tokens WHERE user_id = $1",
            )
            .bind(user.to_i64())
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        row.map(|(sealed, created, expires)| {
            Ok(UserAuth {
                user,
                token: self.cipher().decrypt(user, &sealed)?,
                created_at: rows::ts(created),
                expires_at: rows::ts(expires),
            })
        })
        .transpose()
    }

    async fn delete_token(&self, user: UserId) -> Result<bool, StoreError> {
        let change = Change::Token {
            user: user.to_i64(),
            expires: None,
        };
        let deleted = tracked_write!(
            self,
            change,
            sqlx::query("DELETE FROM auth_tokens WHERE user_id = $1").bind(user.to_i64())
        );
        Ok(deleted > 0)
    }

    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(tracked_write!(
            self,
            Change::ExpiredTokens(now.as_millis()),
            sqlx::query("DELETE FROM auth_tokens WHERE expires_at <= $1").bind(now.as_millis())
        ))
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM auth_tokens")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }

    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError> {
        let at = match self.reads().verified_at(user.to_i64()) {
            Some(at) => at,
            None => on_pool!(self.reader(), |pool| {
                sqlx::query_scalar("SELECT verified_at FROM age_verifications WHERE user_id = $1")
                    .bind(user.to_i64())
                    .fetch_optional(pool)
                    .await
            })
            .map_err(db)?,
        };
        Ok(at.map(|at| AgeVerification {
            user,
            verified_at: rows::ts(at),
        }))
    }

    async fn save_verification(&self, v: &AgeVerification) -> Result<(), StoreError> {
        let change = Change::Verification {
            user: v.user.to_i64(),
            at: Some(v.verified_at.as_millis()),
        };
        tracked_write!(
            self,
            change,
            sqlx::query(
                "INSERT INTO age_verifications (user_id, verified_at) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(v.user.to_i64())
            .bind(v.verified_at.as_millis())
        );
        Ok(())
    }

    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError> {
        let change = Change::Verification {
            user: user.to_i64(),
            at: None,
        };
        let removed = tracked_write!(
            self,
            change,
            sqlx::query("DELETE FROM age_verifications WHERE user_id = $1").bind(user.to_i64())
        );
        Ok(removed > 0)
    }

    async fn save_pending(&self, p: &PendingAuthorization) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO pending_authorizations (state, user_id, created_at) VALUES ($1, $2, $3)",
            )
            .bind(p.state.as_str())
            .bind(p.user.to_i64())
            .bind(p.created_at.as_millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db)?;
        Ok(())
    }

    async fn take_pending(&self, user: UserId) -> Result<Option<PendingAuthorization>, StoreError> {
        let row: Option<(i64, String, i64)> = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let row: Option<(i64, String, i64)> = sqlx::query_as(
                "SELECT id, state, created_at FROM pending_authorizations WHERE user_id = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(user.to_i64())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some((id, _, _)) = &row {
                sqlx::query("DELETE FROM pending_authorizations WHERE id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            row
        });
        Ok(row.map(|(_, state, created)| PendingAuthorization {
            state,
            user,
            created_at: rows::ts(created),
        }))
    }
}

/// Where `troupe tokens reencrypt` stands after a batch, and what it found at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Tokens in the store when the run started.
    pub total: u64,
    /// Tokens looked at so far.
    pub seen: u64,
    /// Tokens rewritten under the current key by this run.
    pub rewritten: u64,
    /// Tokens already under the current key (rewritten by an earlier run, or saved since).
    pub current: u64,
    /// Tokens no configured key decrypts, by the id of the key that sealed them (`None` for a
    /// value that is not a sealed token): they still need an old key.
    pub needs_old_key: std::collections::BTreeMap<Option<u8>, u64>,
}

impl Store {
    /// Re-encrypts every stored token that is not sealed with the current key (the last step
    /// of a key rotation, see `docs/adr/0010-store-token-encryption.md`), in batches of
    /// `batch` tokens; `progress` sees the report after every batch and may stop the run there. Idempotent and resumable
    /// (tokens already under the current key are skipped, so a stopped run just continues);
    /// safe while the bot runs: each token is replaced only if it is still the value that was
    /// read (a token the bot saved meanwhile is already under the current key). Tokens no
    /// configured key decrypts are left alone and counted in `needs_old_key`.
    pub async fn reencrypt_tokens(
        &self,
        batch: u32,
        mut progress: impl FnMut(&ReencryptReport) -> std::ops::ControlFlow<()> + Send,
    ) -> Result<ReencryptReport, StoreError> {
        let Some(current) = self.cipher().current_key_id() else {
            return Err(StoreError::Unexpected(
                "no token key configured: set TROUPE_TOKEN_KEY before re-encrypting tokens".into(),
            ));
        };
        let batch = i64::from(batch.max(1));
        let mut report = ReencryptReport {
            total: self.count_tokens().await?,
            ..ReencryptReport::default()
        };
        let mut after: Option<i64> = None;
        loop {
            let found: Vec<(i64, Vec<u8>)> = on_pool!(self.backend(), |pool| {
                match after {
                    None => sqlx::query_as(
                        "SELECT user_id, token_ciphertext FROM auth_tokens ORDER BY user_id LIMIT $1",
                    )
                    .bind(batch)
                    .fetch_all(pool)
                    .await,
                    Some(last) => sqlx::query_as(
                        "SELECT user_id, token_ciphertext FROM auth_tokens WHERE user_id > $1 \
                         ORDER BY user_id LIMIT $2",
                    )
                    .bind(last)
                    .bind(batch)
                    .fetch_all(pool)
                    .await,
                }
            })
            .map_err(db)?;
            let Some(&(last, _)) = found.last() else {
                break;
            };
            after = Some(last);
            for (raw_user, sealed) in found {
                report.seen += 1;
                let key_id = crate::crypto::TokenCipher::key_id_of(&sealed);
                let opened = rows::user_id(raw_user)
                    .and_then(|user| Ok((user, self.cipher().decrypt(user, &sealed)?)));
                let Ok((user, token)) = opened else {
                    *report.needs_old_key.entry(key_id).or_default() += 1;
                    continue;
                };
                if key_id == Some(current) {
                    report.current += 1;
                    continue;
                }
                let resealed = self.cipher().encrypt(user, &token)?;
                let changed = on_pool!(self.backend(), |pool| {
                    sqlx::query(
                        "UPDATE auth_tokens SET token_ciphertext = $2 \
                         WHERE user_id = $1 AND token_ciphertext = $3",
                    )
                    .bind(raw_user)
                    .bind(resealed.as_slice())
                    .bind(sealed.as_slice())
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
                })
                .map_err(db)?;
                if changed == 1 {
                    report.rewritten += 1;
                } else {
                    // Saved or deleted by the bot since it was read: a new save is current.
                    report.current += 1;
                }
            }
            if progress(&report).is_break() {
                break;
            }
        }
        Ok(report)
    }
}
