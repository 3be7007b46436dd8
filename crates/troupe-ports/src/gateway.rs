use troupe_domain::{Duration, Timestamp};

/// The state of the connection to the chat platform's gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayState {
    /// Not started, stopped, or closed for good.
    #[default]
    Disconnected,
    /// Starting: the first connection is not identified yet.
    Connecting,
    /// Identified or resumed, heartbeating, receiving events.
    Connected,
    /// Connected again after a loss, resuming the session (missed events are replayed).
    Resuming,
    /// The connection was lost (or a reconnect attempt failed); waiting to connect again.
    Reconnecting,
    /// No gateway at all (the console).
    NotApplicable,
}

impl GatewayState {
    /// Every state, for metrics.
    pub const ALL: [Self; 6] = [
        Self::Disconnected,
        Self::Connecting,
        Self::Connected,
        Self::Resuming,
        Self::Reconnecting,
        Self::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Resuming => "resuming",
            Self::Reconnecting => "reconnecting",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// How the gateway is doing, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GatewayHealth {
    /// Connected and heartbeating (or no gateway at all).
    Ok,
    /// Briefly away: a connection was lost less than [`RECONNECT_GRACE`] ago and no reconnect
    /// attempt has failed yet (Discord asks for such reconnects routinely).
    Degraded,
    /// Not connected (starting, lost for longer than the grace, a failed reconnect, stopped),
    /// or connected but a heartbeat acknowledgement is overdue.
    Failing,
}

/// A reconnect shorter than this is [`GatewayHealth::Degraded`], not failing.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(3);

/// When a heartbeat acknowledgement is overdue: one and a half intervals plus 5 s after the
/// last one (or after connecting: the first heartbeat is sent at a random point of the first
/// interval, so a missing first ack is no failure until then).
pub fn ack_overdue_after(interval: Duration) -> Duration {
    interval + interval / 2 + Duration::from_secs(5)
}

/// How many events wait and run, per kind, and how many were shed because their queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventLoad {
    pub commands_queued: u64,
    pub commands_running: u64,
    /// Commands answered "busy" (or not at all) because their queue was full.
    pub commands_shed: u64,
    pub messages_queued: u64,
    pub messages_running: u64,
    /// Other messages (chatter, AI exchanges) dropped because their queue was full.
    pub messages_shed: u64,
}

/// Discord's session-start budget (`GET /gateway/bot`), as last read and counted down by this
/// process's identifies since, and how identifies are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStarts {
    /// Session starts allowed per reset period (a day).
    pub total: u32,
    /// Session starts left.
    pub remaining: u32,
    /// When `remaining` returns to `total`.
    pub resets_at: Option<Timestamp>,
    /// Identifies allowed at once (one per bucket per 5 s; a shard's bucket is its id modulo
    /// this).
    pub max_concurrency: u32,
    /// Whether identifies are paced fleet-wide through the shared store (else per process).
    pub fleet_wide: bool,
}

/// A snapshot of the gateway's health, for `/health` and `ping`/`status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewaySnapshot {
    /// The worst state of this process's shards.
    pub state: GatewayState,
    /// Since when the worst shard has been in a state other than connected (the oldest such
    /// time), or when the last shard connected.
    pub since: Option<Timestamp>,
    /// Consecutive failed reconnect attempts (the most of any shard).
    pub failed_reconnects: u32,
    /// The heartbeat interval the gateway asked for.
    pub heartbeat_interval: Option<Duration>,
    /// When the last heartbeat acknowledgement arrived (the oldest of the shards; `None` while
    /// a shard has none on its current connection).
    pub last_heartbeat_ack: Option<Timestamp>,
    /// Since when a connected shard has been waiting for a heartbeat acknowledgement: its last
    /// ack, or when it connected if none came yet (the oldest of the connected shards).
    pub awaiting_ack_since: Option<Timestamp>,
    /// When the last event (any opcode) arrived.
    pub last_event: Option<Timestamp>,
    /// The last heartbeat round trip.
    pub latency: Option<Duration>,
    pub guilds: u64,
    /// Shards this process runs, and how many of them are connected.
    pub shards: u32,
    pub shards_connected: u32,
    /// Reconnects since start (every shard).
    pub reconnects: u64,
    pub load: EventLoad,
    /// Discord's session-start budget, once the gateway read it.
    pub session_starts: Option<SessionStarts>,
}

impl GatewaySnapshot {
    /// The gateway's health at `now` (see [`GatewayHealth`]).
    pub fn health(&self, now: Timestamp) -> GatewayHealth {
        let by_state = match self.state {
            GatewayState::NotApplicable => return GatewayHealth::Ok,
            GatewayState::Connected => GatewayHealth::Ok,
            GatewayState::Resuming | GatewayState::Reconnecting => {
                let within_grace = self
                    .since
                    .is_some_and(|since| now.since(since) < RECONNECT_GRACE);
                if within_grace && self.failed_reconnects == 0 {
                    GatewayHealth::Degraded
                } else {
                    GatewayHealth::Failing
                }
            }
            GatewayState::Connecting | GatewayState::Disconnected => GatewayHealth::Failing,
        };
        let overdue = match (self.heartbeat_interval, self.awaiting_ack_since) {
            (Some(interval), Some(since)) => now.since(since) > ack_overdue_after(interval),
            _ => false,
        };
        if overdue {
            GatewayHealth::Failing
        } else {
            by_state
        }
    }

    /// Not failing: connected (or briefly reconnecting), with heartbeat acks on time.
    pub fn is_healthy(&self, now: Timestamp) -> bool {
        self.health(now) != GatewayHealth::Failing
    }
}

/// Live gateway facts, read cheaply and often.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait GatewayMonitor: Send + Sync {
    fn snapshot(&self) -> GatewaySnapshot;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(interval: Duration, since: Timestamp) -> GatewaySnapshot {
        GatewaySnapshot {
            state: GatewayState::Connected,
            since: Some(since),
            heartbeat_interval: Some(interval),
            awaiting_ack_since: Some(since),
            ..GatewaySnapshot::default()
        }
    }

    #[test]
    fn a_missing_first_ack_is_no_failure_until_it_is_overdue() {
        let interval = Duration::from_secs(40);
        let start = Timestamp::from_millis(1_000_000);
        let snap = connected(interval, start);
        assert_eq!(snap.health(start), GatewayHealth::Ok);
        assert_eq!(
            snap.health(start.plus(Duration::from_secs(60))),
            GatewayHealth::Ok
        );
        assert_eq!(
            snap.health(start.plus(Duration::from_secs(66))),
            GatewayHealth::Failing
        );
    }

    #[test]
    fn a_gateway_whose_heartbeat_acks_stopped_is_failing() {
        let interval = Duration::from_secs(40);
        let ack = Timestamp::from_millis(1_000_000);
        let snap = GatewaySnapshot {
            last_heartbeat_ack: Some(ack),
            ..connected(interval, ack)
        };
        assert!(snap.is_healthy(ack.plus(Duration::from_secs(60))));
        assert!(!snap.is_healthy(ack.plus(Duration::from_secs(90))));
    }

    #[test]
    fn a_lost_connection_is_degraded_briefly_then_failing_and_a_failed_attempt_fails_at_once() {
        let lost = Timestamp::from_millis(5_000_000);
        let snap = GatewaySnapshot {
            state: GatewayState::Reconnecting,
            since: Some(lost),
            ..GatewaySnapshot::default()
        };
        assert_eq!(
            snap.health(lost.plus(Duration::from_secs(1))),
            GatewayHealth::Degraded
        );
        assert_eq!(
            snap.health(lost.plus(Duration::from_secs(4))),
            GatewayHealth::Failing
        );
        let failed = GatewaySnapshot {
            failed_reconnects: 1,
            ..snap
        };
        assert_eq!(failed.health(lost), GatewayHealth::Failing);
    }

    #[test]
    fn starting_and_stopped_gateways_fail_and_no_gateway_is_fine() {
        let now = Timestamp::from_millis(1);
        assert!(!GatewaySnapshot::default().is_healthy(now));
        let starting = GatewaySnapshot {
            state: GatewayState::Connecting,
            ..GatewaySnapshot::default()
        };
        assert_eq!(starting.health(now), GatewayHealth::Failing);
        let console = GatewaySnapshot {
            state: GatewayState::NotApplicable,
            ..GatewaySnapshot::default()
        };
        assert_eq!(console.health(now), GatewayHealth::Ok);
    }
}
