//! The event lanes between the shard loops and the work: bounded queues per shard and budgets
//! per process, one lane for commands and one for other messages (AI exchanges wait seconds
//! for the provider; a command must not wait behind them).
//!
//! A shard loop only ever *tries* ([`Lanes::admit`] never waits): an event takes a slot of its
//! lane's budget when one is free, else a place in its shard's queue of that lane, else it is
//! shed and counted. A queued event waits in its lane's line, in arrival order, as what starts
//! its work ([`Ticket::then`]: a message is data there, and its task is spawned when a slot is
//! handed to it) or as a task that waits ([`Ticket::start`]: a slash command must be deferred
//! within Discord's three seconds even while it waits). A finished event hands its slot to the
//! first in line; starting frees the queue place. So the loop keeps polling the gateway
//! (heartbeats) whatever the work does, and the memory held by waiting and running events is
//! bounded by the queue sizes and budgets.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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

/// Starts a waiting event's work with the slot handed to it; gives the slot back when the work
/// is gone (a waiting slash command whose task was cancelled).
type Start = Box<dyn FnOnce(Running) -> Result<(), Running> + Send>;

/// One lane's budget for the whole process, and the events waiting for it.
struct Budget {
    line: Mutex<Line>,
    stats: Arc<LaneStats>,
}

struct Line {
    /// Slots not taken.
    free: usize,
    /// Events waiting for a slot, first come first served.
    waiting: VecDeque<Waiting>,
}

struct Waiting {
    start: Start,
    place: QueuePlace,
    sequence: Option<(Arc<Sequences>, u64)>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self.line();
        f.debug_struct("Budget")
            .field("free", &line.free)
            .field("waiting", &line.waiting.len())
            .finish_non_exhaustive()
    }
}

impl Budget {
    fn line(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a free slot, counted running. A slot is free only while nobody waits
    /// ([`Budget::release`] hands a freed slot to the first in line), so this never jumps
    /// the line.
    fn take_free(&self, line: &mut Line) -> bool {
        if line.free == 0 {
            return false;
        }
        line.free -= 1;
        self.stats.running.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A slot freed: the first event in line takes it, else it is free again.
    fn release(self: &Arc<Self>) {
        loop {
            let next = {
                let mut line = self.line();
                let Some(next) = line.waiting.pop_front() else {
                    line.free += 1;
                    self.stats.running.fetch_sub(1, Ordering::Relaxed);
                    return;
                };
                next
            };
            // The slot passes on: the running count stays; starting frees the queue place.
            let Waiting {
                start,
                place,
                sequence,
            } = next;
            drop(place);
            let running = Running {
                budget: Some(Arc::clone(self)),
                sequence,
            };
            match start(running) {
                Ok(()) => return,
                // Its work is gone: the slot goes to the next in line.
                Err(mut refused) => refused.budget = None,
            }
        }
    }
}

/// The budgets of the process.
#[derive(Debug)]
pub(crate) struct Lanes {
    commands: Arc<Budget>,
    messages: Arc<Budget>,
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

/// A place in a shard's queue (counted as queued while held).
#[derive(Debug)]
struct QueuePlace {
    _permit: OwnedSemaphorePermit,
    stats: Arc<LaneStats>,
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.stats.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An admitted event: it holds a budget slot already, or a place in its shard's queue until
/// one is handed to it.
#[derive(Debug)]
pub(crate) enum Ticket {
    /// A budget slot was free at once.
    Slot(Running),
    /// A place in the shard's queue.
    Queued(Queued),
}

/// An event with a place in its shard's queue, not yet in its lane's line.
#[derive(Debug)]
pub(crate) struct Queued {
    budget: Arc<Budget>,
    place: QueuePlace,
    sequence: Option<(Arc<Sequences>, u64)>,
}

impl Queued {
    /// Joins the line (or takes a slot freed since admission).
    fn enqueue(self, start: Start) {
        let Self {
            budget,
            place,
            sequence,
        } = self;
        let mut line = budget.line();
        if !budget.take_free(&mut line) {
            line.waiting.push_back(Waiting {
                start,
                place,
                sequence,
            });
            return;
        }
        drop(line);
        drop(place);
        let running = Running {
            budget: Some(budget),
            sequence,
        };
        // A refused slot is released as its `Running` drops.
        let _ = start(running);
    }
}

/// An event given a slot of its lane's budget. Dropping it hands the slot to the next event
/// in line.
#[derive(Debug)]
pub(crate) struct Running {
    /// `None` once the slot was handed on without the work running.
    budget: Option<Arc<Budget>>,
    /// The event's sequence number, until its work begins.
    sequence: Option<(Arc<Sequences>, u64)>,
}

impl Running {
    /// The event's work begins: it leaves its shard's resume point (a started event is not
    /// replayed to the next process; one dropped before this is).
    pub(crate) fn begin(mut self) -> Self {
        if let Some((sequences, seq)) = self.sequence.take() {
            sequences.started(seq);
        }
        self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.release();
        }
    }
}

impl Ticket {
    /// Calls `start` with a slot of the lane's budget: now when the event holds one, else when
    /// one is handed to it, in arrival order. `start` runs on the thread that frees the slot and
    /// must not wait (spawn the work).
    pub(crate) fn then(self, start: impl FnOnce(Running) + Send + 'static) {
        match self {
            Self::Slot(running) => start(running),
            Self::Queued(queued) => queued.enqueue(Box::new(move |running| {
                start(running);
                Ok(())
            })),
        }
    }

    /// Waits for a slot of the lane's budget (none when it has one already), the work begun.
    /// `None` only when the lanes are gone (the process is stopping).
    pub(crate) async fn start(self) -> Option<Running> {
        let running = match self {
            Self::Slot(running) => running,
            Self::Queued(queued) => {
                let (tx, rx) = oneshot::channel();
                queued.enqueue(Box::new(move |running| tx.send(running)));
                rx.await.ok()?
            }
        };
        Some(running.begin())
    }
}

impl Lanes {
    /// Budgets whose counters are the monitor's.
    pub(crate) fn new(budgets: EventBudgets, monitor: &GatewayStatus) -> Self {
        let budget = |slots: usize, stats: &Arc<LaneStats>| {
            Arc::new(Budget {
                line: Mutex::new(Line {
                    free: slots.max(1),
                    waiting: VecDeque::new(),
                }),
                stats: Arc::clone(stats),
            })
        };
        Self {
            commands: budget(budgets.commands_running, &monitor.commands),
            messages: budget(budgets.messages_running, &monitor.messages),
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
        let sequence = || {
            seq.map(|seq| {
                queues.sequences.queued(seq);
                (Arc::clone(&queues.sequences), seq)
            })
        };
        let slot = budget.take_free(&mut budget.line());
        if slot {
            return Some(Ticket::Slot(Running {
                budget: Some(Arc::clone(budget)),
                sequence: sequence(),
            }));
        }
        let Ok(permit) = Arc::clone(queue).try_acquire_owned() else {
            budget.stats.shed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        budget.stats.queued.fetch_add(1, Ordering::Relaxed);
        Some(Ticket::Queued(Queued {
            budget: Arc::clone(budget),
            place: QueuePlace {
                _permit: permit,
                stats: Arc::clone(&budget.stats),
            },
            sequence: sequence(),
        }))
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
            .await
            .unwrap();
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
        let running = b.start().await.unwrap();
        let fifth = lanes.admit(Lane::Messages, &queues, Some(5));
        assert!(fifth.is_some(), "starting frees the queue place");
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
            .await
            .unwrap();
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
        let _second = second.start().await.unwrap();
        assert_eq!(queues.sequences.resume_point(13), 10, "11 still waits");
        drop(first);
        assert_eq!(
            queues.sequences.resume_point(13),
            10,
            "an event dropped before it started is replayed"
        );
    }

    #[tokio::test]
    async fn queued_events_start_in_arrival_order_as_slots_free_and_a_gone_waiter_passes_its_slot_on()
     {
        let (lanes, monitor) = lanes(1, 8);
        let queues = lanes.shard_queues();
        let started = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let admit = |n: u64| {
            let started = Arc::clone(&started);
            let tx = tx.clone();
            lanes
                .admit(Lane::Messages, &queues, Some(n))
                .unwrap()
                .then(move |running| {
                    started.lock().unwrap().push(n);
                    let _ = tx.send(running.begin());
                });
        };
        admit(1);
        // A slash command waits as a task, then its task is gone before its turn.
        let gone = lanes.admit(Lane::Messages, &queues, Some(2)).unwrap();
        let waited = tokio::time::timeout(std::time::Duration::from_millis(20), gone.start()).await;
        assert!(waited.is_err(), "no slot yet");
        admit(3);
        admit(4);
        assert_eq!(*started.lock().unwrap(), [1]);
        assert_eq!(
            monitor.snapshot().load.messages_queued,
            3,
            "a gone waiter keeps its place until its turn"
        );
        assert_eq!(queues.sequences.resume_point(4), 1, "2 was never started");

        drop(rx.recv().await.unwrap());
        assert_eq!(*started.lock().unwrap(), [1, 3], "2's slot went to 3");
        drop(rx.recv().await.unwrap());
        assert_eq!(*started.lock().unwrap(), [1, 3, 4]);
        let load = monitor.snapshot().load;
        assert_eq!((load.messages_running, load.messages_queued), (1, 0));
        drop(rx.recv().await.unwrap());
        assert_eq!(monitor.snapshot().load.messages_running, 0);
        assert!(
            lanes.admit(Lane::Messages, &queues, None).is_some(),
            "the queue places were freed"
        );
    }
}
