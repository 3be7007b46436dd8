use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use troupe_domain::Timestamp;
use troupe_ports::{Clock, GatewayMonitor, GatewaySnapshot, GatewayState, SystemClock};

#[derive(Debug, Clone, Copy, Default)]
struct ShardStatus {
    state: GatewayState,
    heartbeat_interval: Option<Duration>,
    last_ack: Option<Timestamp>,
    last_event: Option<Timestamp>,
    latency: Option<Duration>,
}

#[derive(Debug, Default)]
struct Inner {
    shards: Vec<(u32, ShardStatus)>,
    guilds: HashSet<u64>,
}

/// Live facts about this process's gateway shards: the [`GatewayMonitor`] that `ping`,
/// `status` and `/health` read. Updated by the shard loops; cheap to read.
#[derive(Debug, Default)]
pub struct GatewayStatus {
    inner: Mutex<Inner>,
}

impl GatewayStatus {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    fn shard(&self, shard: u32, f: impl FnOnce(&mut ShardStatus)) {
        self.with(|inner| {
            if let Some((_, status)) = inner.shards.iter_mut().find(|(id, _)| *id == shard) {
                f(status);
            } else {
                let mut status = ShardStatus::default();
                f(&mut status);
                inner.shards.push((shard, status));
            }
        });
    }

    pub(crate) fn register(&self, shard: u32) {
        self.shard(shard, |s| s.state = GatewayState::Connecting);
    }

    pub(crate) fn set_state(&self, shard: u32, state: GatewayState) {
        self.shard(shard, |s| s.state = state);
    }

    pub(crate) fn hello(&self, shard: u32, interval: Duration) {
        self.shard(shard, |s| s.heartbeat_interval = Some(interval));
    }

    pub(crate) fn heartbeat_ack(&self, shard: u32, latency: Option<Duration>) {
        let now = SystemClock.now();
        self.shard(shard, |s| {
            s.last_ack = Some(now);
            if latency.is_some() {
                s.latency = latency;
            }
        });
    }

    pub(crate) fn event(&self, shard: u32) {
        let now = SystemClock.now();
        self.shard(shard, |s| s.last_event = Some(now));
    }

    pub(crate) fn guild_available(&self, guild: u64) {
        self.with(|inner| inner.guilds.insert(guild));
    }

    pub(crate) fn guild_gone(&self, guild: u64) {
        self.with(|inner| inner.guilds.remove(&guild));
    }
}

impl GatewayMonitor for GatewayStatus {
    fn snapshot(&self) -> GatewaySnapshot {
        self.with(|inner| {
            let shards = &inner.shards;
            let connected = shards
                .iter()
                .filter(|(_, s)| s.state == GatewayState::Connected)
                .count() as u32;
            let state = if shards.is_empty() {
                GatewayState::Disconnected
            } else if connected as usize == shards.len() {
                GatewayState::Connected
            } else if shards
                .iter()
                .any(|(_, s)| s.state == GatewayState::Resuming)
            {
                GatewayState::Resuming
            } else if shards
                .iter()
                .any(|(_, s)| s.state == GatewayState::Connecting)
            {
                GatewayState::Connecting
            } else {
                GatewayState::Disconnected
            };
            GatewaySnapshot {
                state,
                heartbeat_interval: shards
                    .iter()
                    .filter_map(|(_, s)| s.heartbeat_interval)
                    .max(),
                // The oldest ack: one silent shard makes the process unhealthy.
                last_heartbeat_ack: if shards.iter().all(|(_, s)| s.last_ack.is_some()) {
                    shards.iter().filter_map(|(_, s)| s.last_ack).min()
                } else {
                    None
                },
                last_event: shards.iter().filter_map(|(_, s)| s.last_event).max(),
                latency: shards.iter().filter_map(|(_, s)| s.latency).max(),
                guilds: inner.guilds.len() as u64,
                shards: shards.len() as u32,
                shards_connected: connected,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_connected_only_when_every_shard_is() {
        let status = GatewayStatus::new();
        status.register(0);
        status.register(1);
        status.set_state(0, GatewayState::Connected);
        assert_eq!(status.snapshot().state, GatewayState::Connecting);
        status.set_state(1, GatewayState::Connected);
        status.heartbeat_ack(0, Some(Duration::from_millis(12)));
        let snap = status.snapshot();
        assert_eq!(snap.state, GatewayState::Connected);
        assert_eq!(snap.shards, 2);
        assert_eq!(snap.shards_connected, 2);
        assert_eq!(snap.latency, Some(Duration::from_millis(12)));
        assert_eq!(snap.last_heartbeat_ack, None, "shard 1 has not acked yet");
    }

    #[test]
    fn guilds_are_counted_once() {
        let status = GatewayStatus::new();
        status.guild_available(5);
        status.guild_available(5);
        status.guild_available(6);
        status.guild_gone(6);
        assert_eq!(status.snapshot().guilds, 1);
    }
}
