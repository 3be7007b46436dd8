//! The simulated outside world of a comparison scenario: a chat platform, a clock, a data
//! volume, a profile source and an OAuth provider, all deterministic and in memory, built from a
//! scenario's [`World`] settings. Each copy of a scenario gets its own instances, so the two
//! systems under comparison see identical, independent worlds; what the world was asked to do
//! (DMs sent, messages deleted, webhook cache, volume entries) is part of the state compared.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use troupe_domain::auth::AccessToken;
use troupe_domain::personality::{AvatarUrl, DisplayName};
use troupe_domain::{ChannelId, Duration, MessageId, Timestamp, UserId};
use troupe_ports::{
    AuthProvider, AuthProviderError, ChatPlatform, Clock, DataVolume, DmMessage, DmMessageKind,
    IssuedToken, OutgoingMessage, PersonaIdentity, PlatformError, PlatformStatus, ProfileError,
    ProfileSource, SourceProfile, VolumeError, VolumeReport,
};

/// 2025-06-14T10:30:00Z, when every scenario starts.
pub const START_MILLIS: i64 = 1_749_897_000_000;

/// A code the scenario OAuth provider accepts (the token lives the configured default).
pub const GOOD_CODE: &str = "good-code";
/// A code the scenario OAuth provider accepts with a token that lives only 3 days.
pub const SHORT_CODE: &str = "short-code";

/// Which OAuth provider a scenario has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// None configured: a shared API key.
    None,
    /// Accepts [`GOOD_CODE`] and [`SHORT_CODE`], refuses other codes.
    Working,
    /// Configured but unreachable.
    Down,
}

/// Which profile source a scenario has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profiles {
    /// None: personalities are defined locally.
    Local,
    /// Knows [`KNOWN_PROFILES`] and nothing else.
    Known,
    /// Configured but unreachable.
    Down,
}

/// The profiles the scenario profile source knows: (name, display name, avatar).
pub const KNOWN_PROFILES: &[(&str, &str, Option<&str>)] = &[
    (
        "einstein",
        "Albert Einstein",
        Some("https://cdn.example.invalid/einstein.png"),
    ),
    ("newton", "Isaac Newton", None),
    ("curie", "curie", None),
];

/// The outside world of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct World {
    pub provider: Provider,
    pub profiles: Profiles,
    /// Heartbeat latency in microseconds; `None` before the first ack.
    pub latency_micros: Option<u64>,
    pub guilds: u64,
    /// The invoker's DMs are closed.
    pub dms_closed: bool,
    /// Messages in the invoker's DM history, kinds cycling system, personality, user.
    pub dm_history: u64,
    /// Every delete of a message fails.
    pub deletes_fail: bool,
    pub webhooks: u64,
    pub volume_writable: bool,
}

impl World {
    /// Local personalities, no OAuth provider, 42 ms latency, 3 guilds, DMs open.
    pub const DEFAULT: Self = Self {
        provider: Provider::None,
        profiles: Profiles::Local,
        latency_micros: Some(42_000),
        guilds: 3,
        dms_closed: false,
        dm_history: 0,
        deletes_fail: false,
        webhooks: 2,
        volume_writable: true,
    };
}

impl Default for World {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A clock that stands still unless a scenario step moves it.
#[derive(Debug)]
pub struct ScenarioClock(AtomicI64);

impl ScenarioClock {
    /// At [`START_MILLIS`].
    pub fn new() -> Self {
        Self(AtomicI64::new(START_MILLIS))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Default for ScenarioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ScenarioClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[derive(Debug, Default)]
struct PlatformLog {
    dms_to: Vec<UserId>,
    sent_to: Vec<ChannelId>,
    deleted: Vec<(ChannelId, MessageId)>,
    history: Vec<(ChannelId, DmMessage)>,
    webhooks: u64,
    next_id: u64,
}

/// A chat platform that records what it was asked to do.
#[derive(Debug)]
pub struct ScenarioPlatform {
    status: PlatformStatus,
    closed_dms: BTreeSet<UserId>,
    deletes_fail: bool,
    log: Mutex<PlatformLog>,
}

/// First id of messages the platform creates.
const FIRST_SENT_ID: u64 = 800_000_000_000_000_000;

impl ScenarioPlatform {
    /// The platform of `world`, with `dm_channel` of `invoker` holding the world's DM history.
    pub fn new(world: &World, invoker: UserId, dm_channel: ChannelId) -> Self {
        let kinds = [
            DmMessageKind::System,
            DmMessageKind::Personality,
            DmMessageKind::User,
        ];
        let history = (1..=world.dm_history)
            .filter_map(|n| {
                let id = MessageId::new(700_000_000_000_000_000 + n).ok()?;
                let kind = kinds[usize::try_from(n % 3).unwrap_or(0)];
                Some((dm_channel, DmMessage { id, kind }))
            })
            .collect();
        Self {
            status: PlatformStatus {
                latency: world.latency_micros.map(Duration::from_micros),
                guilds: world.guilds,
            },
            closed_dms: if world.dms_closed {
                BTreeSet::from([invoker])
            } else {
                BTreeSet::new()
            },
            deletes_fail: world.deletes_fail,
            log: Mutex::new(PlatformLog {
                history,
                webhooks: world.webhooks,
                next_id: FIRST_SENT_ID,
                ..PlatformLog::default()
            }),
        }
    }

    /// What the platform was asked to do, as comparable lines.
    pub fn digest(&self) -> Vec<String> {
        let log = lock(&self.log);
        let mut out: Vec<String> = log
            .dms_to
            .iter()
            .map(|u| format!("dm sent to {u}"))
            .collect();
        out.extend(log.sent_to.iter().map(|c| format!("message sent in {c}")));
        out.extend(
            log.deleted
                .iter()
                .map(|(c, m)| format!("message {m} deleted in {c}")),
        );
        out.push(format!("webhook cache {}", log.webhooks));
        out
    }

    fn next_id(log: &mut PlatformLog) -> MessageId {
        log.next_id += 1;
        MessageId::new(log.next_id).unwrap_or_else(|_| unreachable_id())
    }
}

/// Message ids start far above zero, so this never happens; a valid id keeps the type total.
fn unreachable_id() -> MessageId {
    MessageId::new(1).unwrap_or_else(|_| unreachable!("1 is a valid id"))
}

#[async_trait]
impl ChatPlatform for ScenarioPlatform {
    fn status(&self) -> PlatformStatus {
        self.status
    }

    async fn send_dm(
        &self,
        user: UserId,
        _message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        if self.closed_dms.contains(&user) {
            return Err(PlatformError::DmClosed);
        }
        let mut log = lock(&self.log);
        log.dms_to.push(user);
        Ok(Self::next_id(&mut log))
    }

    async fn send_message(
        &self,
        channel: ChannelId,
        _message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let mut log = lock(&self.log);
        log.sent_to.push(channel);
        Ok(Self::next_id(&mut log))
    }

    async fn send_as_personality(
        &self,
        channel: ChannelId,
        _persona: &PersonaIdentity,
        _text: &str,
    ) -> Result<MessageId, PlatformError> {
        let mut log = lock(&self.log);
        log.sent_to.push(channel);
        Ok(Self::next_id(&mut log))
    }

    async fn delete_message(
        &self,
        channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        if self.deletes_fail {
            return Err(PlatformError::MissingPermission("manage messages".into()));
        }
        let mut log = lock(&self.log);
        log.history
            .retain(|(c, m)| !(*c == channel && m.id == message));
        log.deleted.push((channel, message));
        Ok(())
    }

    async fn trigger_typing(&self, _channel: ChannelId) -> Result<(), PlatformError> {
        Ok(())
    }

    async fn dm_history(
        &self,
        channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        if limit == 0 || limit > 100 {
            return Err(PlatformError::Unexpected(format!(
                "a history page holds 1 to 100 messages, not {limit}"
            )));
        }
        let log = lock(&self.log);
        let mut page: Vec<DmMessage> = log
            .history
            .iter()
            .filter(|(c, m)| *c == channel && before.is_none_or(|b| m.id < b))
            .map(|(_, m)| m.clone())
            .collect();
        page.sort_by_key(|m| std::cmp::Reverse(m.id));
        page.truncate(usize::from(limit));
        Ok(page)
    }

    async fn clear_webhook_cache(&self) -> u64 {
        std::mem::take(&mut lock(&self.log).webhooks)
    }

    async fn webhook_cache_size(&self) -> u64 {
        lock(&self.log).webhooks
    }
}

/// A data volume that counts its entries in memory.
#[derive(Debug)]
pub struct ScenarioVolume {
    entries: AtomicU64,
    writable: AtomicBool,
}

impl ScenarioVolume {
    pub const PATH: &'static str = "/scenario/data";
    pub const FREE_BYTES: u64 = 1 << 30;

    pub fn new(writable: bool) -> Self {
        Self {
            entries: AtomicU64::new(0),
            writable: AtomicBool::new(writable),
        }
    }

    /// Entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl DataVolume for ScenarioVolume {
    async fn probe(&self, _now: Timestamp) -> Result<VolumeReport, VolumeError> {
        let writable = self.writable.load(Ordering::SeqCst);
        let earlier_entries = if writable {
            self.entries.fetch_add(1, Ordering::SeqCst)
        } else {
            self.entries.load(Ordering::SeqCst)
        };
        Ok(VolumeReport {
            path: Self::PATH.to_owned(),
            writable,
            earlier_entries,
            free_bytes: Some(Self::FREE_BYTES),
        })
    }
}

/// A profile source that knows [`KNOWN_PROFILES`], or is down.
#[derive(Debug)]
pub struct ScenarioProfiles {
    down: bool,
}

impl ScenarioProfiles {
    pub fn new(down: bool) -> Self {
        Self { down }
    }
}

#[async_trait]
impl ProfileSource for ScenarioProfiles {
    async fn fetch(&self, name: &str) -> Result<Option<SourceProfile>, ProfileError> {
        if self.down {
            return Err(ProfileError::Unavailable);
        }
        let key = name.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(KNOWN_PROFILES
            .iter()
            .find(|(known, _, _)| known.eq_ignore_ascii_case(&key))
            .and_then(|(_, display, avatar)| {
                Some(SourceProfile {
                    display_name: DisplayName::parse(display).ok()?,
                    avatar_url: avatar.and_then(|a| AvatarUrl::parse(a).ok()),
                    error_message: None,
                })
            }))
    }
}

/// An OAuth provider that accepts [`GOOD_CODE`] and [`SHORT_CODE`], or is down.
#[derive(Debug)]
pub struct ScenarioAuthProvider {
    down: bool,
}

impl ScenarioAuthProvider {
    pub fn new(down: bool) -> Self {
        Self { down }
    }
}

#[async_trait]
impl AuthProvider for ScenarioAuthProvider {
    fn requires_user_auth(&self) -> bool {
        true
    }

    fn authorize_url(&self, state: &str) -> String {
        format!("https://auth.example.invalid/authorize?state={state}")
    }

    async fn exchange_code(&self, code: &str) -> Result<IssuedToken, AuthProviderError> {
        if self.down {
            return Err(AuthProviderError::Unavailable);
        }
        let expires_in = match code {
            GOOD_CODE => None,
            SHORT_CODE => Some(Duration::from_secs(3 * 24 * 60 * 60)),
            _ => return Err(AuthProviderError::InvalidCode),
        };
        let token = AccessToken::parse(&format!("token-for-{code}"))
            .map_err(|e| AuthProviderError::Unexpected(e.to_string()))?;
        Ok(IssuedToken { token, expires_in })
    }
}
