//! The personality registry: names and aliases share one case-insensitive key space.

use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::personality::{Alias, Personality, PersonalityName};
use troupe_ports::{Page, PersonalityRepository, StoreError};

use crate::Store;
use crate::backend::{
    Violation, WritePool as _, db, from_sql_count, on_pool, to_sql_int, violation,
};
use crate::reads::{self, By, Change, Hit, VERSION_SQL, counter};
use crate::rows::{self, PersonalityRow, personality_columns};

/// Who holds `$1` as an alias, or whose name it is (the registry's one key space).
const KEY_OWNER: &str = "SELECT p.name FROM aliases a JOIN personalities p ON p.name_key = a.personality_key \
     WHERE a.alias_key = $1 \
     UNION ALL SELECT name FROM personalities WHERE name_key = $1";

const INSERT_PERSONALITY: &str = "INSERT INTO personalities (name_key, name, owner_id, display_name, display_key, \
     avatar_url, error_message, prompt, model, fetched_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

const UPDATE_PERSONALITY: &str = "UPDATE personalities SET name = $2, owner_id = $3, display_name = $4, \
     display_key = $5, avatar_url = $6, error_message = $7, prompt = $8, model = $9, \
     fetched_at = $10, created_at = $11, updated_at = $12 WHERE name_key = $1";

const INSERT_ALIAS: &str =
    "INSERT INTO aliases (alias_key, alias, personality_key, position) VALUES ($1, $2, $3, $4)";

const GET: &str = concat!(
    "SELECT ",
    personality_columns!(),
    ", a.alias FROM personalities p LEFT JOIN aliases a ON a.personality_key = p.name_key \
     WHERE p.name_key = $1 ORDER BY a.position"
);

const LOOKUP: &str = concat!(
    "SELECT ",
    personality_columns!(),
    ", a.alias FROM personalities p LEFT JOIN aliases a ON a.personality_key = p.name_key \
     WHERE p.name_key = (SELECT k FROM ( \
        SELECT name_key AS k, 0 AS r FROM personalities WHERE name_key = $1 \
        UNION ALL SELECT personality_key AS k, 1 AS r FROM aliases WHERE alias_key = $1 \
        UNION ALL SELECT name_key AS k, 2 AS r FROM personalities WHERE display_key = $1 \
     ) m ORDER BY r, k LIMIT 1) \
     ORDER BY a.position"
);

const PAGE: &str = concat!(
    "SELECT ",
    personality_columns!(),
    ", a.alias FROM (SELECT * FROM personalities WHERE owner_id = $1 ORDER BY name_key \
     LIMIT $2 OFFSET $3) p LEFT JOIN aliases a ON a.personality_key = p.name_key \
     ORDER BY p.name_key, a.position"
);

/// Binds the 12 columns of a personality row to `$1..$12` of `$sql`.
macro_rules! bind_personality {
    ($sql:expr, $p:expr) => {{
        let p: &Personality = $p;
        let profile = p.profile();
        sqlx::query($sql)
            .bind(p.name().key())
            .bind(p.name().as_str())
            .bind(p.owner().to_i64())
            .bind(profile.display_name.as_str())
            .bind(profile.display_name.key())
            .bind(profile.avatar_url.as_ref().map(|u| u.as_str()))
            .bind(profile.error_message.as_ref().map(|m| m.as_str()))
            .bind(profile.prompt.as_str())
            .bind(profile.model.as_ref().map(|m| m.as_str()))
            .bind(profile.fetched_at.map(|t| t.as_millis()))
            .bind(p.created_at().as_millis())
            .bind(p.updated_at().as_millis())
    }};
}

/// Refuses every alias of `$p` that another personality holds or that equals a name (its own
/// included), then writes them in order. Runs inside the registry transaction `$tx`.
macro_rules! check_and_write_aliases {
    ($tx:expr, $p:expr) => {{
        let p: &Personality = $p;
        for alias in p.aliases() {
            if alias.equals_name(p.name()) {
                return Err(StoreError::AliasTaken {
                    alias: alias.clone(),
                    owner: p.name().clone(),
                });
            }
            let owners: Vec<String> = sqlx::query_scalar(KEY_OWNER)
                .bind(alias.key())
                .fetch_all(&mut *$tx)
                .await
                .map_err(db)?;
            if let Some(owner) = owners
                .iter()
                .map(|o| rows::personality_name(o))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .find(|o| o != p.name())
            {
                return Err(StoreError::AliasTaken {
                    alias: alias.clone(),
                    owner,
                });
            }
        }
        sqlx::query("DELETE FROM aliases WHERE personality_key = $1")
            .bind(p.name().key())
            .execute(&mut *$tx)
            .await
            .map_err(db)?;
        for (position, alias) in p.aliases().iter().enumerate() {
            let written = sqlx::query(INSERT_ALIAS)
                .bind(alias.key())
                .bind(alias.as_str())
                .bind(p.name().key())
                .bind(position as i64)
                .execute(&mut *$tx)
                .await;
            match written {
                Ok(_) => {}
                // The same alias twice in one aggregate: it is already ours.
                Err(e) if violation(&e) == Some(Violation::Unique) => {}
                Err(e) => return Err(db(e)),
            }
        }
    }};
}

#[async_trait]
impl PersonalityRepository for Store {
    async fn insert(&self, personality: &Personality) -> Result<(), StoreError> {
        let name = personality.name();
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let versions = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_registry().await?;
            let before = counter!(tx, track, lock);
            let taken: Vec<String> = sqlx::query_scalar(KEY_OWNER)
                .bind(name.key())
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            if !taken.is_empty() {
                // The name exists, or is an alias of another personality: either way the
                // registry already uses this key.
                return Err(StoreError::NameTaken(name.clone()));
            }
            match bind_personality!(INSERT_PERSONALITY, personality)
                .execute(&mut *tx)
                .await
            {
                Ok(_) => {}
                Err(e) if violation(&e) == Some(Violation::Unique) => {
                    return Err(StoreError::NameTaken(name.clone()));
                }
                Err(e) => return Err(db(e)),
            }
            check_and_write_aliases!(tx, personality);
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            before.zip(after)
        });
        self.read_model_committed(versions, &[Change::Put(personality)])
            .await;
        Ok(())
    }

    async fn update(&self, personality: &Personality) -> Result<(), StoreError> {
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let versions = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_registry().await?;
            let before = counter!(tx, track, lock);
            let updated = bind_personality!(UPDATE_PERSONALITY, personality)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            check_and_write_aliases!(tx, personality);
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            before.zip(after)
        });
        self.read_model_committed(versions, &[Change::Put(personality)])
            .await;
        Ok(())
    }

    async fn move_alias(&self, alias: &Alias, to: &PersonalityName) -> Result<(), StoreError> {
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let versions = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_registry().await?;
            let before = counter!(tx, track, lock);
            let target: Option<String> =
                sqlx::query_scalar("SELECT name FROM personalities WHERE name_key = $1")
                    .bind(to.key())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if target.is_none() {
                return Err(StoreError::NotFound);
            }
            let named: Option<String> =
                sqlx::query_scalar("SELECT name FROM personalities WHERE name_key = $1")
                    .bind(alias.key())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if let Some(owner) = named {
                return Err(StoreError::AliasTaken {
                    alias: alias.clone(),
                    owner: rows::personality_name(&owner)?,
                });
            }
            let holder: Option<String> =
                sqlx::query_scalar("SELECT personality_key FROM aliases WHERE alias_key = $1")
                    .bind(alias.key())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if holder.as_deref() == Some(to.key()) {
                return tx.commit().await.map_err(db);
            }
            sqlx::query("DELETE FROM aliases WHERE alias_key = $1")
                .bind(alias.key())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(
                "INSERT INTO aliases (alias_key, alias, personality_key, position) \
                 SELECT $1, $2, $3, COALESCE(MAX(position) + 1, 0) FROM aliases WHERE personality_key = $3",
            )
            .bind(alias.key())
            .bind(alias.as_str())
            .bind(to.key())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            before.zip(after)
        });
        let change = Change::MoveAlias {
            alias: alias.key(),
            to: to.key(),
        };
        self.read_model_committed(versions, &[change]).await;
        Ok(())
    }

    async fn delete(&self, name: &PersonalityName) -> Result<bool, StoreError> {
        let _writing = self.reads().writing();
        let (track, lock) = (self.reads().tracking(), reads::lock_sql(self.kind()));
        let (deleted, versions) = on_pool!(self.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let before = counter!(tx, track, lock);
            let deleted = sqlx::query("DELETE FROM personalities WHERE name_key = $1")
                .bind(name.key())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
            let after = counter!(tx, track, VERSION_SQL);
            tx.commit().await.map_err(db)?;
            (deleted, before.zip(after))
        });
        self.read_model_committed(versions, &[Change::Delete(name.key())])
            .await;
        Ok(deleted > 0)
    }

    async fn get(&self, name: &PersonalityName) -> Result<Option<Personality>, StoreError> {
        if let Some(hit) = self.reads().personality(name.key(), By::Name) {
            return self.personality_hit(hit).await;
        }
        let found: Vec<PersonalityRow> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(GET).bind(name.key()).fetch_all(pool).await
        })
        .map_err(db)?;
        Ok(rows::personalities(found)?.into_iter().next())
    }

    async fn lookup(&self, query: &str) -> Result<Option<Personality>, StoreError> {
        let key = rows::query_key(query);
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(hit) = self.reads().personality(&key, By::Lookup) {
            return self.personality_hit(hit).await;
        }
        let found: Vec<PersonalityRow> = on_pool!(self.reader(), |pool| {
            sqlx::query_as(LOOKUP).bind(&key).fetch_all(pool).await
        })
        .map_err(db)?;
        Ok(rows::personalities(found)?.into_iter().next())
    }

    async fn alias_owner(&self, alias: &Alias) -> Result<Option<PersonalityName>, StoreError> {
        if let Some(owner) = self.reads().alias_owner(alias.key()) {
            return owner.as_deref().map(rows::personality_name).transpose();
        }
        let owner: Option<String> = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar(
                "SELECT p.name FROM aliases a JOIN personalities p ON p.name_key = a.personality_key \
                 WHERE a.alias_key = $1",
            )
            .bind(alias.key())
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        owner.as_deref().map(rows::personality_name).transpose()
    }

    async fn list_by_owner(
        &self,
        owner: UserId,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Personality>, StoreError> {
        if let Some(total) = self.reads().owned_by(owner.to_i64()) {
            if offset >= total {
                return Ok(Page {
                    items: Vec::new(),
                    total,
                });
            }
            let found: Vec<PersonalityRow> = on_pool!(self.reader(), |pool| {
                sqlx::query_as(PAGE)
                    .bind(owner.to_i64())
                    .bind(to_sql_int(limit))
                    .bind(to_sql_int(offset))
                    .fetch_all(pool)
                    .await
            })
            .map_err(db)?;
            return Ok(Page {
                items: rows::personalities(found)?,
                total,
            });
        }
        // Boxed: the transaction's state would otherwise make every call's future (also the
        // read model's answers above) several kilobytes, copied whole into async_trait's box.
        let (total, found): (i64, Vec<PersonalityRow>) = on_pool!(self.reader(), |pool| {
            Box::pin(async {
                let mut tx = pool.begin().await?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM personalities WHERE owner_id = $1")
                        .bind(owner.to_i64())
                        .fetch_one(&mut *tx)
                        .await?;
                let found = sqlx::query_as(PAGE)
                    .bind(owner.to_i64())
                    .bind(to_sql_int(limit))
                    .bind(to_sql_int(offset))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>((total, found))
            })
            .await
        })
        .map_err(db)?;
        Ok(Page {
            items: rows::personalities(found)?,
            total: from_sql_count(total),
        })
    }

    async fn count(&self) -> Result<u64, StoreError> {
        if let Some(n) = self.reads().count() {
            return Ok(n);
        }
        let n: i64 = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM personalities")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }
}

impl Store {
    /// Answers a personality read the read model resolved: absent, cached, or read by its name
    /// key (then cached).
    async fn personality_hit(&self, hit: Hit) -> Result<Option<Personality>, StoreError> {
        match hit {
            Hit::Absent => Ok(None),
            Hit::Cached(p) => Ok(Some(Personality::clone(&p))),
            Hit::Read {
                slot,
                key,
                generation,
            } => {
                let found: Vec<PersonalityRow> = on_pool!(self.reader(), |pool| {
                    sqlx::query_as(GET).bind(&key).fetch_all(pool).await
                })
                .map_err(db)?;
                let p = rows::personalities(found)?.into_iter().next();
                if let Some(p) = &p {
                    self.reads().remember(slot, &key, generation, p);
                }
                Ok(p)
            }
        }
    }
}
