//! The dispatcher guard: each message or interaction id once, and an identical command that
//! succeeded or is still running not run again within 3 s (commands.md §1). The dispatcher asks
//! [`CommandGuard::admit`] before routing a parsed command to a command system and reports the
//! outcome with [`CommandGuard::complete`]; neither system sees duplicates.
//!
//! Checks, in order (the first that applies decides):
//! 1. **Id** — [`ProcessedMessages::claim`] with a TTL of [`MESSAGE_ID_TTL`]; already claimed →
//!    [`Admission::Replayed`]. The claim is persistent across restarts when the store is. When
//!    the store fails, the guard **fails open** (admits, logs a warning): a flaky store must never
//!    silence the bot; the in-process rule below still catches quick repeats (ADR 0003).
//! 2. **Identical command** — the key is the user, the channel, the command (aliases count as
//!    the command) and *all* arguments (words, the `|` tail, named options). Only the user's own
//!    earlier command with the same key counts:
//!    - still running (and younger than [`IN_FLIGHT_TIMEOUT`]) → [`Suppressed::InFlight`];
//!    - completed with a success (or information) outcome less than [`REPEAT_WINDOW`] ago, and
//!      it is the user's latest command (no other command of theirs came in between: `add
//!      gamma`, `remove gamma`, `add gamma` runs all three) → [`Suppressed::Duplicate`];
//!    - completed with a failure (conflict, not found, bad arguments, denied, error), or its
//!      ticket dropped without an outcome → forgotten at once: a failed attempt never blocks
//!      the next one, corrected or identical.
//!
//!    A correction (`add beta "al"` refused, then `add beta "be"`) has other arguments and is
//!    never suppressed. The channel is part of the key: `activate` in two channels is two
//!    commands.
//!
//! Rule 2 is in-process memory, bounded: entries are dropped once their window is over and there
//! are never more than [`MAX_REMEMBERED`] (the one expiring first is dropped first, found in an
//! index by expiry: a full guard costs the same per command as an empty one).

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use troupe_domain::{Duration, Timestamp, UserId};
use troupe_ports::{Clock, ProcessedMessages};

use crate::model::{CommandOutcome, CommandRequest, OutcomeClass};

/// How long a message or interaction id is remembered by [`ProcessedMessages`].
pub const MESSAGE_ID_TTL: Duration = Duration::from_secs(60 * 60);
/// An identical command that succeeded less than this long ago is not run again.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(3);
/// A command still marked running after this long is considered lost and blocks nothing.
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Upper bound of remembered identical-command entries.
pub const MAX_REMEMBERED: usize = 4096;

/// Why an identical command was not run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppressed {
    /// The identical command succeeded less than [`REPEAT_WINDOW`] ago.
    Duplicate,
    /// The identical command is still running.
    InFlight,
}

impl Suppressed {
    /// A one-line note for surfaces that show one (the console; commands.md §1).
    pub fn note(self) -> &'static str {
        match self {
            Self::Duplicate => {
                "(Not run again: the identical command succeeded less than 3 seconds ago.)"
            }
            Self::InFlight => "(Not run again: the identical command is still running.)",
        }
    }
}

/// The guard's verdict on a request.
#[derive(Debug)]
pub enum Admission {
    /// Run the command, then pass the ticket and the outcome to [`CommandGuard::complete`].
    Proceed(AdmitTicket),
    /// The message or interaction id was handled before: silent.
    Replayed,
    /// The identical command succeeded a moment ago or is still running: not run again.
    Suppressed(Suppressed),
}

impl Admission {
    /// Whether the command may run.
    pub fn is_proceed(&self) -> bool {
        matches!(self, Self::Proceed(_))
    }

    /// The outcome to deliver instead of running the command: `None` for [`Admission::Proceed`],
    /// an ignored outcome (no reply on Discord messages) otherwise.
    pub fn outcome(&self) -> Option<CommandOutcome> {
        match self {
            Self::Proceed(_) => None,
            Self::Replayed | Self::Suppressed(_) => Some(CommandOutcome::ignored()),
        }
    }

    /// Why the command was suppressed, for [`Admission::Suppressed`].
    pub fn suppressed(&self) -> Option<Suppressed> {
        match self {
            Self::Suppressed(s) => Some(*s),
            _ => None,
        }
    }
}

/// Proof that a request was admitted. Pass it to [`CommandGuard::complete`] with the outcome;
/// dropping it without does the same as a failed outcome (the command blocks nothing).
pub struct AdmitTicket {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
    key: u64,
    generation: u64,
    succeeded: bool,
}

impl fmt::Debug for AdmitTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmitTicket")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Drop for AdmitTicket {
    fn drop(&mut self) {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        // A newer run may have replaced a timed-out entry; leave that one alone.
        let user = match state.entries.get(&self.key) {
            Some(Remembered {
                user,
                entry: Entry::InFlight { generation, .. },
            }) if *generation == self.generation => *user,
            _ => return,
        };
        if self.succeeded {
            state.remember(self.key, user, Entry::Succeeded { at: now });
        } else {
            state.forget(self.key);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    InFlight { generation: u64, since: Timestamp },
    Succeeded { at: Timestamp },
}

impl Entry {
    /// When this entry stops mattering.
    fn expires(self) -> Timestamp {
        match self {
            Self::InFlight { since, .. } => since.plus(IN_FLIGHT_TIMEOUT),
            Self::Succeeded { at } => at.plus(REPEAT_WINDOW),
        }
    }
}

/// A remembered run and whose command it was.
#[derive(Debug, Clone, Copy)]
struct Remembered {
    user: UserId,
    entry: Entry,
}

#[derive(Debug)]
struct State {
    /// Hash of (user, channel, command, all arguments) → the last admitted run.
    entries: HashMap<u64, Remembered>,
    /// When each entry of `entries` expires, soonest first. An entry replaced or forgotten
    /// leaves its record behind (skipped when it comes up); the index is rebuilt when such
    /// records outnumber the entries, so it stays within twice their number.
    expiries: BinaryHeap<Reverse<(Timestamp, u64)>>,
    /// Each user's latest admitted command (its key); only entries still in `entries`.
    latest: HashMap<UserId, u64>,
    next_generation: u64,
    hasher: RandomState,
}

impl State {
    /// Remembers `entry` as the last run of `key`, a command of `user`.
    fn remember(&mut self, key: u64, user: UserId, entry: Entry) {
        self.entries.insert(key, Remembered { user, entry });
        self.expiries.push(Reverse((entry.expires(), key)));
        if self.expiries.len() > 2 * self.entries.len() + 64 {
            self.expiries = self
                .entries
                .iter()
                .map(|(key, r)| Reverse((r.entry.expires(), *key)))
                .collect();
        }
    }

    /// Forgets `key` (and that it was its user's latest command).
    fn forget(&mut self, key: u64) {
        if let Some(Remembered { user, .. }) = self.entries.remove(&key)
            && self.latest.get(&user) == Some(&key)
        {
            self.latest.remove(&user);
        }
    }

    /// Drops the entries whose window is over, then the ones expiring first while there are
    /// more than [`MAX_REMEMBERED`]: each step takes the soonest expiry from the index, so a
    /// full guard costs one step per admitted command, not a scan of everything it holds.
    fn prune(&mut self, now: Timestamp) {
        while let Some(&Reverse((expires, key))) = self.expiries.peek() {
            let live = self
                .entries
                .get(&key)
                .is_some_and(|r| r.entry.expires() == expires);
            if live && expires > now && self.entries.len() <= MAX_REMEMBERED {
                break;
            }
            self.expiries.pop();
            if live {
                self.forget(key);
            }
        }
    }

    fn key(&self, request: &CommandRequest) -> u64 {
        let mut h = self.hasher.build_hasher();
        request.invoker.id.hash(&mut h);
        request.location.channel().hash(&mut h);
        request.command.hash(&mut h);
        request.args.words.hash(&mut h);
        request.args.tail.hash(&mut h);
        request.args.options.hash(&mut h);
        h.finish()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent at every await-free step, so a poisoned lock is still usable.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The dispatcher's duplicate guard (see the module documentation for the rules).
pub struct CommandGuard {
    processed: Arc<dyn ProcessedMessages>,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for CommandGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandGuard")
            .field("remembered", &self.remembered())
            .finish_non_exhaustive()
    }
}

impl CommandGuard {
    /// A guard claiming ids in `processed` and reading time from `clock`.
    pub fn new(processed: Arc<dyn ProcessedMessages>, clock: Arc<dyn Clock>) -> Self {
        Self {
            processed,
            clock,
            state: Arc::new(Mutex::new(State {
                entries: HashMap::new(),
                expiries: BinaryHeap::new(),
                latest: HashMap::new(),
                next_generation: 0,
                hasher: RandomState::new(),
            })),
        }
    }

    /// Decides whether `request` runs (see the module documentation for the order of checks).
    pub async fn admit(&self, request: &CommandRequest) -> Admission {
        let id = request.source.id();
        match self
            .processed
            .claim(id, self.clock.now(), MESSAGE_ID_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Admission::Replayed,
            Err(error) => tracing::warn!(
                %error,
                message_id = %id,
                "could not claim the message id; admitting the command (fail open, ADR 0003)"
            ),
        }

        let now = self.clock.now();
        let mut state = lock(&self.state);
        let key = state.key(request);
        match state
            .entries
            .get(&key)
            .map(|r| r.entry)
            .filter(|e| e.expires() > now)
        {
            Some(Entry::InFlight { .. }) => return Admission::Suppressed(Suppressed::InFlight),
            Some(Entry::Succeeded { .. })
                if state.latest.get(&request.invoker.id) == Some(&key) =>
            {
                return Admission::Suppressed(Suppressed::Duplicate);
            }
            Some(Entry::Succeeded { .. }) | None => {}
        }
        state.latest.insert(request.invoker.id, key);
        let generation = state.next_generation;
        state.next_generation += 1;
        state.remember(
            key,
            request.invoker.id,
            Entry::InFlight {
                generation,
                since: now,
            },
        );
        state.prune(now);
        Admission::Proceed(AdmitTicket {
            state: Arc::clone(&self.state),
            clock: Arc::clone(&self.clock),
            key,
            generation,
            succeeded: false,
        })
    }

    /// The command of message or interaction `id` has been answered (its reply delivered):
    /// claims written lazily may now be made durable (ADR 0030). A failure is logged: the
    /// claim is then written later or at shutdown.
    pub async fn settled(&self, id: troupe_domain::MessageId) {
        if let Err(error) = self.processed.settle(id).await {
            tracing::warn!(%error, message_id = %id, "could not settle the message claim");
        }
    }

    /// Records how the admitted command ended: a success or information outcome suppresses an
    /// identical command for [`REPEAT_WINDOW`] from now; any other class forgets it.
    pub fn complete(&self, mut ticket: AdmitTicket, class: OutcomeClass) {
        ticket.succeeded = matches!(class, OutcomeClass::Success | OutcomeClass::Info);
        drop(ticket);
    }

    /// Entries held in process memory after dropping those whose window is over; at most
    /// [`MAX_REMEMBERED`].
    pub fn remembered(&self) -> usize {
        let mut state = lock(&self.state);
        state.prune(self.clock.now());
        state.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            entries: HashMap::new(),
            expiries: BinaryHeap::new(),
            latest: HashMap::new(),
            next_generation: 0,
            hasher: RandomState::new(),
        }
    }

    fn user(n: u64) -> UserId {
        UserId::new(n).expect("a user id")
    }

    const T0: Timestamp = Timestamp::from_millis(1_750_000_000_000);

    #[test]
    fn a_full_guard_drops_the_entries_expiring_first_and_its_index_stays_small() {
        let mut s = state();
        // Every command of a burst (eight a millisecond, all within the 3 s window): admitted
        // (in flight), then succeeded.
        for i in 0..(3 * MAX_REMEMBERED as u64) {
            let now = T0.plus(Duration::from_millis(i / 8));
            s.latest.insert(user(i + 1), i);
            s.remember(
                i,
                user(i + 1),
                Entry::InFlight {
                    generation: i,
                    since: now,
                },
            );
            s.prune(now);
            s.remember(i, user(i + 1), Entry::Succeeded { at: now });
            assert!(s.entries.len() <= MAX_REMEMBERED);
            assert!(s.latest.len() <= s.entries.len());
            assert!(
                s.expiries.len() <= 2 * s.entries.len() + 64,
                "{} records for {} entries",
                s.expiries.len(),
                s.entries.len()
            );
        }
        // The newest MAX_REMEMBERED stayed: the older ones expire first.
        let oldest_kept = 3 * MAX_REMEMBERED as u64 - MAX_REMEMBERED as u64;
        assert!(s.entries.contains_key(&oldest_kept));
        assert!(!s.entries.contains_key(&(oldest_kept - 1)));
        // Once their window is over, nothing is left.
        s.prune(T0.plus(Duration::from_secs(3600)));
        assert!(s.entries.is_empty() && s.latest.is_empty());
    }

    #[test]
    fn a_forgotten_or_replaced_entry_leaves_only_a_record_that_is_skipped() {
        let mut s = state();
        let since = T0;
        s.latest.insert(user(1), 7);
        s.remember(
            7,
            user(1),
            Entry::InFlight {
                generation: 0,
                since,
            },
        );
        s.remember(8, user(2), Entry::Succeeded { at: since });
        s.forget(7);
        assert!(s.latest.is_empty());
        // Key 8 expires at T0 + 3 s; the stale record of 7 (T0 + 10 min) must not drop it early
        // nor keep anything alive.
        s.prune(since.plus(Duration::from_secs(2)));
        assert!(s.entries.contains_key(&8));
        s.prune(since.plus(Duration::from_secs(4)));
        assert!(s.entries.is_empty());
    }
}
