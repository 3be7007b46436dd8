//! Tokens (encrypted at rest), age verifications and pending authorizations.

use async_trait::async_trait;
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{Timestamp, UserId};
use troupe_ports::{AuthRepository, StoreError};

use crate::Store;
use crate::backend::{WritePool as _, db, from_sql_count, on_pool};
use crate::rows;

#[async_trait]
impl AuthRepository for Store {
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError> {
        let sealed = self.cipher().encrypt(auth.user, &auth.token)?;
        on_pool!(self.backend(), |pool| {
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
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db)?;
        Ok(())
    }

    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError> {
        let row: Option<(Vec<u8>, i64, i64)> = on_pool!(self.backend(), |pool| {
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
        let n = on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM auth_tokens WHERE user_id = $1")
                .bind(user.to_i64())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)?;
        Ok(n > 0)
    }

    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM auth_tokens WHERE expires_at <= $1")
                .bind(now.as_millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)
    }

    async fn count_tokens(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self.backend(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM auth_tokens")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }

    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError> {
        let at: Option<i64> = on_pool!(self.backend(), |pool| {
            sqlx::query_scalar("SELECT verified_at FROM age_verifications WHERE user_id = $1")
                .bind(user.to_i64())
                .fetch_optional(pool)
                .await
        })
        .map_err(db)?;
        Ok(at.map(|at| AgeVerification {
            user,
            verified_at: rows::ts(at),
        }))
    }

    async fn save_verification(&self, v: &AgeVerification) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query(
                "INSERT INTO age_verifications (user_id, verified_at) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(v.user.to_i64())
            .bind(v.verified_at.as_millis())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db)?;
        Ok(())
    }

    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError> {
        let n = on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM age_verifications WHERE user_id = $1")
                .bind(user.to_i64())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)?;
        Ok(n > 0)
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

impl Store {
    /// Re-encrypts every stored token that is not sealed with the current key (the last step
    /// of a key rotation, see `docs/adr/0010-store-token-encryption.md`). Runs in one
    /// transaction; returns how many tokens were rewritten. Fails, changing nothing, when a
    /// token cannot be decrypted with the configured keys.
    pub async fn reencrypt_tokens(&self) -> Result<u64, StoreError> {
        let Some(current) = self.cipher().current_key_id() else {
            return Err(StoreError::Unexpected(
                "no token key configured: set TROUPE_TOKEN_KEY before re-encrypting tokens".into(),
            ));
        };
        on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let all: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT user_id, token_ciphertext FROM auth_tokens ORDER BY user_id",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            let mut rewritten = 0;
            for (raw_user, sealed) in all {
                if crate::crypto::TokenCipher::key_id_of(&sealed) == Some(current)
                    && self
                        .cipher()
                        .decrypt(rows::user_id(raw_user)?, &sealed)
                        .is_ok()
                {
                    continue;
                }
                let user = rows::user_id(raw_user)?;
                let token = self.cipher().decrypt(user, &sealed)?;
                let resealed = self.cipher().encrypt(user, &token)?;
                sqlx::query("UPDATE auth_tokens SET token_ciphertext = $2 WHERE user_id = $1")
                    .bind(raw_user)
                    .bind(resealed.as_slice())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                rewritten += 1;
            }
            tx.commit().await.map_err(db)?;
            Ok(rewritten)
        })
    }
}
