//! Record and replay of the outside world for shadow runs (ADR 0015). While the authoritative
//! system serves a command, its answers from the outside world (the clock, the profile source,
//! the OAuth provider, the chat platform's lookups, the data volume probe) are recorded; the
//! candidate, which runs later, gets the same answers back instead of asking again. So a
//! comparison is never spoiled by the time having moved on, by a one-time OAuth code legacy
//! already spent, or by a probe that writes.
//!
//! Recording costs the authoritative path one lock and a small copy per outside call, and is
//! bounded ([`MAX_RECORDED`] answers of each kind; later answers are not recorded and the
//! candidate asks the live source, or gets an error where asking would act on the world).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth};
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};
use troupe_ports::{
    AuthProvider, AuthProviderError, AuthRepository, ChatPlatform, Clock, DataVolume, DmMessage,
    IssuedToken, OutgoingMessage, PersonaIdentity, PlatformError, PlatformStatus, ProfileError,
    ProfileSource, SourceProfile, StoreError, StoreView, VolumeError, VolumeReport,
};

use crate::context::Deps;

/// Most answers of one kind kept per command.
pub const MAX_RECORDED: usize = 64;

type DmKey = (ChannelId, Option<MessageId>, u8);

/// The outside world's answers to one authoritative run.
#[derive(Debug, Default)]
pub struct Recording(Mutex<Answers>);

#[derive(Debug, Default)]
struct Answers {
    times: Vec<Timestamp>,
    profiles: Vec<(String, Result<Option<SourceProfile>, ProfileError>)>,
    exchanges: Vec<(String, Result<IssuedToken, AuthProviderError>)>,
    status: Option<PlatformStatus>,
    dm_pages: Vec<(DmKey, Result<Vec<DmMessage>, PlatformError>)>,
    webhook_cache: Option<u64>,
    probes: Vec<Result<VolumeReport, VolumeError>>,
    dms: Vec<(UserId, Result<MessageId, PlatformError>)>,
    deletions: Vec<((ChannelId, MessageId), Result<(), PlatformError>)>,
    purges: Vec<(Timestamp, Result<u64, StoreError>)>,
    pendings: Vec<(UserId, Result<Option<PendingAuthorization>, StoreError>)>,
}

fn push<T>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_RECORDED {
        list.push(item);
    }
}

impl Recording {
    fn answers(&self) -> MutexGuard<'_, Answers> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many clock readings were recorded (for tests).
    pub fn clock_readings(&self) -> usize {
        self.answers().times.len()
    }

    /// What sending a DM to `user` gave the authoritative run (the `nth` such send).
    pub(crate) fn dm(&self, user: UserId, nth: usize) -> Option<Result<MessageId, PlatformError>> {
        nth_of(&self.answers().dms, &user, nth)
    }

    /// What deleting `message` gave the authoritative run.
    pub(crate) fn deletion(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Option<Result<(), PlatformError>> {
        nth_of(&self.answers().deletions, &(channel, message), 0)
    }

    /// What purging tokens expired at `now` gave the authoritative run.
    pub(crate) fn purge(&self, now: Timestamp) -> Option<Result<u64, StoreError>> {
        nth_of(&self.answers().purges, &now, 0)
    }

    /// What taking `user`'s pending authorization gave the authoritative run.
    pub(crate) fn pending(
        &self,
        user: UserId,
    ) -> Option<Result<Option<PendingAuthorization>, StoreError>> {
        nth_of(&self.answers().pendings, &user, 0)
    }
}

fn nth_of<K: PartialEq, V: Clone>(list: &[(K, V)], key: &K, nth: usize) -> Option<V> {
    list.iter()
        .filter(|(k, _)| k == key)
        .nth(nth)
        .map(|(_, v)| v.clone())
}

/// `deps` with the outside world recorded into `recording` (storage untouched: the
/// authoritative system writes for real).
pub fn recording_deps(deps: &Deps, recording: &Arc<Recording>) -> Deps {
    Deps {
        auth: Arc::new(Recorder {
            live: Arc::clone(&deps.auth),
            rec: Arc::clone(recording),
        }),
        platform: Arc::new(Recorder {
            live: Arc::clone(&deps.platform),
            rec: Arc::clone(recording),
        }),
        clock: Arc::new(Recorder {
            live: Arc::clone(&deps.clock),
            rec: Arc::clone(recording),
        }),
        volume: Arc::new(Recorder {
            live: Arc::clone(&deps.volume),
            rec: Arc::clone(recording),
        }),
        profiles: deps.profiles.as_ref().map(|p| {
            Arc::new(Recorder {
                live: Arc::clone(p),
                rec: Arc::clone(recording),
            }) as Arc<dyn ProfileSource>
        }),
        auth_provider: deps.auth_provider.as_ref().map(|p| {
            Arc::new(Recorder {
                live: Arc::clone(p),
                rec: Arc::clone(recording),
            }) as Arc<dyn AuthProvider>
        }),
        ..deps.clone()
    }
}

/// `deps` with storage read from `view` and the outside world replayed from `recording`. Wrap
/// the result in [`crate::dryrun::dry_run_deps`] (writes must not reach the view) and keep
/// [`Self`]'s volume: the dry run refuses probes, the replay answers what legacy's probe saw.
pub fn replay_deps(deps: &Deps, view: StoreView, recording: &Arc<Recording>) -> Deps {
    Deps {
        personalities: view.personalities,
        conversations: view.conversations,
        auth: view.auth,
        preferences: view.preferences,
        processed: view.processed,
        platform: Arc::new(Replayer {
            live: Arc::clone(&deps.platform),
            rec: Arc::clone(recording),
            next_time: Mutex::new(0),
        }),
        clock: Arc::new(Replayer {
            live: Arc::clone(&deps.clock),
            rec: Arc::clone(recording),
            next_time: Mutex::new(0),
        }),
        volume: Arc::new(Replayer {
            live: (),
            rec: Arc::clone(recording),
            next_time: Mutex::new(0),
        }),
        profiles: deps.profiles.as_ref().map(|p| {
            Arc::new(Replayer {
                live: Arc::clone(p),
                rec: Arc::clone(recording),
                next_time: Mutex::new(0),
            }) as Arc<dyn ProfileSource>
        }),
        auth_provider: deps.auth_provider.as_ref().map(|p| {
            Arc::new(Replayer {
                live: Arc::clone(p),
                rec: Arc::clone(recording),
                next_time: Mutex::new(0),
            }) as Arc<dyn AuthProvider>
        }),
        ..deps.clone()
    }
}

/// Passes calls to `live` and records the answers.
struct Recorder<T> {
    live: T,
    rec: Arc<Recording>,
}

/// Answers from the recording; `live` for what was not recorded and is safe to ask again.
struct Replayer<T> {
    live: T,
    rec: Arc<Recording>,
    /// The next clock reading to replay.
    next_time: Mutex<usize>,
}

impl Clock for Recorder<Arc<dyn Clock>> {
    fn now(&self) -> Timestamp {
        let now = self.live.now();
        push(&mut self.rec.answers().times, now);
        now
    }
}

impl Clock for Replayer<Arc<dyn Clock>> {
    /// Legacy's readings in order, then its last one again; the live clock when legacy never
    /// read it.
    fn now(&self) -> Timestamp {
        let answers = self.rec.answers();
        let mut next = self
            .next_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let reading = answers
            .times
            .get(*next)
            .or_else(|| answers.times.last())
            .copied();
        *next += 1;
        reading.unwrap_or_else(|| self.live.now())
    }
}

#[async_trait]
impl ProfileSource for Recorder<Arc<dyn ProfileSource>> {
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        let answer = self.live.fetch(name).await;
        push(
            &mut self.rec.answers().profiles,
            (name.to_owned(), answer.clone()),
        );
        answer
    }
}

#[async_trait]
impl ProfileSource for Replayer<Arc<dyn ProfileSource>> {
    /// Legacy's answer for the name; a read of the live source otherwise (harmless).
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        let recorded = self
            .rec
            .answers()
            .profiles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone());
        match recorded {
            Some(answer) => answer,
            None => self.live.fetch(name).await,
        }
    }
}

#[async_trait]
impl AuthProvider for Recorder<Arc<dyn AuthProvider>> {
    fn requires_user_auth(&self) -> bool {
        self.live.requires_user_auth()
    }
    fn authorize_url(&self, state: &str) -> String {
        self.live.authorize_url(state)
    }
    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError> {
        let answer = self.live.exchange_code(code).await;
        push(
            &mut self.rec.answers().exchanges,
            (code.to_owned(), answer.clone()),
        );
        answer
    }
}

#[async_trait]
impl AuthProvider for Replayer<Arc<dyn AuthProvider>> {
    fn requires_user_auth(&self) -> bool {
        self.live.requires_user_auth()
    }
    fn authorize_url(&self, state: &str) -> String {
        self.live.authorize_url(state)
    }
    /// Legacy's answer for the code. A code legacy did not exchange is never sent to the
    /// provider (it would spend it): the candidate gets an error, so the run is reported.
    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError> {
        let recorded = nth_of(&self.rec.answers().exchanges, &code.to_owned(), 0);
        recorded.unwrap_or_else(|| {
            Err(AuthProviderError::Unexpected(
                "a shadow run never exchanges a code the authoritative run did not".into(),
            ))
        })
    }
}

#[async_trait]
impl DataVolume for Recorder<Arc<dyn DataVolume>> {
    async fn probe(&self, now: Timestamp) -> Result<VolumeReport, VolumeError> {
        let answer = self.live.probe(now).await;
        push(&mut self.rec.answers().probes, answer.clone());
        answer
    }
}

#[async_trait]
impl DataVolume for Replayer<()> {
    /// Legacy's probe result (the probe writes, so it is never run again).
    async fn probe(&self, _: Timestamp) -> Result<VolumeReport, VolumeError> {
        self.rec
            .answers()
            .probes
            .first()
            .cloned()
            .unwrap_or_else(|| {
                Err(VolumeError::Unexpected(
                    "the volume probe writes, so a shadow run only replays the authoritative one"
                        .into(),
                ))
            })
    }
}

#[async_trait]
impl ChatPlatform for Recorder<Arc<dyn ChatPlatform>> {
    fn status(&self) -> PlatformStatus {
        let status = self.live.status();
        self.rec.answers().status.get_or_insert(status);
        status
    }
    async fn send_dm(
        &self,
        user: UserId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let answer = self.live.send_dm(user, message).await;
        push(&mut self.rec.answers().dms, (user, answer.clone()));
        answer
    }
    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        self.live.send_message(channel, message).await
    }
    async fn send_as_personality(
        &self,
        channel: ChannelId,
        persona: &PersonaIdentity,
        text: &str,
    ) -> Result<MessageId, PlatformError> {
        self.live.send_as_personality(channel, persona, text).await
    }
    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        let answer = self.live.delete_message(channel, message).await;
        push(
            &mut self.rec.answers().deletions,
            ((channel, message), answer.clone()),
        );
        answer
    }
    async fn trigger_typing(&self, channel: ChannelId) -> Result<(), PlatformError> {
        self.live.trigger_typing(channel).await
    }
    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        let answer = self.live.dm_history(channel, before, limit).await;
        push(
            &mut self.rec.answers().dm_pages,
            ((channel, before, limit), answer.clone()),
        );
        answer
    }
    async fn clear_webhook_cache(&self) -> u64 {
        let cleared = self.live.clear_webhook_cache().await;
        self.rec.answers().webhook_cache.get_or_insert(cleared);
        cleared
    }
    async fn webhook_cache_size(&self) -> u64 {
        let size = self.live.webhook_cache_size().await;
        self.rec.answers().webhook_cache.get_or_insert(size);
        size
    }
}

/// The authoritative run's store: every call passes through; the answers of the writes whose
/// answer carries information a dry run cannot read (purged tokens, taken pending
/// authorizations) are recorded for the candidate's dry run.
#[async_trait]
impl AuthRepository for Recorder<Arc<dyn AuthRepository>> {
    async fn save_token(&self, auth: &UserAuth) -> Result<(), StoreError> {
        self.live.save_token(auth).await
    }
    async fn token(&self, user: UserId) -> Result<Option<UserAuth>, StoreError> {
        self.live.token(user).await
    }
    async fn delete_token(&self, user: UserId) -> Result<bool, StoreError> {
        self.live.delete_token(user).await
    }
    async fn delete_expired_tokens(&self, now: Timestamp) -> Result<u64, StoreError> {
        let answer = self.live.delete_expired_tokens(now).await;
        push(&mut self.rec.answers().purges, (now, answer.clone()));
        answer
    }
    async fn count_tokens(&self) -> Result<u64, StoreError> {
        self.live.count_tokens().await
    }
    async fn verification(&self, user: UserId) -> Result<Option<AgeVerification>, StoreError> {
        self.live.verification(user).await
    }
    async fn save_verification(&self, v: &AgeVerification) -> Result<(), StoreError> {
        self.live.save_verification(v).await
    }
    async fn remove_verification(&self, user: UserId) -> Result<bool, StoreError> {
        self.live.remove_verification(user).await
    }
    async fn save_pending(&self, p: &PendingAuthorization) -> Result<(), StoreError> {
        self.live.save_pending(p).await
    }
    async fn take_pending(&self, user: UserId) -> Result<Option<PendingAuthorization>, StoreError> {
        let answer = self.live.take_pending(user).await;
        push(&mut self.rec.answers().pendings, (user, answer.clone()));
        answer
    }
}

fn never_sends() -> PlatformError {
    PlatformError::Unexpected("a shadow run never sends".into())
}

#[async_trait]
impl ChatPlatform for Replayer<Arc<dyn ChatPlatform>> {
    fn status(&self) -> PlatformStatus {
        let recorded = self.rec.answers().status;
        recorded.unwrap_or_else(|| self.live.status())
    }
    async fn send_dm(&self, _: UserId, _: OutgoingMessage) -> Result<MessageId, PlatformError> {
        Err(never_sends())
    }
    async fn send_message(
        &self,
        _: ChannelId,
        _: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        Err(never_sends())
    }
    async fn send_as_personality(
        &self,
        _: ChannelId,
        _: &PersonaIdentity,
        _: &str,
    ) -> Result<MessageId, PlatformError> {
        Err(never_sends())
    }
    async fn delete_message(&self, _: ChannelId, _: MessageId) -> Result<(), PlatformError> {
        Err(never_sends())
    }
    async fn trigger_typing(&self, _: ChannelId) -> Result<(), PlatformError> {
        Ok(())
    }
    /// Legacy's page for the same request; a read of the live platform otherwise.
    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        let key = (channel, before, limit);
        let recorded = self
            .rec
            .answers()
            .dm_pages
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| a.clone());
        match recorded {
            Some(answer) => answer,
            None => self.live.dm_history(channel, before, limit).await,
        }
    }
    async fn clear_webhook_cache(&self) -> u64 {
        self.webhook_cache_size().await
    }
    /// The size legacy saw (before it cleared the cache, if it did).
    async fn webhook_cache_size(&self) -> u64 {
        let recorded = self.rec.answers().webhook_cache;
        match recorded {
            Some(size) => size,
            None => self.live.webhook_cache_size().await,
        }
    }
}
