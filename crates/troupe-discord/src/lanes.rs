//! The event lanes between the shard loops and the work: bounded queues per shard and budgets
//! per process, one lane for commands and one for other messages (AI exchanges wait seconds
//! for the provider; a command must not wait behind them).
//!
//! A shard loop only ever *tries* ([`Lanes::admit`] never waits): an event takes a slot of its
//! lane's budget when one is free, else a place in its shard's queue of that lane, else it is
//! shed and counted. A queued event is a task waiting for a budget slot ([`Ticket::start`]);
//! starting frees its queue place. So the loop keeps polling the gateway (heartbeats) whatever
//! the work does, and the memory held by waiting and running events is bounded by the queue
//! sizes and budgets.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::EventBudgets;
use crate::gateway::sequence::Sequences;
use crate::monitor::{GatewayStatus, LaneStats};

/// Which lane an event takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Prefix and slash commands.
    Commands,
    /// Everything else the message flow reads (mostly AI exchanges).
    Messages,
}

/// One lane's budget for the whole process.
#[derive(Debug)]
struct Budget {
    running: Arc<Semaphore>,
    stats: Arc<LaneStats>,
}

/// The budgets of the process.
#[derive(Debug)]
pub(crate) struct Lanes {
    commands: Budget,
    messages: Budget,
    budgets: EventBudgets,
}

/// The queues of one shard.
#[derive(Debug, Clone)]
pub(crate) struct ShardQueues {
    commands: Arc<Semaphore>,
    messages: Arc<Semaphore>,
    /// The shard's event sequence numbers not started yet (for the resume point).
    pub sequences: Arc<Sequences>,
}

/// An admitted event: it holds a budget slot already, or a place in its shard's queue until
/// it gets one.
#[derive(Debug)]
pub(crate) struct Ticket {
    place: Place,
    running: Arc<Semaphore>,
    stats: Arc<LaneStats>,
    /// The event's sequence number, marked started on start.
    sequence: Option<(Arc<Sequences>, u64)>,
}

#[derive(Debug)]
enum Place {
    /// A budget slot was free at once.
    Slot(OwnedSemaphorePermit),
    /// A place in the shard's queue.
    Queued(OwnedSemaphorePermit),
}

/// A running event: holds a slot of its lane's budget.
#[derive(Debug)]
pub(crate) struct Running {
    _slot: OwnedSemaphorePermit,
    stats: Arc<LaneStats>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stats.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Ticket {
    /// Waits for a slot of the lane's budget (none when it has one already).
    pub(crate) async fn start(self) -> Running {
        let slot = match self.place {
            Place::Slot(slot) => slot,
            Place::Queued(queued) => {
                let Ok(slot) = Arc::clone(&self.running).acquire_owned().await else {
                    unreachable!("lane budgets are never closed")
                };
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                self.stats.running.fetch_add(1, Ordering::Relaxed);
                drop(queued);
                slot
            }
        };
        if let Some((sequences, seq)) = &self.sequence {
            sequences.started(*seq);
        }
        Running {
            _slot: slot,
            stats: self.stats,
        }
    }
}

impl Lanes {
    /// Budgets whose counters are the monitor's.
    pub(crate) fn new(budgets: EventBudgets, monitor: &GatewayStatus) -> Self {
        Self {
            commands: Budget {
                running: Arc::new(Semaphore::new(budgets.commands_running.max(1))),
                stats: Arc::clone(&monitor.commands),
            },
            messages: Budget {
                running: Arc::new(Semaphore::new(budgets.messages_running.max(1))),
                stats: Arc::clone(&monitor.messages),
            },
            budgets,
        }
    }

    /// Empty queues for a shard.
    pub(crate) fn shard_queues(&self) -> ShardQueues {
        ShardQueues {
            commands: Arc::new(Semaphore::new(self.budgets.commands_queued.max(1))),
            messages: Arc::new(Semaphore::new(self.budgets.messages_queued.max(1))),
            sequences: Arc::new(Sequences::default()),
        }
    }

    /// A budget slot of `lane` for the event with sequence number `seq` if one is free, else
    /// a place in the shard's queue, else `None` (counted as shed). Never waits.
    pub(crate) fn admit(
        &self,
        lane: Lane,
        queues: &ShardQueues,
        seq: Option<u64>,
    ) -> Option<Ticket> {
        let (queue, budget) = match lane {
            Lane::Commands => (&queues.commands, &self.commands),
            Lane::Messages => (&queues.messages, &self.messages),
        };
        let place = if let Ok(slot) = Arc::clone(&budget.running).try_acquire_owned() {
            budget.stats.running.fetch_add(1, Ordering::Relaxed);
            Place::Slot(slot)
        } else if let Ok(queued) = Arc::clone(queue).try_acquire_owned() {
            budget.stats.queued.fetch_add(1, Ordering::Relaxed);
            Place::Queued(queued)
        } else {
            budget.stats.shed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let sequence = seq.map(|seq| {
            queues.sequences.queued(seq);
            (Arc::clone(&queues.sequences), seq)
        });
        Some(Ticket {
            place,
            running: Arc::clone(&budget.running),
            stats: Arc::clone(&budget.stats),
            sequence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_ports::GatewayMonitor as _;

    fn lanes(running: usize, queued: usize) -> (Lanes, GatewayStatus) {
        let monitor = GatewayStatus::new();
        let lanes = Lanes::new(
            EventBudgets {
                commands_running: running,
                commands_queued: queued,
                messages_running: running,
                messages_queued: queued,
            },
            &monitor,
        );
        (lanes, monitor)
    }

    #[tokio::test]
    async fn events_run_while_the_budget_lasts_then_queue_then_are_shed_without_waiting() {
        let (lanes, monitor) = lanes(1, 2);
        let queues = lanes.shard_queues();
        let running = lanes
            .admit(Lane::Messages, &queues, Some(1))
            .unwrap()
            .start()
            .await;
        let b = lanes.admit(Lane::Messages, &queues, Some(2)).unwrap();
        let _c = lanes.admit(Lane::Messages, &queues, Some(3)).unwrap();
        assert!(lanes.admit(Lane::Messages, &queues, Some(4)).is_none());
        let load = monitor.snapshot().load;
        assert_eq!(
            (
                load.messages_running,
                load.messages_queued,
                load.messages_shed
            ),
            (1, 2, 1)
        );
        drop(running);
        let running = b.start().await;
        assert!(
            lanes.admit(Lane::Messages, &queues, Some(5)).is_some(),
            "starting frees the queue place"
        );
        let load = monitor.snapshot().load;
        assert_eq!((load.messages_running, load.messages_queued), (1, 2));
        drop(running);
        assert_eq!(monitor.snapshot().load.messages_running, 0);
    }

    #[tokio::test]
    async fn commands_have_their_own_budget_when_messages_use_all_of_theirs() {
        let (lanes, _) = lanes(1, 4);
        let queues = lanes.shard_queues();
        let _busy = lanes
            .admit(Lane::Messages, &queues, None)
            .unwrap()
            .start()
            .await;
        let waiting = lanes.admit(Lane::Messages, &queues, None).unwrap();
        let command = lanes.admit(Lane::Commands, &queues, None).unwrap();
        let started =
            tokio::time::timeout(std::time::Duration::from_secs(5), command.start()).await;
        assert!(started.is_ok(), "a command starts while messages wait");
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(50), waiting.start()).await;
        assert!(blocked.is_err(), "the second message waits for the budget");
    }

    #[tokio::test]
    async fn a_started_event_leaves_the_resume_point_and_an_unstarted_one_holds_it() {
        let (lanes, _) = lanes(4, 4);
        let queues = lanes.shard_queues();
        let first = lanes.admit(Lane::Commands, &queues, Some(11)).unwrap();
        let second = lanes.admit(Lane::Messages, &queues, Some(12)).unwrap();
        assert_eq!(queues.sequences.resume_point(13), 10);
        let _second = second.start().await;
        assert_eq!(queues.sequences.resume_point(13), 10, "11 still waits");
        drop(first);
        assert_eq!(
            queues.sequences.resume_point(13),
            10,
            "an event dropped before it started is replayed"
        );
    }
}
