//! The read model (ADR 0031): the hot reads of the storage ports served from memory.
//!
//! What it holds: a compact index of the personality registry (name key, name, display key,
//! owner and alias keys of every personality; no profiles), a bounded cache of recently used
//! full personalities, every channel activation, the set of users with autorespond on, and who
//! holds a token (with its expiry; the token itself stays in the database) or an age
//! verification (migration 0070).
//!
//! How it stays true:
//! - Migration 0060's counter row (`read_model_version`) is bumped by a trigger in the
//!   transaction of every row change of the tables behind the model, by every process. Its
//!   committed values grow in commit order.
//! - A write of this store reads the counter at the start of its transaction (holding the row
//!   lock on PostgreSQL, `FOR UPDATE`; SQLite writers hold the database's write lock) and at
//!   the end. After the commit, if the model stands exactly at the first value, every change
//!   between the two was this write's own: it is applied to the model, which moves to the
//!   second value. Otherwise the model is behind: it is not served until a rebuild reaches at
//!   least that second value (the *floor*).
//! - The feed ([`Store::start_read_model`]) polls the counter every 250 ms, and on PostgreSQL
//!   also listens to `troupe_reads` (notified at commit). When the counter differs from the
//!   model's version, the model is rebuilt from one consistent snapshot (counter and rows read
//!   in one read transaction). A rebuild older than the floor, or older than the model, is
//!   discarded: it never overwrites a newer own write.
//! - Reads are served from memory only while the model is loaded, has reached the floor, and
//!   the feed confirmed its version less than [`STALE_AFTER`] ago. Otherwise, and whenever the
//!   feed fails, every read goes to SQL as before (correctness first).

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use sqlx::Row as _;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use troupe_domain::personality::{Alias, Personality};
use troupe_ports::StoreError;

use crate::Store;
use crate::backend::{Backend, BackendKind, db, from_sql_count, on_pool};
use crate::rows::corrupt;

/// How often the feed reads the counter.
pub(crate) const POLL: Duration = Duration::from_millis(250);
/// How long a model whose version the feed has not confirmed is still served.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(2);
/// At most this many full personalities are cached...
const CACHE_ENTRIES: usize = 1024;
/// ...holding at most about this many bytes of text.
const CACHE_BYTES: usize = 2 << 20;
/// The channel migration 0060's trigger notifies on PostgreSQL.
const CHANNEL: &str = "troupe_reads";

/// The counter, read without a lock.
pub(crate) const VERSION_SQL: &str = "SELECT version FROM read_model_version WHERE id = 1";

/// The counter, read at the start of a write transaction: on PostgreSQL the row lock makes
/// every later bump until the commit this transaction's own.
pub(crate) fn lock_sql(kind: BackendKind) -> &'static str {
    match kind {
        // SQLite writers hold the database's write lock from `BEGIN IMMEDIATE` on.
        BackendKind::Sqlite => VERSION_SQL,
        BackendKind::Postgres => "SELECT version FROM read_model_version WHERE id = 1 FOR UPDATE",
    }
}

/// Reads the counter inside the transaction `$tx` when `$track`: `Option<u64>`, `?` on errors.
macro_rules! counter {
    ($tx:expr, $track:expr, $sql:expr) => {
        if $track {
            let v: i64 = sqlx::query_scalar($sql)
                .fetch_one(&mut *$tx)
                .await
                .map_err($crate::backend::db)?;
            Some($crate::backend::from_sql_count(v))
        } else {
            None
        }
    };
}
pub(crate) use counter;

/// Runs one statement (`$query`, built per backend) on `$store` in a write transaction that
/// records the counter around it, then applies `$change` to the model: the store's own reads
/// see the write at once. Evaluates to the rows the statement affected; `?` on errors.
macro_rules! tracked_write {
    ($store:expr, $change:expr, $query:expr) => {{
        use $crate::backend::WritePool as _;
        let reads = $store.reads();
        let _writing = reads.writing();
        let (track, lock) = (reads.tracking(), $crate::reads::lock_sql($store.kind()));
        let (affected, versions) = $crate::backend::on_pool!($store.backend(), |pool| {
            let mut tx = pool.begin_write().await?;
            let before = $crate::reads::counter!(tx, track, lock);
            let affected = $query
                .execute(&mut *tx)
                .await
                .map_err($crate::backend::db)?
                .rows_affected();
            let after = $crate::reads::counter!(tx, track, $crate::reads::VERSION_SQL);
            tx.commit().await.map_err($crate::backend::db)?;
            (affected, before.zip(after))
        });
        $store.read_model_committed(versions, &[$change]).await;
        affected
    }};
}
pub(crate) use tracked_write;

// ---------------------------------------------------------------------------------------------
// The registry index.

/// A hasher for keys that are already hashes (random-keyed SipHash fingerprints, 32 bits):
/// spread over 64 bits (the map takes its probe tag from the top bits).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Fingerprint → a slot, or (with [`GROUP`] set) a group of slots: 8 bytes per key.
type ByFingerprint = HashMap<u32, u32, BuildHasherDefault<PassThrough>>;

/// Marks a [`ByFingerprint`] value as the index of a group (several personalities whose
/// strings share a fingerprint: a shared display name, or a collision).
const GROUP: u32 = 1 << 31;

/// One personality as the index knows it: its name key, name, display key and alias keys in
/// one string, and its owner.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    text: Box<str>,
    /// The ends of the name key, the name and the display key in `text`.
    ends: [u16; 3],
    /// The ends of the alias keys in `text`, after the display key.
    alias_ends: Box<[u16]>,
    owner: i64,
}

impl Entry {
    /// `None` when a string is too long for the compact form (the model is then not loaded and
    /// every read goes to SQL; validated names are far shorter).
    pub(crate) fn new(
        key: &str,
        name: &str,
        display_key: &str,
        alias_keys: &[&str],
        owner: i64,
    ) -> Option<Self> {
        let mut text = String::with_capacity(
            key.len()
                + name.len()
                + display_key.len()
                + alias_keys.iter().map(|a| a.len()).sum::<usize>(),
        );
        let end = |part: &str, text: &mut String| {
            text.push_str(part);
            u16::try_from(text.len()).ok()
        };
        let ends = [
            end(key, &mut text)?,
            end(name, &mut text)?,
            end(display_key, &mut text)?,
        ];
        let mut alias_ends = Vec::with_capacity(alias_keys.len());
        for (i, alias) in alias_keys.iter().enumerate() {
            if alias_keys[..i].contains(alias) {
                continue;
            }
            alias_ends.push(end(alias, &mut text)?);
        }
        Some(Self {
            text: text.into_boxed_str(),
            ends,
            alias_ends: alias_ends.into_boxed_slice(),
            owner,
        })
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text
            .get(usize::from(start)..usize::from(self.ends[i]))
            .unwrap_or_default()
    }

    pub(crate) fn key(&self) -> &str {
        self.part(0)
    }

    pub(crate) fn name(&self) -> &str {
        self.part(1)
    }

    fn display_key(&self) -> &str {
        self.part(2)
    }

    pub(crate) fn alias_keys(&self) -> impl Iterator<Item = &str> {
        let mut start = self.ends[2];
        self.alias_ends.iter().map(move |&end| {
            let s = self
                .text
                .get(usize::from(start)..usize::from(end))
                .unwrap_or_default();
            start = end;
            s
        })
    }

    fn strings(&self) -> impl Iterator<Item = &str> {
        [self.key(), self.display_key()]
            .into_iter()
            .chain(self.alias_keys())
    }

    /// This entry with its alias keys replaced.
    fn with_aliases(&self, alias_keys: &[&str]) -> Option<Self> {
        Self::new(
            self.key(),
            self.name(),
            self.display_key(),
            alias_keys,
            self.owner,
        )
    }
}

/// The personality registry's keys: see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    fingerprints: RandomState,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    keys: ByFingerprint,
    /// The groups [`GROUP`] values point at, and the free ones.
    groups: Vec<Vec<u32>>,
    free_groups: Vec<u32>,
    owners: HashMap<i64, u32>,
    count: usize,
}

/// How a query is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// Exactly the name key ([`PersonalityRepository::get`](troupe_ports::PersonalityRepository::get)).
    Name,
    /// Name, then alias, then display name; among display names the smallest name key (the
    /// precedence of the SQL lookup).
    Lookup,
}

impl Registry {
    fn fp(&self, s: &str) -> u32 {
        self.fingerprints.hash_one(s) as u32
    }

    /// The slots behind a [`ByFingerprint`] value.
    fn slots_of(&self, value: u32) -> &[u32] {
        if value & GROUP == 0 {
            return &[];
        }
        self.groups
            .get((value & !GROUP) as usize)
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn entry(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn candidates(&self, key: &str) -> impl Iterator<Item = (u32, &Entry)> {
        let value = self.keys.get(&self.fp(key)).copied();
        let single = value.filter(|v| v & GROUP == 0);
        let group = value.map_or(&[][..], |v| self.slots_of(v));
        single
            .into_iter()
            .chain(group.iter().copied())
            .filter_map(|s| self.entry(s).map(|e| (s, e)))
    }

    /// The slot of the personality whose name key is `key`.
    pub(crate) fn named(&self, key: &str) -> Option<u32> {
        self.candidates(key)
            .find(|(_, e)| e.key() == key)
            .map(|(s, _)| s)
    }

    /// The slot of the personality holding the alias key `key`.
    pub(crate) fn alias_holder(&self, key: &str) -> Option<u32> {
        self.candidates(key)
            .find(|(_, e)| e.alias_keys().any(|a| a == key))
            .map(|(s, _)| s)
    }

    pub(crate) fn find(&self, key: &str, by: By) -> Option<u32> {
        if by == By::Name {
            return self.named(key);
        }
        let mut best: Option<(u8, &str, u32)> = None;
        for (slot, e) in self.candidates(key) {
            let rank = if e.key() == key {
                0
            } else if e.alias_keys().any(|a| a == key) {
                1
            } else if e.display_key() == key {
                2
            } else {
                continue;
            };
            if best.is_none_or(|(r, k, _)| (rank, e.key()) < (r, k)) {
                best = Some((rank, e.key(), slot));
            }
        }
        best.map(|(_, _, s)| s)
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    pub(crate) fn owned_by(&self, owner: i64) -> u64 {
        self.owners.get(&owner).copied().map_or(0, u64::from)
    }

    fn index(&mut self, slot: u32, entry: &Entry) {
        for s in entry.strings() {
            let fp = self.fp(s);
            match self.keys.get(&fp).copied() {
                None => {
                    self.keys.insert(fp, slot);
                }
                Some(v) if v == slot => {}
                Some(v) if v & GROUP == 0 => {
                    let group = vec![v, slot];
                    let g = if let Some(g) = self.free_groups.pop() {
                        if let Some(place) = self.groups.get_mut(g as usize) {
                            *place = group;
                        }
                        g
                    } else {
                        self.groups.push(group);
                        (self.groups.len() - 1) as u32
                    };
                    self.keys.insert(fp, g | GROUP);
                }
                Some(v) => {
                    if let Some(group) = self.groups.get_mut((v & !GROUP) as usize)
                        && !group.contains(&slot)
                    {
                        group.push(slot);
                    }
                }
            }
        }
        *self.owners.entry(entry.owner).or_default() += 1;
    }

    fn unindex(&mut self, slot: u32, entry: &Entry) {
        for s in entry.strings() {
            let fp = self.fp(s);
            match self.keys.get(&fp).copied() {
                Some(v) if v == slot => {
                    self.keys.remove(&fp);
                }
                Some(v) if v & GROUP != 0 => {
                    let g = v & !GROUP;
                    let Some(group) = self.groups.get_mut(g as usize) else {
                        continue;
                    };
                    group.retain(|s| *s != slot);
                    match group.as_slice() {
                        [] => {
                            self.keys.remove(&fp);
                        }
                        [only] => {
                            self.keys.insert(fp, *only);
                        }
                        _ => continue,
                    }
                    *group = Vec::new();
                    self.free_groups.push(g);
                }
                _ => {}
            }
        }
        if let MapEntry::Occupied(mut o) = self.owners.entry(entry.owner) {
            *o.get_mut() = o.get().saturating_sub(1);
            if *o.get() == 0 {
                o.remove();
            }
        }
    }

    /// Adds a personality (or replaces the one with its name key, keeping its slot).
    pub(crate) fn put(&mut self, entry: Entry) -> u32 {
        if let Some(slot) = self.named(entry.key()) {
            self.replace(slot, entry);
            return slot;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
        });
        self.index(slot, &entry);
        if let Some(place) = self.slots.get_mut(slot as usize) {
            *place = Some(entry);
        }
        self.count += 1;
        slot
    }

    fn replace(&mut self, slot: u32, entry: Entry) {
        if let Some(old) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.unindex(slot, &old);
        }
        self.index(slot, &entry);
        if let Some(place) = self.slots.get_mut(slot as usize) {
            *place = Some(entry);
        }
    }

    /// Removes the personality with this name key; returns its slot.
    pub(crate) fn remove(&mut self, key: &str) -> Option<u32> {
        let slot = self.named(key)?;
        let old = self.slots.get_mut(slot as usize).and_then(Option::take)?;
        self.unindex(slot, &old);
        self.free.push(slot);
        self.count -= 1;
        Some(slot)
    }

    fn reserve(&mut self, personalities: usize) {
        self.slots.reserve_exact(personalities);
        // Name, display name and about one alias each; shared strings take one key.
        self.keys.reserve(personalities.saturating_mul(3));
        self.owners.reserve(personalities / 8);
    }

    fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        self.free.shrink_to_fit();
        self.keys.shrink_to_fit();
        self.groups.shrink_to_fit();
        self.owners.shrink_to_fit();
    }
}

// ---------------------------------------------------------------------------------------------
// The cache of full personalities.

struct Cached {
    personality: Arc<Personality>,
    used: AtomicBool,
    bytes: usize,
}

/// Recently used personalities by slot, bounded by count and bytes; evicted by the clock
/// (second chance) algorithm, so a hit needs only the shared lock.
#[derive(Default)]
struct Cache {
    map: HashMap<u32, Cached>,
    clock: VecDeque<u32>,
    bytes: usize,
}

fn approximate_size(p: &Personality) -> usize {
    let profile = p.profile();
    std::mem::size_of::<Personality>()
        + p.name().as_str().len() * 2
        + p.aliases()
            .iter()
            .map(|a| a.as_str().len() * 2 + 48)
            .sum::<usize>()
        + profile.display_name.as_str().len() * 2
        + profile.prompt.as_str().len()
        + profile.avatar_url.as_ref().map_or(0, |u| u.as_str().len())
        + profile
            .error_message
            .as_ref()
            .map_or(0, |m| m.as_str().len())
        + profile.model.as_ref().map_or(0, |m| m.as_str().len())
}

impl Cache {
    fn get(&self, slot: u32) -> Option<Arc<Personality>> {
        let c = self.map.get(&slot)?;
        c.used.store(true, Ordering::Relaxed);
        Some(Arc::clone(&c.personality))
    }

    fn forget(&mut self, slot: u32) {
        if let Some(c) = self.map.remove(&slot) {
            self.bytes -= c.bytes;
            self.clock.retain(|s| *s != slot);
        }
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    fn insert(&mut self, slot: u32, personality: Personality) {
        let bytes = approximate_size(&personality);
        if bytes > CACHE_BYTES {
            return;
        }
        self.forget(slot);
        while !self.map.is_empty()
            && (self.map.len() >= CACHE_ENTRIES || self.bytes + bytes > CACHE_BYTES)
        {
            let Some(victim) = self.clock.pop_front() else {
                break;
            };
            match self.map.get(&victim) {
                Some(c) if c.used.swap(false, Ordering::Relaxed) => self.clock.push_back(victim),
                Some(_) => {
                    if let Some(c) = self.map.remove(&victim) {
                        self.bytes -= c.bytes;
                    }
                }
                None => {}
            }
        }
        self.map.insert(
            slot,
            Cached {
                personality: Arc::new(personality),
                used: AtomicBool::new(false),
                bytes,
            },
        );
        self.clock.push_back(slot);
        self.bytes += bytes;
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

#[derive(Debug, Clone, Copy)]
pub(crate) struct Activation {
    slot: u32,
    by: i64,
    at: i64,
}

/// The model's content at one counter version.
#[derive(Default)]
pub(crate) struct Content {
    registry: Registry,
    activations: HashMap<i64, Activation>,
    autorespond: HashSet<i64>,
    /// User → when their stored token expires (milliseconds). Not the token: a secret.
    tokens: HashMap<i64, i64>,
    /// User → when they were age-verified (milliseconds).
    verifications: HashMap<i64, i64>,
}

struct State {
    /// Loaded and kept by a running feed.
    live: bool,
    /// The counter version the content reflects.
    version: u64,
    /// The newest counter version of a write of this store: below it the content misses a
    /// committed write and is not served.
    floor: u64,
    /// Moves on every change of the registry (own write or rebuild): a personality read from
    /// SQL is cached only if it did not move meanwhile.
    registry_generation: u64,
    /// When the feed last saw the counter at `version`.
    confirmed: Instant,
    content: Content,
    cache: Cache,
}

/// A committed write, as the model applies it.
#[derive(Debug)]
pub(crate) enum Change<'a> {
    /// A personality inserted or updated (with its whole alias set).
    Put(&'a Personality),
    /// An alias key moved to the personality with this name key.
    MoveAlias {
        alias: &'a str,
        to: &'a str,
    },
    /// A personality deleted (with its aliases and activations).
    Delete(&'a str),
    Activate {
        channel: i64,
        personality: &'a str,
        by: i64,
        at: i64,
    },
    Deactivate(i64),
    Autorespond {
        user: i64,
        enabled: bool,
    },
    /// A user's token stored (expiring then) or deleted (`None`).
    Token {
        user: i64,
        expires: Option<i64>,
    },
    /// Every token expired at this time deleted.
    ExpiredTokens(i64),
    /// A user's age verification recorded (the first one is kept) or removed (`None`).
    Verification {
        user: i64,
        at: Option<i64>,
    },
}

impl Content {
    /// Applies a change; `Err` when the content does not fit it (the model is then rebuilt).
    fn apply(&mut self, change: &Change<'_>, cache: &mut Cache) -> Result<bool, ()> {
        match *change {
            Change::Put(p) => {
                let aliases: Vec<&str> = p.aliases().iter().map(Alias::key).collect();
                let entry = Entry::new(
                    p.name().key(),
                    p.name().as_str(),
                    p.profile().display_name.key(),
                    &aliases,
                    p.owner().to_i64(),
                )
                .ok_or(())?;
                let slot = self.registry.put(entry);
                cache.forget(slot);
                Ok(true)
            }
            Change::MoveAlias { alias, to } => {
                let target = self.registry.named(to).ok_or(())?;
                if let Some(holder) = self.registry.alias_holder(alias) {
                    if holder == target {
                        return Ok(false);
                    }
                    let entry = self.registry.entry(holder).ok_or(())?;
                    let rest: Vec<&str> = entry.alias_keys().filter(|a| *a != alias).collect();
                    let entry = entry.with_aliases(&rest).ok_or(())?;
                    self.registry.replace(holder, entry);
                    cache.forget(holder);
                }
                let entry = self.registry.entry(target).ok_or(())?;
                let mut aliases: Vec<&str> = entry.alias_keys().collect();
                aliases.push(alias);
                let entry = entry.with_aliases(&aliases).ok_or(())?;
                self.registry.replace(target, entry);
                cache.forget(target);
                Ok(true)
            }
            Change::Delete(key) => {
                if let Some(slot) = self.registry.remove(key) {
                    self.activations.retain(|_, a| a.slot != slot);
                    cache.forget(slot);
                    return Ok(true);
                }
                Ok(false)
            }
            Change::Activate {
                channel,
                personality,
                by,
                at,
            } => {
                let slot = self.registry.named(personality).ok_or(())?;
                self.activations
                    .insert(channel, Activation { slot, by, at });
                Ok(false)
            }
            Change::Deactivate(channel) => {
                self.activations.remove(&channel);
                Ok(false)
            }
            Change::Autorespond { user, enabled } => {
                if enabled {
                    self.autorespond.insert(user);
                } else {
                    self.autorespond.remove(&user);
                }
                Ok(false)
            }
            Change::Token { user, expires } => {
                match expires {
                    Some(expires) => self.tokens.insert(user, expires),
                    None => self.tokens.remove(&user),
                };
                Ok(false)
            }
            Change::ExpiredTokens(now) => {
                self.tokens.retain(|_, expires| *expires > now);
                Ok(false)
            }
            Change::Verification { user, at } => {
                match at {
                    Some(at) => {
                        self.verifications.entry(user).or_insert(at);
                    }
                    None => {
                        self.verifications.remove(&user);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// What the model says about a personality.
pub(crate) enum Hit {
    /// There is none.
    Absent,
    /// Here it is.
    Cached(Arc<Personality>),
    /// It exists with this name key; read its row (and [`ReadModel::remember`] it).
    Read {
        slot: u32,
        key: String,
        generation: u64,
    },
}

/// The read model of one [`Store`]: see the module documentation.
pub(crate) struct ReadModel {
    state: RwLock<State>,
    /// Writes record the counter around their changes (set once the counter was read: the
    /// migration is there).
    tracking: AtomicBool,
    /// A feed runs.
    running: AtomicBool,
    /// Wakes the feed: the model needs a rebuild.
    wake: Notify,
    /// Rebuilds installed (for tests and diagnostics).
    rebuilds: AtomicU64,
    /// Writes of this store under way (a poll that sees the counter move while one is between
    /// its commit and its update of the model waits for it rather than rebuilding).
    writing: AtomicUsize,
}

/// A write of this store under way ([`ReadModel::writing`]).
pub(crate) struct Writing<'a>(&'a AtomicUsize);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for ReadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModel")
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for ReadModel {
    fn default() -> Self {
        Self {
            state: RwLock::new(State {
                live: false,
                version: 0,
                floor: 0,
                registry_generation: 0,
                confirmed: Instant::now(),
                content: Content::default(),
                cache: Cache::default(),
            }),
            tracking: AtomicBool::new(false),
            running: AtomicBool::new(false),
            wake: Notify::new(),
            rebuilds: AtomicU64::new(0),
            writing: AtomicUsize::new(0),
        }
    }
}

impl ReadModel {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        match self.state.write() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic while changing the model: it may be half-changed. Not served until
                // rebuilt.
                let mut g = poisoned.into_inner();
                g.live = false;
                self.state.clear_poison();
                self.wake.notify_one();
                g
            }
        }
    }

    /// The state, if reads may be answered from it now.
    fn serving(&self) -> Option<RwLockReadGuard<'_, State>> {
        let st = self.read();
        (st.live && st.version >= st.floor && st.confirmed.elapsed() < STALE_AFTER).then_some(st)
    }

    /// Whether reads are answered from memory now.
    pub(crate) fn is_serving(&self) -> bool {
        self.serving().is_some()
    }

    pub(crate) fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    /// Marks a write of this store under way until the returned guard is dropped (after the
    /// write updated the model).
    pub(crate) fn writing(&self) -> Writing<'_> {
        self.writing.fetch_add(1, Ordering::SeqCst);
        Writing(&self.writing)
    }

    /// Whether writes must record the counter around their changes.
    pub(crate) fn tracking(&self) -> bool {
        self.tracking.load(Ordering::SeqCst)
    }

    // --- reads: `None` means "ask SQL" --------------------------------------------------------

    pub(crate) fn personality(&self, key: &str, by: By) -> Option<Hit> {
        let st = self.serving()?;
        let Some(slot) = st.content.registry.find(key, by) else {
            return Some(Hit::Absent);
        };
        if let Some(p) = st.cache.get(slot) {
            return Some(Hit::Cached(p));
        }
        let key = st.content.registry.entry(slot)?.key().to_owned();
        Some(Hit::Read {
            slot,
            key,
            generation: st.registry_generation,
        })
    }

    /// Caches a personality read from SQL after [`Hit::Read`], unless the registry changed
    /// meanwhile (the row read may then be older than the model).
    pub(crate) fn remember(&self, slot: u32, key: &str, generation: u64, p: &Personality) {
        let mut st = self.write();
        if !st.live
            || st.registry_generation != generation
            || st
                .content
                .registry
                .entry(slot)
                .is_none_or(|e| e.key() != key)
            || p.name().key() != key
        {
            return;
        }
        st.cache.insert(slot, p.clone());
    }

    /// The name of the personality holding the alias key, `Some(None)` when nobody does.
    #[expect(
        clippy::option_option,
        reason = "None: ask SQL; Some(None): known to be absent"
    )]
    pub(crate) fn alias_owner(&self, alias_key: &str) -> Option<Option<String>> {
        let st = self.serving()?;
        let registry = &st.content.registry;
        Some(
            registry
                .alias_holder(alias_key)
                .and_then(|s| registry.entry(s))
                .map(|e| e.name().to_owned()),
        )
    }

    pub(crate) fn count(&self) -> Option<u64> {
        Some(self.serving()?.content.registry.count() as u64)
    }

    pub(crate) fn owned_by(&self, owner: i64) -> Option<u64> {
        Some(self.serving()?.content.registry.owned_by(owner))
    }

    /// The channel's activation: (personality name, activated by, at).
    #[expect(
        clippy::option_option,
        reason = "None: ask SQL; Some(None): known to be absent"
    )]
    pub(crate) fn activation(&self, channel: i64) -> Option<Option<(String, i64, i64)>> {
        let st = self.serving()?;
        let Some(a) = st.content.activations.get(&channel) else {
            return Some(None);
        };
        let entry = st.content.registry.entry(a.slot)?;
        Some(Some((entry.name().to_owned(), a.by, a.at)))
    }

    pub(crate) fn count_activations(&self) -> Option<u64> {
        Some(self.serving()?.content.activations.len() as u64)
    }

    pub(crate) fn autorespond(&self, user: i64) -> Option<bool> {
        Some(self.serving()?.content.autorespond.contains(&user))
    }

    /// When the user's stored token expires (`Some(None)`: they hold none).
    #[expect(
        clippy::option_option,
        reason = "None: ask SQL; Some(None): known to be absent"
    )]
    pub(crate) fn token_expiry(&self, user: i64) -> Option<Option<i64>> {
        Some(self.serving()?.content.tokens.get(&user).copied())
    }

    /// When the user was age-verified (`Some(None)`: never).
    #[expect(
        clippy::option_option,
        reason = "None: ask SQL; Some(None): known to be absent"
    )]
    pub(crate) fn verified_at(&self, user: i64) -> Option<Option<i64>> {
        Some(self.serving()?.content.verifications.get(&user).copied())
    }

    // --- writes -------------------------------------------------------------------------------

    /// A write of this store committed; the counter stood at `before` when it started
    /// (locked) and at `after` when it ended.
    pub(crate) fn committed(&self, before: u64, after: u64, changes: &[Change<'_>]) {
        let mut st = self.write();
        st.floor = st.floor.max(after);
        if !st.live || st.version >= after {
            // Not loaded (the next rebuild reaches the floor), or a rebuild already read it.
            return;
        }
        if st.version != before {
            // Others' changes lie between: behind the floor, not served until rebuilt.
            drop(st);
            self.wake.notify_one();
            return;
        }
        let State { content, cache, .. } = &mut *st;
        let mut registry_changed = false;
        for change in changes {
            let Ok(changed) = content.apply(change, cache) else {
                st.live = false;
                drop(st);
                self.wake.notify_one();
                return;
            };
            registry_changed |= changed;
        }
        if registry_changed {
            st.registry_generation += 1;
        }
        st.version = after;
    }

    /// A write of this store committed at counter version `after` or earlier, its changes
    /// unknown (a restore, an import): not served until a rebuild reaches it.
    pub(crate) fn committed_unknown(&self, after: u64) {
        let mut st = self.write();
        st.floor = st.floor.max(after);
        drop(st);
        self.wake.notify_one();
    }

    /// The counter could not be read after a write: not served until rebuilt.
    pub(crate) fn lost_track(&self) {
        self.write().live = false;
        self.wake.notify_one();
    }

    // --- the feed -----------------------------------------------------------------------------

    /// The counter read at `at` says `version`: whether the model must be rebuilt.
    fn polled(&self, version: u64, at: Instant) -> bool {
        let mut st = self.write();
        if version > st.version {
            // Another process changed the tables: not served until rebuilt to this version.
            st.floor = st.floor.max(version);
            return true;
        }
        if !st.live || version < st.floor {
            return true;
        }
        if version == st.version {
            st.confirmed = at;
            return false;
        }
        // The model is newer than the counter read (an own write committed after the read):
        // the next poll confirms it.
        false
    }

    /// Installs a rebuilt content read at counter `version` (the read started at `at`), unless
    /// the model has newer data. Returns whether the model is now at least at `version`.
    fn install(&self, version: u64, content: Content, at: Instant) -> bool {
        let mut st = self.write();
        if !self.running.load(Ordering::SeqCst) {
            // The feed was stopped meanwhile.
            return true;
        }
        if version < st.floor {
            // Older than a write of this store: would hide it.
            return false;
        }
        if st.live && st.version >= version {
            if st.version == version {
                st.confirmed = at;
            }
            return true;
        }
        st.content = content;
        st.cache.clear();
        st.version = version;
        st.registry_generation += 1;
        st.confirmed = at;
        st.live = true;
        drop(st);
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn stop(&self) {
        let mut st = self.write();
        self.tracking.store(false, Ordering::SeqCst);
        self.running.store(false, Ordering::SeqCst);
        st.live = false;
        st.content = Content::default();
        st.cache.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Loading.

async fn read_version(backend: &Backend) -> Result<u64, StoreError> {
    let v: i64 = on_pool!(backend, |pool| sqlx::query_scalar(VERSION_SQL)
        .fetch_one(pool)
        .await)
    .map_err(db)?;
    Ok(from_sql_count(v))
}

/// Every personality with its alias keys, grouped (ordered by name key).
const REGISTRY_SQL: &str = "SELECT p.name_key, p.name, p.display_key, p.owner_id, a.alias_key \
     FROM personalities p LEFT JOIN aliases a ON a.personality_key = p.name_key \
     ORDER BY p.name_key, a.position";

/// Groups the rows of one personality into its entry, reusing its buffers (no allocation
/// per row: a load leaves little garbage behind).
#[derive(Default)]
struct Grouping {
    open: bool,
    key: String,
    name: String,
    display: String,
    owner: i64,
    aliases: String,
    alias_ends: Vec<usize>,
}

impl Grouping {
    fn push(
        &mut self,
        (key, name, display, owner, alias): (&str, &str, &str, i64, Option<&str>),
        registry: &mut Registry,
    ) -> Result<(), StoreError> {
        if !self.open || self.key != key {
            self.flush(registry)?;
            self.open = true;
            self.key.push_str(key);
            self.name.push_str(name);
            self.display.push_str(display);
            self.owner = owner;
        }
        if let Some(alias) = alias {
            self.aliases.push_str(alias);
            self.alias_ends.push(self.aliases.len());
        }
        Ok(())
    }

    fn flush(&mut self, registry: &mut Registry) -> Result<(), StoreError> {
        if self.open {
            let mut start = 0;
            let aliases: Vec<&str> = self
                .alias_ends
                .iter()
                .map(|&end| {
                    let a = self.aliases.get(start..end).unwrap_or_default();
                    start = end;
                    a
                })
                .collect();
            let entry = Entry::new(&self.key, &self.name, &self.display, &aliases, self.owner)
                .ok_or_else(|| {
                    corrupt(&format!("personality {}", self.key), "a key is too long")
                })?;
            registry.put(entry);
            self.open = false;
            self.key.clear();
            self.name.clear();
            self.display.clear();
            self.aliases.clear();
            self.alias_ends.clear();
        }
        Ok(())
    }
}

/// Reads the counter and the content in one read transaction (one snapshot).
async fn load(backend: &Backend) -> Result<(u64, Content), StoreError> {
    let begin = match backend.kind() {
        BackendKind::Sqlite => "BEGIN",
        BackendKind::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    };
    on_pool!(backend, |pool| {
        let mut tx = pool.begin_with(begin).await.map_err(db)?;
        let version: i64 = sqlx::query_scalar(VERSION_SQL)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let mut content = Content::default();
        // Sized once: no growth leaves freed memory behind.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM personalities")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        content
            .registry
            .reserve(usize::try_from(count).unwrap_or(0));
        {
            let mut grouping = Grouping::default();
            let mut rows = sqlx::query(REGISTRY_SQL).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                let columns = (
                    row.try_get::<&str, _>(0).map_err(db)?,
                    row.try_get::<&str, _>(1).map_err(db)?,
                    row.try_get::<&str, _>(2).map_err(db)?,
                    row.try_get::<i64, _>(3).map_err(db)?,
                    row.try_get::<Option<&str>, _>(4).map_err(db)?,
                );
                grouping.push(columns, &mut content.registry)?;
            }
            grouping.flush(&mut content.registry)?;
        }
        content.registry.shrink();
        let activations: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT channel_id, personality_key, activated_by, activated_at FROM channel_activations",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for (channel, key, by, at) in activations {
            let slot = content
                .registry
                .named(&key)
                .ok_or_else(|| corrupt("channel activation", format!("no personality {key}")))?;
            content
                .activations
                .insert(channel, Activation { slot, by, at });
        }
        content.activations.shrink_to_fit();
        let users: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM autorespond WHERE enabled")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        content.autorespond = users.into_iter().collect();
        let tokens: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, expires_at FROM auth_tokens")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        content.tokens = tokens.into_iter().collect();
        let verifications: Vec<(i64, i64)> =
            sqlx::query_as("SELECT user_id, verified_at FROM age_verifications")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        content.verifications = verifications.into_iter().collect();
        tx.rollback().await.map_err(db)?;
        Ok::<_, StoreError>((from_sql_count(version), content))
    })
}

// ---------------------------------------------------------------------------------------------
// The feed.

/// The running feed of a store's read model ([`Store::start_read_model`]). Dropping it stops
/// the feed; the store then answers every read from SQL again.
#[derive(Debug)]
pub struct ReadModelFeed {
    store: Option<Store>,
    tasks: Vec<JoinHandle<()>>,
}

impl ReadModelFeed {
    /// Stops the feed (as dropping it does).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(store) = self.store.take() {
            store.reads().stop();
        }
    }
}

impl Drop for ReadModelFeed {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Store {
    /// Starts serving the hot reads from memory (ADR 0031): `PersonalityRepository::lookup`,
    /// `get`, `alias_owner`, `count` and the totals of `list_by_owner`;
    /// `ConversationRepository::activation`, `count_activations` and `autorespond`;
    /// `AuthRepository::verification`, and `token` for a user who holds none. Loads the
    /// model (when it cannot, reads stay on SQL and the feed keeps trying), then keeps it
    /// current in a background task until the returned feed is dropped. Needs a migrated
    /// store and a Tokio runtime. A second call while a feed runs returns an inert feed.
    pub async fn start_read_model(&self) -> ReadModelFeed {
        let reads = self.reads();
        if reads.running.swap(true, Ordering::SeqCst) {
            return ReadModelFeed {
                store: None,
                tasks: Vec::new(),
            };
        }
        let _ = refresh(self).await;
        let mut tasks = Vec::new();
        if let Backend::Postgres(pool) = self.backend() {
            let pool = pool.clone();
            let store = self.clone();
            tasks.push(tokio::spawn(async move { listen(&store, &pool).await }));
        }
        let store = self.clone();
        tasks.push(tokio::spawn(async move { feed(&store).await }));
        ReadModelFeed {
            store: Some(self.clone()),
            tasks,
        }
    }

    /// Whether reads are answered from memory right now (see [`Self::start_read_model`]).
    pub fn read_model_serving(&self) -> bool {
        self.reads().is_serving()
    }

    /// How many times the read model was (re)built from the database.
    #[doc(hidden)]
    pub fn read_model_rebuilds(&self) -> u64 {
        self.reads().rebuilds()
    }

    /// After a write whose changes the model cannot apply (restore, import): reads stay on SQL
    /// until a rebuild has read it.
    pub(crate) async fn read_model_reload(&self) {
        if !self.reads().tracking() {
            return;
        }
        match read_version(self.reader()).await {
            Ok(v) => self.reads().committed_unknown(v),
            Err(_) => self.reads().lost_track(),
        }
    }

    /// After a write that recorded the counter (`versions`) or did not (it started before the
    /// feed): updates the model, or keeps it off until rebuilt.
    pub(crate) async fn read_model_committed(
        &self,
        versions: Option<(u64, u64)>,
        changes: &[Change<'_>],
    ) {
        match versions {
            Some((before, after)) => self.reads().committed(before, after, changes),
            None => self.read_model_reload().await,
        }
    }
}

/// Polls the counter; rebuilds when it moved. Returns whether the model is current.
async fn refresh(store: &Store) -> Result<bool, StoreError> {
    let reads = store.reads();
    let at = Instant::now();
    let version = match read_version(store.reader()).await {
        Ok(v) => v,
        Err(e) => {
            reads.lost_track();
            return Err(e);
        }
    };
    // From here on writes record the counter (the migration is there); a write that started
    // before reads the counter after its commit, so no rebuild can hide it.
    reads.tracking.store(true, Ordering::SeqCst);
    if !reads.polled(version, at) {
        return Ok(true);
    }
    // The counter moved. If a write of this store is under way, the move may be its own commit
    // (on PostgreSQL its notification arrives at once): let it update the model first.
    let patience = Instant::now() + Duration::from_millis(50);
    while reads.writing.load(Ordering::SeqCst) > 0 && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if !reads.polled(version, at) {
        return Ok(true);
    }
    // A rebuild older than a concurrent own write is discarded: try a few times.
    for _ in 0..3 {
        let at = Instant::now();
        let (version, content) = match load(store.reader()).await {
            Ok(loaded) => loaded,
            Err(e) => {
                reads.lost_track();
                return Err(e);
            }
        };
        if reads.install(version, content, at) {
            // A long load (a large registry, a slow machine) may end after the freshness
            // bound: confirm the version now, with one cheap read of the counter.
            let at = Instant::now();
            let version = read_version(store.reader()).await?;
            if reads.polled(version, at) {
                reads.wake.notify_one();
            }
            return Ok(true);
        }
    }
    Ok(false)
}

async fn feed(store: &Store) {
    let reads = store.reads();
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = reads.wake.notified() => {}
        }
        let _ = refresh(store).await;
    }
}

/// PostgreSQL: wakes the feed on every `troupe_reads` notification (and when the listening
/// connection was lost, since a notification may have been lost with it).
async fn listen(store: &Store, pool: &sqlx::PgPool) {
    let reads = store.reads();
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let Ok(mut listener) = listener else {
            tokio::time::sleep(POLL * 4).await;
            continue;
        };
        loop {
            let received = listener.try_recv().await;
            reads.wake.notify_one();
            if received.is_err() {
                tokio::time::sleep(POLL).await;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, display: &str, aliases: &[&str], owner: i64) -> Entry {
        Entry::new(key, &key.to_uppercase(), display, aliases, owner).unwrap()
    }

    #[test]
    fn an_entry_keeps_its_strings_in_one_allocation() {
        let e = entry("ada", "countess", &["lovelace", "byron", "lovelace"], 7);
        assert_eq!(e.key(), "ada");
        assert_eq!(e.name(), "ADA");
        assert_eq!(e.display_key(), "countess");
        assert_eq!(
            e.alias_keys().collect::<Vec<_>>(),
            ["lovelace", "byron"],
            "duplicates dropped"
        );
        assert!(Entry::new(&"x".repeat(70_000), "x", "x", &[], 1).is_none());
    }

    #[test]
    fn lookup_keeps_the_precedence_of_the_sql_name_then_alias_then_smallest_display_key() {
        let mut r = Registry::default();
        let zed = r.put(entry("zed", "shared", &["ann"], 1));
        let bob = r.put(entry("bob", "shared", &[], 1));
        let ann = r.put(entry("ann2", "ann", &[], 2));
        let shared = r.put(entry("shared", "other", &[], 2));
        // A name beats a display name, and an alias beats a display name.
        assert_eq!(r.find("shared", By::Lookup), Some(shared));
        assert_eq!(r.find("ann", By::Lookup), Some(zed));
        // Among display names, the smallest name key.
        assert!(r.remove("shared").is_some());
        assert_eq!(r.find("shared", By::Lookup), Some(bob));
        assert_eq!(r.find("shared", By::Name), None);
        assert_eq!(r.find("ann2", By::Name), Some(ann));
        assert_eq!(r.find("nobody", By::Lookup), None);
        assert_eq!(r.alias_holder("ann"), Some(zed));
        assert_eq!(r.count(), 3);
        assert_eq!(r.owned_by(1), 2);
        assert_eq!(r.owned_by(2), 1);
        // A replaced entry keeps its slot; its old strings are gone.
        assert_eq!(r.put(entry("zed", "zorro", &[], 3)), zed);
        assert_eq!(r.alias_holder("ann"), None);
        assert_eq!(r.find("ann", By::Lookup), Some(ann));
        assert_eq!(r.find("shared", By::Lookup), Some(bob));
        assert_eq!(r.owned_by(1), 1);
        assert_eq!(r.owned_by(3), 1);
        // A freed slot is reused.
        assert!(r.remove("bob").is_some());
        assert_eq!(r.find("shared", By::Lookup), None);
        assert_eq!(r.put(entry("carl", "c", &[], 1)), bob);
    }

    #[test]
    fn many_personalities_sharing_a_display_name_come_and_go() {
        let mut r = Registry::default();
        let keys: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
        for k in &keys {
            r.put(entry(k, "same", &[], 1));
        }
        assert_eq!(r.find("same", By::Lookup), r.named("p00"));
        // Remove from the front: the smallest remaining key wins each time.
        for (i, k) in keys.iter().enumerate().take(19) {
            assert!(r.remove(k).is_some());
            assert_eq!(r.find("same", By::Lookup), r.named(&keys[i + 1]), "{k}");
        }
        assert!(r.remove("p19").is_some());
        assert_eq!(r.find("same", By::Lookup), None);
        assert!(r.keys.is_empty(), "no key left behind");
        assert_eq!(r.free_groups.len(), r.groups.len(), "every group freed");
        // Groups are reused.
        r.put(entry("a", "twin", &[], 1));
        r.put(entry("b", "twin", &[], 1));
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.find("twin", By::Lookup), r.named("a"));
    }

    fn model_at(version: u64) -> ReadModel {
        let m = ReadModel::default();
        m.running.store(true, Ordering::SeqCst);
        assert!(m.install(version, Content::default(), Instant::now()));
        assert!(m.is_serving());
        m
    }

    #[test]
    fn an_own_write_applies_only_on_top_of_the_version_it_started_from() {
        let m = model_at(5);
        m.committed(
            5,
            6,
            &[Change::Autorespond {
                user: 1,
                enabled: true,
            }],
        );
        assert_eq!(m.autorespond(1), Some(true));
        // Others' writes between 6 and 8: not applied, and not served until rebuilt.
        m.committed(
            8,
            9,
            &[Change::Autorespond {
                user: 2,
                enabled: true,
            }],
        );
        assert!(!m.is_serving());
        assert_eq!(m.autorespond(2), None, "ask SQL");
        // A rebuild older than the own write is refused...
        assert!(!m.install(8, Content::default(), Instant::now()));
        assert!(!m.is_serving());
        // ...one that has it is installed.
        let mut content = Content::default();
        content.autorespond.insert(2);
        assert!(m.install(9, content, Instant::now()));
        assert_eq!(m.autorespond(2), Some(true));
    }

    #[test]
    fn a_rebuild_older_than_the_model_never_replaces_it() {
        let m = model_at(5);
        m.committed(
            5,
            6,
            &[Change::Autorespond {
                user: 1,
                enabled: true,
            }],
        );
        // Read at version 5, before the own write: refused, the model keeps the write.
        assert!(!m.install(5, Content::default(), Instant::now()));
        assert_eq!(m.autorespond(1), Some(true));
        // Read at version 6 (it has the write): the model has it already, nothing to do.
        assert!(m.install(6, Content::default(), Instant::now()));
        assert_eq!(m.autorespond(1), Some(true));
        assert_eq!(m.rebuilds(), 1);
    }

    #[test]
    fn a_write_the_model_cannot_apply_turns_it_off_until_rebuilt() {
        let m = model_at(5);
        let activate = Change::Activate {
            channel: 1,
            personality: "nobody",
            by: 1,
            at: 1,
        };
        m.committed(5, 6, &[activate]);
        assert!(!m.is_serving());
        assert!(m.install(6, Content::default(), Instant::now()));
        assert!(m.is_serving());
    }

    #[test]
    fn an_unknown_write_keeps_the_model_off_until_a_rebuild_reaches_it() {
        let m = model_at(5);
        m.committed_unknown(12);
        assert!(!m.is_serving());
        assert!(!m.install(11, Content::default(), Instant::now()));
        assert!(m.install(12, Content::default(), Instant::now()));
        assert!(m.is_serving());
    }

    #[test]
    fn a_model_the_feed_has_not_confirmed_lately_is_not_served() {
        let m = model_at(5);
        let Some(long_ago) = Instant::now().checked_sub(STALE_AFTER + Duration::from_millis(1))
        else {
            return;
        };
        m.write().confirmed = long_ago;
        assert!(!m.is_serving());
        assert!(!m.polled(5, Instant::now()), "same version: no rebuild");
        assert!(m.is_serving(), "confirmed again");
        assert!(m.polled(7, Instant::now()), "moved: rebuild");
    }

    #[test]
    fn a_stopped_model_is_not_served_and_a_late_rebuild_does_not_revive_it() {
        let m = model_at(5);
        m.stop();
        assert!(!m.is_serving());
        assert!(m.install(9, Content::default(), Instant::now()));
        assert!(!m.is_serving());
    }

    fn cached(i: u64, prompt_len: usize) -> Personality {
        use troupe_domain::personality::{PersonalityName, Profile, Prompt};
        use troupe_domain::{Timestamp, UserId};
        let name = PersonalityName::parse(&format!("p{i}")).unwrap();
        let prompt = Prompt::parse(&"x".repeat(prompt_len)).unwrap();
        Personality::restore(
            name.clone(),
            UserId::new(1).unwrap(),
            Profile::local(&name, Some(prompt)),
            Vec::new(),
            Timestamp::from_millis(0),
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn the_cache_is_bounded_by_count_and_bytes_and_keeps_what_is_used() {
        let mut c = Cache::default();
        for i in 0..(CACHE_ENTRIES as u32 + 100) {
            c.insert(i, cached(u64::from(i), 10));
            if i == 0 || i % 10 == 0 {
                let _ = c.get(0);
            }
        }
        assert_eq!(c.map.len(), CACHE_ENTRIES);
        assert!(c.get(0).is_some(), "the entry in use stayed");
        let mut c = Cache::default();
        for i in 0..1000 {
            c.insert(i, cached(u64::from(i), 4000));
        }
        assert!(c.bytes <= CACHE_BYTES, "{}", c.bytes);
        assert!(c.map.len() < 1000);
        assert_eq!(c.bytes, c.map.values().map(|e| e.bytes).sum::<usize>());
        c.forget(999);
        assert!(c.get(999).is_none());
        assert_eq!(c.clock.len(), c.map.len());
    }
}
