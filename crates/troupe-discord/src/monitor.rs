//! Live facts about this process's gateway shards: the [`GatewayMonitor`] that `ping`,
//! `status`, `/health` and `/metrics` read. Updated by the shard loops and the event lanes;
//! cheap to read.
//!
//! A shard is `connecting` until its first READY, `connected` from READY or RESUMED (and
//! heartbeating: an acknowledgement overdue makes it failing), `reconnecting` from the moment
//! its connection is lost until it is back (`resuming` once it sent RESUME on a new
//! connection), `disconnected` when stopped or closed for good.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use troupe_domain::Timestamp;
use troupe_ports::{
    Clock, EventLoad, GatewayMonitor, GatewaySnapshot, GatewayState, SessionStarts, SystemClock,
};

/// Counters of one event lane (commands or messages), shared with the lanes.
#[derive(Debug, Default)]
pub(crate) struct LaneStats {
    pub queued: AtomicU64,
    pub running: AtomicU64,
    pub shed: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct ShardStatus {
    state: GatewayState,
    /// When the shard entered its not-connected phase, or when it connected.
    since: Option<Timestamp>,
    connected_before: bool,
    failed_reconnects: u32,
    heartbeat_interval: Option<Duration>,
    /// The last ack on the current connection.
    last_ack: Option<Timestamp>,
    last_event: Option<Timestamp>,
    latency: Option<Duration>,
}

#[derive(Debug, Default)]
struct Inner {
    shards: Vec<(u32, ShardStatus)>,
    guilds: HashSet<u64>,
    reconnects: u64,
    session_starts: Option<SessionStarts>,
}

/// The gateway facts of this process.
pub struct GatewayStatus {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    pub(crate) commands: Arc<LaneStats>,
    pub(crate) messages: Arc<LaneStats>,
}

impl std::fmt::Debug for GatewayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayStatus")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl Default for GatewayStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// How bad a state is, to pick the process's state from its shards'.
fn severity(state: GatewayState) -> u8 {
    match state {
        GatewayState::Connected | GatewayState::NotApplicable => 0,
        GatewayState::Connecting => 1,
        GatewayState::Resuming => 2,
        GatewayState::Reconnecting => 3,
        GatewayState::Disconnected => 4,
    }
}

impl GatewayStatus {
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    pub(crate) fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            clock,
            commands: Arc::default(),
            messages: Arc::default(),
        }
    }

    /// Records Discord's session-start budget as the gateway read it.
    pub(crate) fn set_session_starts(&self, starts: SessionStarts) {
        self.with(|inner| inner.session_starts = Some(starts));
    }

    /// Counts one session start of this process against the budget.
    pub(crate) fn session_started(&self) {
        self.with(|inner| {
            if let Some(s) = &mut inner.session_starts {
                s.remaining = s.remaining.saturating_sub(1);
            }
        });
    }

    /// How long until a session may start when the budget is spent (`None`: it may now; a
    /// budget past its reset is full again).
    pub(crate) fn session_start_wait(&self) -> Option<Duration> {
        let now = self.clock.now();
        self.with(|inner| {
            let s = inner.session_starts.as_mut()?;
            if s.remaining > 0 {
                return None;
            }
            match s.resets_at {
                Some(at) if at > now => Some(at.since(now)),
                _ => {
                    s.remaining = s.total;
                    s.resets_at = Some(now.plus(Duration::from_secs(86_400)));
                    None
                }
            }
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    fn shard(&self, shard: u32, f: impl FnOnce(&mut ShardStatus, Timestamp) -> bool) {
        let now = self.clock.now();
        self.with(|inner| {
            let lost =
                if let Some((_, status)) = inner.shards.iter_mut().find(|(id, _)| *id == shard) {
                    f(status, now)
                } else {
                    let mut status = ShardStatus::default();
                    let lost = f(&mut status, now);
                    inner.shards.push((shard, status));
                    lost
                };
            if lost {
                inner.reconnects += 1;
            }
        });
    }

    /// The shard starts (not connected yet).
    pub(crate) fn register(&self, shard: u32) {
        self.shard(shard, |s, now| {
            *s = ShardStatus {
                state: GatewayState::Connecting,
                since: Some(now),
                ..ShardStatus::default()
            };
            false
        });
    }

    /// A new connection said HELLO; `resuming`: the shard resumes its session on it.
    pub(crate) fn hello(&self, shard: u32, interval: Duration, resuming: bool) {
        self.shard(shard, |s, now| {
            s.heartbeat_interval = Some(interval);
            s.last_ack = None;
            s.state = if resuming {
                GatewayState::Resuming
            } else if s.connected_before {
                GatewayState::Reconnecting
            } else {
                GatewayState::Connecting
            };
            s.since.get_or_insert(now);
            false
        });
    }

    /// READY or RESUMED: connected.
    pub(crate) fn connected(&self, shard: u32) {
        self.shard(shard, |s, now| {
            s.state = GatewayState::Connected;
            s.since = Some(now);
            s.connected_before = true;
            s.failed_reconnects = 0;
            false
        });
    }

    /// The connection is gone (closed by either side, dropped, or zombied).
    pub(crate) fn connection_lost(&self, shard: u32) {
        self.shard(shard, |s, now| {
            let was_connected = s.state == GatewayState::Connected;
            if was_connected || s.since.is_none() {
                s.since = Some(now);
            }
            s.state = GatewayState::Reconnecting;
            s.last_ack = None;
            was_connected
        });
    }

    /// An attempt to connect again failed.
    pub(crate) fn reconnect_failed(&self, shard: u32) {
        self.shard(shard, |s, now| {
            s.failed_reconnects = s.failed_reconnects.saturating_add(1);
            if s.state == GatewayState::Connected {
                s.since = Some(now);
            }
            s.state = GatewayState::Reconnecting;
            false
        });
    }

    /// Stopped, or closed for good.
    pub(crate) fn stopped(&self, shard: u32) {
        self.shard(shard, |s, now| {
            s.state = GatewayState::Disconnected;
            s.since = Some(now);
            false
        });
    }

    pub(crate) fn heartbeat_ack(&self, shard: u32, latency: Option<Duration>) {
        self.shard(shard, |s, now| {
            s.last_ack = Some(now);
            if latency.is_some() {
                s.latency = latency;
            }
            false
        });
    }

    pub(crate) fn event(&self, shard: u32) {
        self.shard(shard, |s, now| {
            s.last_event = Some(now);
            false
        });
    }

    pub(crate) fn guild_available(&self, guild: u64) {
        self.with(|inner| inner.guilds.insert(guild));
    }

    pub(crate) fn guild_gone(&self, guild: u64) {
        self.with(|inner| inner.guilds.remove(&guild));
    }

    fn load(&self) -> EventLoad {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EventLoad {
            commands_queued: get(&self.commands.queued),
            commands_running: get(&self.commands.running),
            commands_shed: get(&self.commands.shed),
            messages_queued: get(&self.messages.queued),
            messages_running: get(&self.messages.running),
            messages_shed: get(&self.messages.shed),
        }
    }
}

impl GatewayMonitor for GatewayStatus {
    fn snapshot(&self) -> GatewaySnapshot {
        let load = self.load();
        self.with(|inner| {
            let shards = &inner.shards;
            let connected: Vec<&ShardStatus> = shards
                .iter()
                .map(|(_, s)| s)
                .filter(|s| s.state == GatewayState::Connected)
                .collect();
            let worst = shards
                .iter()
                .map(|(_, s)| s.state)
                .max_by_key(|s| severity(*s))
                .unwrap_or(GatewayState::Disconnected);
            let since = if worst == GatewayState::Connected {
                connected.iter().filter_map(|s| s.since).max()
            } else {
                shards
                    .iter()
                    .map(|(_, s)| s)
                    .filter(|s| s.state == worst)
                    .filter_map(|s| s.since)
                    .min()
            };
            GatewaySnapshot {
                state: worst,
                since,
                failed_reconnects: shards
                    .iter()
                    .map(|(_, s)| s.failed_reconnects)
                    .max()
                    .unwrap_or(0),
                heartbeat_interval: shards
                    .iter()
                    .filter_map(|(_, s)| s.heartbeat_interval)
                    .max(),
                // The oldest ack: one silent shard makes the process unhealthy.
                last_heartbeat_ack: if connected.iter().all(|s| s.last_ack.is_some()) {
                    connected.iter().filter_map(|s| s.last_ack).min()
                } else {
                    None
                },
                awaiting_ack_since: connected
                    .iter()
                    .filter_map(|s| s.last_ack.or(s.since))
                    .min(),
                last_event: shards.iter().filter_map(|(_, s)| s.last_event).max(),
                latency: shards.iter().filter_map(|(_, s)| s.latency).max(),
                guilds: inner.guilds.len() as u64,
                shards: shards.len() as u32,
                shards_connected: connected.len() as u32,
                reconnects: inner.reconnects,
                load,
                session_starts: inner.session_starts,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_ports::GatewayHealth;
    use troupe_testkit::FakeClock;

    fn status() -> (GatewayStatus, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::new(Timestamp::from_millis(1_000_000)));
        (GatewayStatus::with_clock(clock.clone()), clock)
    }

    #[test]
    fn the_snapshot_is_connected_only_when_every_shard_is() {
        let (status, _) = status();
        status.register(0);
        status.register(1);
        status.connected(0);
        assert_eq!(status.snapshot().state, GatewayState::Connecting);
        status.connected(1);
        status.heartbeat_ack(0, Some(Duration::from_millis(12)));
        let snap = status.snapshot();
        assert_eq!(snap.state, GatewayState::Connected);
        assert_eq!(snap.shards, 2);
        assert_eq!(snap.shards_connected, 2);
        assert_eq!(snap.latency, Some(Duration::from_millis(12)));
        assert_eq!(snap.last_heartbeat_ack, None, "shard 1 has not acked yet");
    }

    #[test]
    fn right_after_ready_the_gateway_is_healthy_before_any_ack() {
        let (status, clock) = status();
        status.register(0);
        status.hello(0, Duration::from_secs(41), false);
        assert_eq!(
            status.snapshot().health(clock.now()),
            GatewayHealth::Failing
        );
        status.connected(0);
        assert_eq!(status.snapshot().health(clock.now()), GatewayHealth::Ok);
        clock.advance(Duration::from_secs(60));
        assert_eq!(status.snapshot().health(clock.now()), GatewayHealth::Ok);
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            status.snapshot().health(clock.now()),
            GatewayHealth::Failing,
            "no ack for 70 s with a 41 s interval"
        );
    }

    #[test]
    fn a_lost_connection_says_reconnecting_and_fails_after_the_grace_or_a_failed_attempt() {
        let (status, clock) = status();
        status.register(0);
        status.hello(0, Duration::from_secs(41), false);
        status.connected(0);
        status.heartbeat_ack(0, None);
        status.connection_lost(0);
        let snap = status.snapshot();
        assert_eq!(snap.state, GatewayState::Reconnecting);
        assert_eq!(snap.shards_connected, 0);
        assert_eq!(snap.reconnects, 1);
        assert_eq!(snap.health(clock.now()), GatewayHealth::Degraded);
        clock.advance(Duration::from_secs(4));
        assert_eq!(
            status.snapshot().health(clock.now()),
            GatewayHealth::Failing
        );
        status.hello(0, Duration::from_secs(41), true);
        assert_eq!(status.snapshot().state, GatewayState::Resuming);
        status.connected(0);
        assert_eq!(status.snapshot().health(clock.now()), GatewayHealth::Ok);

        status.connection_lost(0);
        status.reconnect_failed(0);
        let snap = status.snapshot();
        assert_eq!(snap.failed_reconnects, 1);
        assert_eq!(snap.health(clock.now()), GatewayHealth::Failing);
        status.hello(0, Duration::from_secs(41), true);
        status.connected(0);
        assert_eq!(status.snapshot().failed_reconnects, 0);
    }

    #[test]
    fn guilds_are_counted_once() {
        let (status, _) = status();
        status.guild_available(5);
        status.guild_available(5);
        status.guild_available(6);
        status.guild_gone(6);
        assert_eq!(status.snapshot().guilds, 1);
    }
}
