//! Message and interaction ids already handled.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use troupe_domain::{Duration, MessageId, Timestamp};
use troupe_ports::{Clock as _, ProcessedMessages, StoreError, SystemClock};

use crate::Store;
use crate::backend::{Backend, db, from_sql_count, on_pool};

/// Every this many claims, claims older than their TTL are forgotten.
const PURGE_EVERY: u64 = 512;

#[async_trait]
impl ProcessedMessages for Store {
    async fn claim(
        &self,
        id: MessageId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let cutoff = now.minus(ttl).as_millis();
        let claimed: Option<i64> = on_pool!(self.backend(), |pool| {
            // Inserted, or re-claimed because the earlier claim is older than the TTL: a row
            // comes back. Claimed within the TTL: the update is skipped and nothing comes back.
            sqlx::query_scalar(
                "INSERT INTO processed_messages (message_id, claimed_at) VALUES ($1, $2) \
                 ON CONFLICT (message_id) DO UPDATE SET claimed_at = excluded.claimed_at \
                 WHERE processed_messages.claimed_at < $3 RETURNING message_id",
            )
            .bind(id.to_i64())
            .bind(now.as_millis())
            .bind(cutoff)
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        if self.inner.claims.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            on_pool!(self.backend(), |pool| {
                sqlx::query("DELETE FROM processed_messages WHERE claimed_at < $1")
                    .bind(cutoff)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .map_err(db)?;
        }
        Ok(claimed.is_some())
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM processed_messages")
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(db)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM processed_messages")
                .fetch_one(pool)
                .await
        })
        .map_err(db)?;
        Ok(from_sql_count(n))
    }
}

/// When Discord made the message or interaction `id` (milliseconds since the Unix epoch).
fn created_ms(id: u64) -> i64 {
    MessageId::new(id).map_or(0, |id| id.created_at().as_millis())
}

/// Settings of a [`ClaimBook`].
#[derive(Debug, Clone, Copy)]
pub struct ClaimBookSettings {
    /// Claims remembered in memory at most; older ones are asked of the store.
    pub remembered: usize,
    /// How long a claim is remembered in memory at most.
    pub window: std::time::Duration,
    /// Allowed difference between Discord's clock (snowflake times) and ours.
    pub skew: std::time::Duration,
    /// A claim whose answer was never reported ([`ProcessedMessages::settle`]) is written
    /// after this long anyway (its command hung or failed without an answer).
    pub settle_timeout: std::time::Duration,
    /// How often the background writer writes the settled claims.
    pub write_every: std::time::Duration,
}

impl Default for ClaimBookSettings {
    fn default() -> Self {
        Self {
            remembered: 16_384,
            window: std::time::Duration::from_secs(10 * 60),
            skew: std::time::Duration::from_secs(10),
            settle_timeout: std::time::Duration::from_secs(60),
            write_every: std::time::Duration::from_millis(200),
        }
    }
}

/// Message and interaction ids claimed in memory, made durable in batches off the reply path
/// (ADR 0030).
///
/// A claim of an id Discord made after this book started (with a margin for clock skew) and
/// after the oldest claim this book forgot is decided in memory: nobody else can have claimed
/// it, since this process handles its shards' events and a replay always carries an id seen
/// before. Every other claim (a replay after a restart or a resume, an id older than what the
/// memory holds) asks the store whether an earlier claim was written; either way the claim is
/// then recorded here, and written like any other.
///
/// A claim is written to the store once its command has been answered (the delivery reports
/// it with [`ProcessedMessages::settle`]), by a background task in group commits (one
/// transaction for everything settled since its last write), and by [`ClaimBook::flush`] at
/// shutdown. A process killed with claims unwritten leaves two kinds of events: those it never
/// answered, whose replay is answered (nothing is lost: a claim is never written before its
/// answer left), and those it answered in its last moments, whose replay is answered again —
/// with the same event-derived nonce, which Discord enforces, so the second answer is the
/// first message again, never a second one.
pub struct ClaimBook {
    store: Store,
    settings: ClaimBookSettings,
    /// Ids made before this are decided by the store.
    trusted_from_ms: i64,
    state: std::sync::Mutex<BookState>,
    writing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ClaimBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimBook").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct BookState {
    /// Claimed id → when.
    claimed: std::collections::HashMap<u64, i64>,
    /// Claims in the order they were made (for forgetting the oldest first).
    order: std::collections::VecDeque<(u64, i64)>,
    /// Claims whose answer has not been reported yet: id → claimed at.
    unsettled: std::collections::HashMap<u64, i64>,
    /// Answered claims not yet written to the store: (id, claimed at).
    pending: Vec<(i64, i64)>,
    /// The newest creation time of an id this book forgot: ids made before it (plus the skew)
    /// are decided by the store.
    forgot_up_to_ms: i64,
}

/// Longest list of unwritten claims kept while the store is down; beyond it the oldest are
/// dropped (logged): their events are already answered, only a replay would find them.
const MAX_PENDING: usize = 100_000;
/// Rows per INSERT statement of a batch on SQLite.
const ROWS_PER_STATEMENT: usize = 256;

impl ClaimBook {
    /// A book over `store`, trusting its memory for ids Discord makes from `now` on (plus
    /// `settings.skew`).
    pub fn new(store: Store, now: Timestamp, settings: ClaimBookSettings) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            store,
            settings,
            trusted_from_ms: now.as_millis() + settings.skew.as_millis() as i64,
            state: std::sync::Mutex::new(BookState::default()),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// Writes the settled claims to the store in the background (every
    /// [`ClaimBookSettings::write_every`], each time in one transaction; unsettled ones after
    /// [`ClaimBookSettings::settle_timeout`]) until `stop` completes, then writes all that is
    /// left. Call inside a tokio runtime.
    pub fn spawn_writer(
        self: &std::sync::Arc<Self>,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let book = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            tokio::pin!(stop);
            let mut tick = tokio::time::interval(book.settings.write_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    () = &mut stop => break,
                    _ = tick.tick() => {}
                }
                let timeout = book.settings.settle_timeout.as_millis() as i64;
                match book.write(SystemClock.now().as_millis() - timeout).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("message claims are written to the store again");
                    }
                    Ok(()) => {}
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "cannot write message claims; retrying");
                        }
                        failing = true;
                    }
                }
            }
            if let Err(error) = book.flush().await {
                tracing::warn!(%error, "cannot write the last message claims at shutdown");
            }
        })
    }

    /// Writes every claim made so far to the store (one transaction), answered or not: at
    /// shutdown, when the work in flight has finished, and before counting.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write(i64::MAX).await
    }

    /// Writes the settled claims, and the unsettled ones made at or before `unsettled_until`
    /// (milliseconds), in one transaction; forgets claims older than the TTL there now and then.
    async fn write(&self, unsettled_until: i64) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let batch: Vec<(i64, i64)> = {
            let mut state = self.lock();
            let mut batch = std::mem::take(&mut state.pending);
            let mut overdue = Vec::new();
            state.unsettled.retain(|&id, &mut at| {
                let due = at <= unsettled_until;
                if due {
                    overdue.push((id as i64, at));
                }
                !due
            });
            batch.extend(overdue);
            batch
        };
        if batch.is_empty() {
            return Ok(());
        }
        match self.store.write_claims(&batch).await {
            Ok(()) => {
                let written = batch.len() as u64;
                let before = self
                    .store
                    .inner
                    .claims
                    .fetch_add(written, Ordering::Relaxed);
                if before / PURGE_EVERY != (before + written) / PURGE_EVERY {
                    let cutoff = batch.iter().map(|c| c.1).min().unwrap_or_default() - TTL_MS;
                    self.store.purge_claims(cutoff).await?;
                }
                Ok(())
            }
            Err(error) => {
                let mut state = self.lock();
                let mut batch = batch;
                batch.append(&mut state.pending);
                if batch.len() > MAX_PENDING {
                    let dropped = batch.len() - MAX_PENDING;
                    batch.drain(..dropped);
                    tracing::warn!(dropped, "unwritten message claims dropped (store down)");
                }
                state.pending = batch;
                Err(error)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BookState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims remembered in memory.
    pub fn remembered(&self) -> usize {
        self.lock().claimed.len()
    }

    /// `Some(fresh)` when memory decides the claim (recording it), `None` when the store must.
    fn claim_in_memory(&self, id: MessageId, now: i64, ttl_ms: i64) -> Option<bool> {
        let mut state = self.lock();
        let window = self.settings.window.as_millis() as i64;
        // Forget what is out of the window or over the bound, oldest first.
        while let Some(&(old, at)) = state.order.front() {
            if state.order.len() <= self.settings.remembered && at >= now - window {
                break;
            }
            state.order.pop_front();
            if state.claimed.get(&old) == Some(&at) {
                state.claimed.remove(&old);
            }
            let made = created_ms(old);
            state.forgot_up_to_ms = state.forgot_up_to_ms.max(made);
        }
        if state.claimed_within(id, now - ttl_ms) {
            return Some(false);
        }
        let made = id.created_at().as_millis();
        let skew = self.settings.skew.as_millis() as i64;
        if made < self.trusted_from_ms || made <= state.forgot_up_to_ms + skew {
            return None;
        }
        state.record(id, now, true);
        Some(true)
    }

    /// After the store said whether `id` was claimed before (`elsewhere`): records the
    /// answer so a repeat is decided in memory, and claims it here when nobody had. `false`
    /// when it was claimed, by an earlier process or meanwhile by this one.
    fn decide(&self, id: MessageId, now: i64, ttl_ms: i64, elsewhere: bool) -> bool {
        let mut state = self.lock();
        if state.claimed_within(id, now - ttl_ms) {
            return false;
        }
        // Written once answered, like a fresh claim: a claim written before its answer would
        // lose the event if the process died in between.
        state.record(id, now, !elsewhere);
        !elsewhere
    }
}

impl BookState {
    /// Whether `id` was claimed here at or after `since`.
    fn claimed_within(&self, id: MessageId, since: i64) -> bool {
        self.claimed.get(&id.get()).is_some_and(|&at| at >= since)
    }

    /// Remembers the claim of `id` made `now`; `to_write`: it is this process's to write once
    /// its command is answered.
    fn record(&mut self, id: MessageId, now: i64, to_write: bool) {
        self.claimed.insert(id.get(), now);
        self.order.push_back((id.get(), now));
        if to_write {
            self.unsettled.insert(id.get(), now);
        }
    }
}

/// The TTL the purge of [`ClaimBook::flush`] assumes (the guard's and the flow's).
const TTL_MS: i64 = 60 * 60 * 1000;

#[async_trait]
impl ProcessedMessages for ClaimBook {
    async fn claim(
        &self,
        id: MessageId,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let at = now.as_millis();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        if let Some(fresh) = self.claim_in_memory(id, at, ttl_ms) {
            return Ok(fresh);
        }
        let elsewhere = self.store.claimed_since(id, at - ttl_ms).await?;
        Ok(self.decide(id, at, ttl_ms, elsewhere))
    }

    async fn settle(&self, id: MessageId) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(at) = state.unsettled.remove(&id.get()) {
            state.pending.push((id.to_i64(), at));
        }
        Ok(())
    }

    async fn clear(&self) -> Result<u64, StoreError> {
        {
            let mut state = self.lock();
            let forgot = state
                .order
                .iter()
                .map(|&(id, _)| created_ms(id))
                .max()
                .unwrap_or_default();
            state.forgot_up_to_ms = state.forgot_up_to_ms.max(forgot);
            state.claimed.clear();
            state.order.clear();
            state.unsettled.clear();
            state.pending.clear();
        }
        self.store.clear().await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.flush().await?;
        self.store.count().await
    }
}

impl Store {
    /// Writes claims `(message id, claimed at)` in one transaction. A claim already there
    /// keeps the newer of the two times, and so does an id twice in `claims` (answered, then
    /// claimed again after its TTL).
    ///
    /// On SQLite one multi-row INSERT per [`ROWS_PER_STATEMENT`] claims (sqlx prepares a
    /// statement for each batch size it meets and keeps it; statements of fixed power-of-two
    /// sizes, prepared once, cost a third more on the writer's thread for the extra statements,
    /// docs/PERFORMANCE.md, fourteenth pass). On PostgreSQL one INSERT over two arrays, one
    /// statement whatever the size; a multi-row INSERT naming an id twice fails there.
    async fn write_claims(&self, claims: &[(i64, i64)]) -> Result<(), StoreError> {
        match self.backend() {
            Backend::Sqlite(pool) => {
                let mut tx = crate::backend::WritePool::begin_write(pool).await?;
                for chunk in claims.chunks(ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO processed_messages (message_id, claimed_at) ",
                    );
                    insert.push_values(chunk, |mut row, &(id, at)| {
                        row.push_bind(id).push_bind(at);
                    });
                    insert.push(
                        " ON CONFLICT (message_id) DO UPDATE \
                         SET claimed_at = max(claimed_at, excluded.claimed_at)",
                    );
                    insert.build().execute(&mut *tx).await.map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }
            Backend::Postgres(pool) => {
                let (ids, ats): (Vec<i64>, Vec<i64>) = claims.iter().copied().unzip();
                sqlx::query(
                    "INSERT INTO processed_messages (message_id, claimed_at) \
                     SELECT id, max(at) FROM UNNEST($1::int8[], $2::int8[]) AS c (id, at) \
                     GROUP BY id \
                     ON CONFLICT (message_id) DO UPDATE \
                     SET claimed_at = GREATEST(processed_messages.claimed_at, excluded.claimed_at)",
                )
                .bind(ids)
                .bind(ats)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(db)
            }
        }
    }

    /// Whether `id` was claimed at or after `since` (milliseconds).
    async fn claimed_since(&self, id: MessageId, since: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = on_pool!(self.reader(), |pool| {
            sqlx::query_scalar(
                "SELECT message_id FROM processed_messages \
                 WHERE message_id = $1 AND claimed_at >= $2",
            )
            .bind(id.to_i64())
            .bind(since)
            .fetch_optional(pool)
            .await
        })
        .map_err(db)?;
        Ok(found.is_some())
    }

    /// Forgets claims made before `cutoff` (milliseconds).
    async fn purge_claims(&self, cutoff: i64) -> Result<(), StoreError> {
        on_pool!(self.backend(), |pool| {
            sqlx::query("DELETE FROM processed_messages WHERE claimed_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(db)
    }
}
