//! The dispatcher guard: each message or interaction id once, identical commands within 3 s, and
//! the `add` in-flight / 5 s rule (commands.md §1). The dispatcher asks [`CommandGuard::admit`]
//! before routing a parsed command to a command system; neither system sees duplicates.
//!
//! Checks, in order (the first that applies decides):
//! 1. **Id** — [`ProcessedMessages::claim`] with a TTL of [`MESSAGE_ID_TTL`]; already claimed →
//!    [`Admission::Duplicate`]. The claim is persistent across restarts when the store is. When
//!    the store fails, the guard **fails open** (admits, logs a warning): a flaky store must never
//!    silence the bot; the in-process rules below still catch quick repeats (ADR 0003).
//! 2. **`add` of the same name by the same user** (name compared case-insensitively, whatever
//!    the other arguments) — still running → [`Admission::InFlight`] (silent); completed less
//!    than [`ADD_COMPLETED_WINDOW`] ago → [`Admission::AlreadyProcessed`] (a reply). This rule
//!    comes before the next so a repeated `add` gets its "already processed" answer. An `add`
//!    running longer than [`ADD_IN_FLIGHT_TIMEOUT`] no longer blocks its name.
//! 3. **Identical command** — same user, same channel, same command (aliases count as the
//!    command) and same arguments admitted less than [`REPEAT_WINDOW`] ago →
//!    [`Admission::Repeated`] (silent). The window runs from the last *admitted* one, so a user
//!    repeating every 2 s is not ignored forever. The channel is part of the key: the same
//!    command in two channels (say `activate` in both) is two commands.
//!
//! Rules 2 and 3 are in-process memory, bounded: entries are dropped once their window is over
//! and there are never more than [`MAX_REMEMBERED`] of each kind (oldest dropped first).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use troupe_domain::{Duration, Timestamp, UserId};
use troupe_ports::{Clock, ProcessedMessages};

use crate::command::CommandName;
use crate::model::{CommandOutcome, CommandRequest, OutcomeClass, Reply, colour};

/// How long a message or interaction id is remembered by [`ProcessedMessages`].
pub const MESSAGE_ID_TTL: Duration = Duration::from_secs(60 * 60);
/// An identical command within this window is ignored.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(3);
/// An `add` of the same name within this window after completion answers "already processed".
pub const ADD_COMPLETED_WINDOW: Duration = Duration::from_secs(5);
/// An `add` still marked running after this long is considered lost and blocks nothing.
pub const ADD_IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Upper bound of remembered identical-command entries and of remembered `add` entries.
pub const MAX_REMEMBERED: usize = 4096;

/// The guard's verdict on a request.
#[derive(Debug)]
pub enum Admission {
    /// Run the command; drop the ticket (or pass it to [`CommandGuard::complete`]) when done.
    Proceed(AdmitTicket),
    /// The message or interaction id was handled before: silent.
    Duplicate,
    /// The same user sent the identical command within 3 s: silent.
    Repeated,
    /// An `add` of `name` by this user completed less than 5 s ago: reply "already processed".
    AlreadyProcessed {
        /// The personality name as typed in this request.
        name: String,
    },
    /// An `add` of the same name by this user is still running: silent.
    InFlight,
}

impl Admission {
    /// Whether the command may run.
    pub fn is_proceed(&self) -> bool {
        matches!(self, Self::Proceed(_))
    }

    /// The outcome to deliver instead of running the command: `None` for [`Admission::Proceed`],
    /// an ignored outcome (no reply) for the silent verdicts, a `Conflict` reply naming the
    /// personality for [`Admission::AlreadyProcessed`].
    pub fn outcome(&self) -> Option<CommandOutcome> {
        match self {
            Self::Proceed(_) => None,
            Self::Duplicate | Self::Repeated | Self::InFlight => Some(CommandOutcome::ignored()),
            Self::AlreadyProcessed { name } => {
                let name: String = name.chars().filter(|c| !matches!(c, '*' | '`')).collect();
                Some(CommandOutcome::new(
                    OutcomeClass::Conflict,
                    Reply {
                        title: Some("Already processed".into()),
                        text: format!(
                            "Your `add` of **{name}** was already processed a moment ago; nothing was done twice."
                        ),
                        colour: colour::WARNING,
                        ..Reply::default()
                    },
                ))
            }
        }
    }
}

/// Proof that a request was admitted. Dropping it (or [`CommandGuard::complete`]) marks the
/// command completed; for `add` the 5 s "already processed" window starts then.
pub struct AdmitTicket {
    add: Option<AddClaim>,
}

struct AddClaim {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
    key: AddKey,
    generation: u64,
}

impl fmt::Debug for AdmitTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmitTicket")
            .field("add", &self.add.as_ref().map(|c| &c.key))
            .finish()
    }
}

impl Drop for AdmitTicket {
    fn drop(&mut self) {
        if let Some(claim) = self.add.take() {
            let now = claim.clock.now();
            let mut state = lock(&claim.state);
            // A newer `add` may have replaced a timed-out entry; leave that one alone.
            if let Some(AddState::InFlight { generation, .. }) = state.adds.get(&claim.key)
                && *generation == claim.generation
            {
                state
                    .adds
                    .insert(claim.key, AddState::Completed { at: now });
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AddKey {
    user: UserId,
    /// Lower-cased.
    name: String,
}

#[derive(Debug, Clone, Copy)]
enum AddState {
    InFlight { generation: u64, since: Timestamp },
    Completed { at: Timestamp },
}

impl AddState {
    /// When this entry stops mattering.
    fn expires(self) -> Timestamp {
        match self {
            Self::InFlight { since, .. } => since.plus(ADD_IN_FLIGHT_TIMEOUT),
            Self::Completed { at } => at.plus(ADD_COMPLETED_WINDOW),
        }
    }
}

#[derive(Debug)]
struct State {
    /// Hash of (user, channel, command, arguments) → when it was last admitted.
    recent: HashMap<u64, Timestamp>,
    /// The same entries in admission order, for eviction.
    recent_order: VecDeque<(Timestamp, u64)>,
    adds: HashMap<AddKey, AddState>,
    next_generation: u64,
    hasher: RandomState,
}

impl State {
    fn prune(&mut self, now: Timestamp) {
        while let Some(&(at, key)) = self.recent_order.front() {
            let expired = at.plus(REPEAT_WINDOW) <= now;
            if !expired && self.recent_order.len() <= MAX_REMEMBERED {
                break;
            }
            self.recent_order.pop_front();
            if self.recent.get(&key) == Some(&at) {
                self.recent.remove(&key);
            }
        }
        if !self.adds.is_empty() {
            self.adds.retain(|_, s| s.expires() > now);
        }
        while self.adds.len() > MAX_REMEMBERED {
            let oldest = self
                .adds
                .iter()
                .min_by_key(|(_, s)| s.expires())
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.adds.remove(&key),
                None => break,
            };
        }
    }

    fn repeat_key(&self, request: &CommandRequest) -> u64 {
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
                recent: HashMap::new(),
                recent_order: VecDeque::new(),
                adds: HashMap::new(),
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
            Ok(false) => return Admission::Duplicate,
            Err(error) => tracing::warn!(
                %error,
                message_id = %id,
                "could not claim the message id; admitting the command (fail open, ADR 0003)"
            ),
        }

        let now = self.clock.now();
        let mut state = lock(&self.state);
        state.prune(now);

        let add = add_name(request).map(|(typed, key)| (typed.to_owned(), key));
        if let Some((typed, key)) = &add {
            match state.adds.get(key) {
                Some(AddState::InFlight { .. }) => return Admission::InFlight,
                Some(AddState::Completed { .. }) => {
                    return Admission::AlreadyProcessed {
                        name: typed.clone(),
                    };
                }
                None => {}
            }
        }

        let repeat = state.repeat_key(request);
        if state.recent.contains_key(&repeat) {
            return Admission::Repeated;
        }
        state.recent.insert(repeat, now);
        state.recent_order.push_back((now, repeat));

        let claim = add.map(|(_, key)| {
            let generation = state.next_generation;
            state.next_generation += 1;
            state.adds.insert(
                key.clone(),
                AddState::InFlight {
                    generation,
                    since: now,
                },
            );
            AddClaim {
                state: Arc::clone(&self.state),
                clock: Arc::clone(&self.clock),
                key,
                generation,
            }
        });
        state.prune(now);
        Admission::Proceed(AdmitTicket { add: claim })
    }

    /// Marks the admitted command completed (the same as dropping the ticket).
    pub fn complete(&self, ticket: AdmitTicket) {
        drop(ticket);
    }

    /// Entries held in process memory (identical-command entries plus `add` entries), after
    /// dropping those whose window is over; at most twice [`MAX_REMEMBERED`].
    pub fn remembered(&self) -> usize {
        let mut state = lock(&self.state);
        state.prune(self.clock.now());
        state.recent.len() + state.adds.len()
    }
}

/// For an `add` with a name: the name as typed and the key of the in-flight rule.
fn add_name(request: &CommandRequest) -> Option<(&str, AddKey)> {
    if request.command != CommandName::Add {
        return None;
    }
    let typed = request.args.first()?.trim();
    (!typed.is_empty()).then(|| {
        (
            typed,
            AddKey {
                user: request.invoker.id,
                name: typed.to_lowercase(),
            },
        )
    })
}
