//! Turns: one message at a time per (user, channel), in arrival order (commands.md §3: "a
//! message arriving meanwhile is queued (bounded, in order) and answered after it").
//!
//! A message takes its place in the queue of its (user, channel) synchronously, as soon as the
//! flow sees it, and waits until every message before it is done: it is then *decided* (who
//! answers) and answered with the state the earlier exchanges recorded — a reply to an answer
//! just sent reaches its personality, a message right after a mention continues the
//! conversation. The queue is keyed by (user, channel) rather than (user, channel,
//! personality) because the personality is known only after deciding, and deciding needs the
//! earlier exchange recorded; so a user's messages in one channel are also answered in the
//! order they were sent when they address different personalities.
//!
//! No runtime is needed (the application has none): waiting is a future woken by the
//! previous holder when it hands its turn over.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use troupe_domain::{ChannelId, UserId};

type Key = (UserId, ChannelId);

#[derive(Debug, Default)]
struct Queue {
    /// The ticket whose turn it is (handed over before its owner noticed, possibly).
    holder: u64,
    /// The tickets after it, in arrival order, with the waker of the task waiting for each.
    waiting: VecDeque<(u64, Option<Waker>)>,
}

#[derive(Debug, Default)]
struct State {
    next_ticket: u64,
    queues: HashMap<Key, Queue>,
}

/// The queues of every (user, channel) with a message being handled.
#[derive(Debug)]
pub(crate) struct Turns {
    state: Arc<Mutex<State>>,
    /// Most messages waiting behind the one being handled, per (user, channel).
    max_waiting: usize,
}

/// The queue of this (user, channel) is full: the message is not handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueFull;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Turns {
    pub(crate) fn new(max_waiting: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            max_waiting,
        }
    }

    /// Takes a place in the queue of (user, channel), at once (no waiting here): the turn
    /// itself when nobody is there, else the end of the queue, else `QueueFull`.
    pub(crate) fn enter(&self, user: UserId, channel: ChannelId) -> Result<Place, QueueFull> {
        let key = (user, channel);
        let mut state = lock(&self.state);
        state.next_ticket += 1;
        let ticket = state.next_ticket;
        match state.queues.get_mut(&key) {
            None => {
                state.queues.insert(
                    key,
                    Queue {
                        holder: ticket,
                        waiting: VecDeque::new(),
                    },
                );
            }
            Some(queue) if queue.waiting.len() >= self.max_waiting => return Err(QueueFull),
            Some(queue) => queue.waiting.push_back((ticket, None)),
        }
        Ok(Place {
            state: Arc::clone(&self.state),
            key,
            ticket,
        })
    }

    /// How many (user, channel) queues exist (for tests: none once every message is done).
    #[cfg(test)]
    fn queues(&self) -> usize {
        lock(&self.state).queues.len()
    }
}

/// A message's place in its (user, channel) queue. Dropping it — done, refused, or cancelled
/// while waiting — hands the turn to the next message, or leaves the queue.
#[derive(Debug)]
pub(crate) struct Place {
    state: Arc<Mutex<State>>,
    key: Key,
    ticket: u64,
}

impl Place {
    /// Completes when it is this message's turn.
    pub(crate) fn turn(&self) -> Turn<'_> {
        Turn { place: self }
    }

    /// Whether it is this message's turn now.
    #[cfg(test)]
    fn has_turn(&self) -> bool {
        lock(&self.state)
            .queues
            .get(&self.key)
            .is_some_and(|q| q.holder == self.ticket)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        let Some(queue) = state.queues.get_mut(&self.key) else {
            return;
        };
        if queue.holder == self.ticket {
            match queue.waiting.pop_front() {
                Some((next, waker)) => {
                    queue.holder = next;
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
                None => {
                    state.queues.remove(&self.key);
                }
            }
        } else {
            queue.waiting.retain(|(t, _)| *t != self.ticket);
        }
    }
}

/// The future of [`Place::turn`].
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    place: &'a Place,
}

impl Future for Turn<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let place = self.place;
        let mut state = lock(&place.state);
        let Some(queue) = state.queues.get_mut(&place.key) else {
            // Cannot happen while the place lives; never wait forever on it.
            return Poll::Ready(());
        };
        if queue.holder == place.ticket {
            return Poll::Ready(());
        }
        match queue.waiting.iter_mut().find(|(t, _)| *t == place.ticket) {
            Some((_, waker)) => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn ids(u: u64, c: u64) -> (UserId, ChannelId) {
        (UserId::new(u).unwrap(), ChannelId::new(c).unwrap())
    }

    fn poll(place: &Place, waker: &Arc<Count>) -> bool {
        let waker = Waker::from(Arc::clone(waker));
        let mut cx = Context::from_waker(&waker);
        let mut turn = place.turn();
        Pin::new(&mut turn).poll(&mut cx).is_ready()
    }

    #[test]
    fn messages_of_one_user_and_channel_take_turns_in_arrival_order() {
        let turns = Turns::new(8);
        let (u, c) = ids(1, 2);
        let first = turns.enter(u, c).unwrap();
        let second = turns.enter(u, c).unwrap();
        let third = turns.enter(u, c).unwrap();
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        assert!(
            poll(&first, &woken),
            "the first message has the turn at once"
        );
        assert!(!poll(&second, &woken), "the second waits");
        assert!(!poll(&third, &woken), "the third waits");
        drop(first);
        assert_eq!(
            woken.0.load(Ordering::SeqCst),
            1,
            "only the next one is woken"
        );
        assert!(second.has_turn() && !third.has_turn());
        assert!(poll(&second, &woken));
        drop(second);
        assert!(poll(&third, &woken), "then the third");
        drop(third);
        assert_eq!(
            turns.queues(),
            0,
            "an idle (user, channel) leaves nothing behind"
        );
    }

    #[test]
    fn other_users_and_channels_do_not_wait() {
        let turns = Turns::new(8);
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let (u, c) = ids(1, 2);
        let _busy = turns.enter(u, c).unwrap();
        let other_user = turns.enter(ids(3, 2).0, c).unwrap();
        let other_channel = turns.enter(u, ids(1, 4).1).unwrap();
        assert!(poll(&other_user, &woken));
        assert!(poll(&other_channel, &woken));
    }

    #[test]
    fn a_message_that_gives_up_while_waiting_leaves_the_queue_and_the_order_holds() {
        let turns = Turns::new(8);
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let (u, c) = ids(1, 2);
        let first = turns.enter(u, c).unwrap();
        let second = turns.enter(u, c).unwrap();
        let third = turns.enter(u, c).unwrap();
        assert!(!poll(&second, &woken));
        drop(second);
        drop(first);
        assert!(
            poll(&third, &woken),
            "the third takes the turn the second gave up"
        );
        drop(third);
        assert_eq!(turns.queues(), 0);
    }

    #[test]
    fn a_turn_handed_to_a_message_that_is_dropped_before_noticing_passes_on() {
        let turns = Turns::new(8);
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let (u, c) = ids(1, 2);
        let first = turns.enter(u, c).unwrap();
        let second = turns.enter(u, c).unwrap();
        let third = turns.enter(u, c).unwrap();
        drop(first);
        assert!(second.has_turn());
        drop(second);
        assert!(poll(&third, &woken));
    }

    #[test]
    fn the_queue_is_bounded_and_frees_places_as_turns_end() {
        let turns = Turns::new(2);
        let (u, c) = ids(1, 2);
        let first = turns.enter(u, c).unwrap();
        let _second = turns.enter(u, c).unwrap();
        let _third = turns.enter(u, c).unwrap();
        assert_eq!(
            turns.enter(u, c).err(),
            Some(QueueFull),
            "two waiting at most"
        );
        drop(first);
        assert!(turns.enter(u, c).is_ok(), "a place freed up");
    }
}
