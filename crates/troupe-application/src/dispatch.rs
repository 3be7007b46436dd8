//! The front door for commands: parse (or take a slash request), guard against duplicates,
//! route to a command system, and report what happened.

use std::sync::Arc;
use std::time::Instant;

use troupe_domain::Timestamp;

use crate::command::{Category, CommandName};
use crate::guard::{Admission, CommandGuard, Suppressed};
use crate::model::{
    CommandOutcome, CommandRequest, Invoker, Location, OutcomeClass, Reply, RequestSource,
    SystemKind, colour,
};
use crate::parser::{Parsed, parse};
use crate::router::{Route, Router};
use crate::shadow::{ShadowJob, ShadowTicket};

/// What the dispatcher did with one command, for delivery and metrics.
#[derive(Debug)]
pub struct Dispatched {
    pub outcome: CommandOutcome,
    /// `None` when no command system ran (unknown command, duplicate).
    pub command: Option<CommandName>,
    pub served_by: Option<SystemKind>,
    pub route: Option<Route>,
    pub fell_back: bool,
    /// Why the guard did not run the command (an identical one succeeded a moment ago or is
    /// still running); the console prints [`Suppressed::note`].
    pub suppressed: Option<Suppressed>,
    /// A shadow slot (shadow mode): after delivering the outcome, call [`Self::take_shadow_job`].
    pub shadow: Option<ShadowTicket>,
    /// The request, kept only when a shadow slot was granted.
    request: Option<CommandRequest>,
    pub elapsed: std::time::Duration,
}

impl Dispatched {
    /// The shadow job comparing the new system with the delivered outcome, if this command got
    /// a shadow slot. Call it after delivery: the copies it makes are off the reply's path.
    pub fn take_shadow_job(&mut self) -> Option<ShadowJob> {
        let ticket = self.shadow.take()?;
        let request = self.request.take()?;
        Some(ticket.into_job(&request, &self.outcome))
    }
}

/// One finished command, as reported to an observer (metrics, alerts). No ids, no secrets.
#[derive(Debug, Clone, Copy)]
pub struct CommandRecord {
    pub command: CommandName,
    pub category: Category,
    pub system: SystemKind,
    pub class: OutcomeClass,
    pub fell_back: bool,
    pub elapsed: std::time::Duration,
}

/// Receives a record of every command a system ran.
pub type CommandObserver = Arc<dyn Fn(&CommandRecord) + Send + Sync>;

/// Parser + guard + router.
pub struct Dispatcher {
    prefix: String,
    guard: CommandGuard,
    router: Arc<Router>,
    observer: Option<CommandObserver>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(
        prefix: impl Into<String>,
        guard: CommandGuard,
        router: Arc<Router>,
        observer: Option<CommandObserver>,
    ) -> Self {
        Self {
            prefix: prefix.into(),
            guard,
            router,
            observer,
        }
    }

    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The command of `source` has been answered (its reply delivered): see
    /// [`CommandGuard::settled`]. Call it after delivering, also when nothing was delivered.
    pub async fn settled(&self, source: RequestSource) {
        self.guard.settled(source.id()).await;
    }

    /// Whether a message's text is a prefix command (the prefix in any case, then nothing or
    /// whitespace): [`Self::dispatch_text`] answers it.
    pub fn is_command(&self, content: &str) -> bool {
        crate::parser::is_command(content, &self.prefix)
    }

    /// Handles a message's text. `None` when it is not a command (the message flow takes it).
    pub async fn dispatch_text(
        &self,
        content: &str,
        invoker: Invoker,
        location: Location,
        source: RequestSource,
        received_at: Timestamp,
    ) -> Option<Dispatched> {
        let started = Instant::now();
        match parse(content, &self.prefix) {
            Parsed::NotACommand => None,
            Parsed::Unknown { name } => Some(Self::rejected(
                started,
                "Unknown command",
                format!(
                    "Unknown command `{}`. Try `{} help` for the list of commands.",
                    sanitize(&name),
                    self.prefix
                ),
            )),
            Parsed::Invalid { reason } => Some(Self::rejected(
                started,
                "Syntax error",
                format!("{reason} Try `{} help`.", self.prefix),
            )),
            Parsed::Command {
                command,
                invoked_as,
                args,
            } => {
                let request = CommandRequest {
                    invoker,
                    location,
                    source,
                    command,
                    invoked_as,
                    args,
                    received_at,
                };
                let mut dispatched = self.dispatch_inner(&request).await;
                if dispatched.shadow.is_some() {
                    dispatched.request = Some(request);
                }
                Some(dispatched)
            }
        }
    }

    /// Handles a parsed request (prefix or slash): guard, route, observe.
    pub async fn dispatch(&self, request: &CommandRequest) -> Dispatched {
        let mut dispatched = self.dispatch_inner(request).await;
        if dispatched.shadow.is_some() {
            dispatched.request = Some(request.clone());
        }
        dispatched
    }

    async fn dispatch_inner(&self, request: &CommandRequest) -> Dispatched {
        let started = Instant::now();
        let ticket = match self.guard.admit(request).await {
            Admission::Proceed(ticket) => ticket,
            other => {
                let outcome = other.outcome().unwrap_or_else(CommandOutcome::ignored);
                return Dispatched {
                    outcome,
                    command: Some(request.command),
                    served_by: None,
                    route: None,
                    fell_back: false,
                    suppressed: other.suppressed(),
                    shadow: None,
                    request: None,
                    elapsed: started.elapsed(),
                };
            }
        };
        let routed = self.router.execute(request).await;
        self.guard.complete(ticket, routed.outcome.class);
        let elapsed = started.elapsed();
        if let Some(observer) = &self.observer {
            observer(&CommandRecord {
                command: request.command,
                category: request.command.category(),
                system: routed.served_by,
                class: routed.outcome.class,
                fell_back: routed.fell_back,
                elapsed,
            });
        }
        Dispatched {
            outcome: routed.outcome,
            command: Some(request.command),
            served_by: Some(routed.served_by),
            route: Some(routed.route),
            fell_back: routed.fell_back,
            suppressed: None,
            shadow: routed.shadow,
            request: None,
            elapsed,
        }
    }

    fn rejected(started: Instant, title: &str, text: String) -> Dispatched {
        let reply = Reply {
            title: Some(title.into()),
            text,
            colour: colour::ERROR,
            ..Reply::default()
        };
        Dispatched {
            outcome: CommandOutcome::new(OutcomeClass::InvalidInput, reply),
            command: None,
            served_by: None,
            route: None,
            fell_back: false,
            suppressed: None,
            shadow: None,
            request: None,
            elapsed: started.elapsed(),
        }
    }
}

/// Strips markdown and mention characters from echoed user text.
fn sanitize(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '`' | '*' | '_' | '~' | '|' | '@' | '<' | '>'))
        .take(50)
        .collect()
}
