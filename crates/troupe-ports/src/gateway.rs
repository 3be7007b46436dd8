use troupe_domain::{Duration, Timestamp};

/// The state of the connection to the chat platform's gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayState {
    /// Not started, or stopped.
    #[default]
    Disconnected,
    Connecting,
    /// Identified or resumed, receiving events.
    Connected,
    Resuming,
    /// No gateway at all (the console).
    NotApplicable,
}

impl GatewayState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Resuming => "resuming",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// A snapshot of the gateway's health, for `/health` and `ping`/`status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewaySnapshot {
    pub state: GatewayState,
    /// The heartbeat interval the gateway asked for.
    pub heartbeat_interval: Option<Duration>,
    /// When the last heartbeat acknowledgement arrived.
    pub last_heartbeat_ack: Option<Timestamp>,
    /// When the last event (any opcode) arrived.
    pub last_event: Option<Timestamp>,
    /// The last heartbeat round trip.
    pub latency: Option<Duration>,
    pub guilds: u64,
    /// Shards this process runs, and how many of them are connected.
    pub shards: u32,
    pub shards_connected: u32,
}

impl GatewaySnapshot {
    /// Unhealthy when connected but no heartbeat ack arrived for more than two heartbeat
    /// intervals (the socket may still be open), or not connected at all.
    pub fn is_healthy(&self, now: Timestamp) -> bool {
        match self.state {
            GatewayState::NotApplicable => true,
            GatewayState::Connected => match (self.heartbeat_interval, self.last_heartbeat_ack) {
                (Some(interval), Some(ack)) => {
                    now.since(ack) <= interval * 2 + Duration::from_secs(5)
                }
                (Some(_), None) => false,
                _ => true,
            },
            _ => false,
        }
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

    #[test]
    fn a_gateway_whose_heartbeat_acks_stopped_is_unhealthy() {
        let interval = Duration::from_secs(40);
        let ack = Timestamp::from_millis(1_000_000);
        let snap = GatewaySnapshot {
            state: GatewayState::Connected,
            heartbeat_interval: Some(interval),
            last_heartbeat_ack: Some(ack),
            ..GatewaySnapshot::default()
        };
        assert!(snap.is_healthy(ack.plus(Duration::from_secs(60))));
        assert!(!snap.is_healthy(ack.plus(Duration::from_secs(90))));
        assert!(
            !GatewaySnapshot {
                last_heartbeat_ack: None,
                ..snap
            }
            .is_healthy(ack)
        );
        assert!(!GatewaySnapshot::default().is_healthy(ack));
        assert!(
            GatewaySnapshot {
                state: GatewayState::NotApplicable,
                ..GatewaySnapshot::default()
            }
            .is_healthy(ack)
        );
    }
}
