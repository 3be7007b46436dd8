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
//! are never more than [`MAX_REMEMBERED`] (the one expiring first is dropped first).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
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
        let ours = matches!(
            state.entries.get(&self.key),
            Some(Entry::InFlight { generation, .. }) if *generation == self.generation
        );
        if !ours {
            return;
        }
        if self.succeeded {
            state.entries.insert(self.key, Entry::Succeeded { at: now });
        } else {
            state.entries.remove(&self.key);
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

#[derive(Debug)]
struct State {
    /// Hash of (user, channel, command, all arguments) → the last admitted run.
    entries: HashMap<u64, Entry>,
    /// Each user's latest admitted command (its key); only entries still in `entries`.
    latest: HashMap<UserId, u64>,
    next_generation: u64,
    hasher: RandomState,
}

impl State {
    fn prune(&mut self, now: Timestamp) {
        if !self.entries.is_empty() {
            self.entries.retain(|_, e| e.expires() > now);
        }
        while self.entries.len() > MAX_REMEMBERED {
            let first = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires())
                .map(|(k, _)| *k);
            match first {
                Some(key) => self.entries.remove(&key),
                None => break,
            };
        }
        let entries = &self.entries;
        self.latest.retain(|_, key| entries.contains_key(key));
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
        match state.entries.get(&key).filter(|e| e.expires() > now) {
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
        state.entries.insert(
            key,
            Entry::InFlight {
                generation,
                since: now,
            },
        );
        // Expired entries are skipped by the lookup above; the memory is swept when full.
        if state.entries.len() > MAX_REMEMBERED || state.latest.len() > MAX_REMEMBERED {
            state.prune(now);
        }
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
