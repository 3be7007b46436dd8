//! The command router: which command system serves a command (operations.md §1), fallback to
//! legacy on an internal error of the new system, and shadow runs of the new system.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use troupe_domain::GuildId;

use crate::command::CommandName;
use crate::flags::{FlagName, FlagSnapshot, Flags};
use crate::model::{CommandOutcome, CommandRequest, CommandSystem, OutcomeClass, SystemKind};
use crate::shadow::{ShadowRunner, ShadowTicket};

/// `should_use_new_system(command, has_new_command)` exactly as operations.md §1, in order:
/// no new handler → legacy; kill switch off → legacy; integration off → legacy; a per-command
/// override decides; else the category flag decides, with the category's targeting (guild
/// allow-list, sticky percentage) on top. Aliases resolve to their command before this runs.
pub fn should_use_new_system(
    flags: &FlagSnapshot,
    command: CommandName,
    has_new_command: bool,
    guild: Option<GuildId>,
) -> bool {
    if !has_new_command || !flags.get(FlagName::Enabled) || !flags.get(FlagName::Integration) {
        return false;
    }
    if flags.has_override(command) {
        return flags.get(FlagName::Command(command));
    }
    let category = command.category();
    flags.get(FlagName::Category(category))
        && flags.targeting(category).is_none_or(|t| t.admits(guild))
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Legacy,
    New,
    /// Legacy is authoritative; the new system runs as a candidate afterwards, over a
    /// snapshot of the state legacy started from.
    Shadow,
}

impl Route {
    /// As shown in `/health/commands` (`legacy`, `ddd`, `shadow`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::New => "ddd",
            Self::Shadow => "shadow",
        }
    }
}

/// The route for a command under `flags`. Shadow applies only when the command would go to
/// legacy while the kill switch is on (the kill switch turns shadow runs off too).
pub fn route(
    flags: &FlagSnapshot,
    command: CommandName,
    has_new_command: bool,
    guild: Option<GuildId>,
) -> Route {
    if should_use_new_system(flags, command, has_new_command, guild) {
        Route::New
    } else if has_new_command
        && flags.get(FlagName::Enabled)
        && flags.get(FlagName::Shadow(command.category()))
    {
        Route::Shadow
    } else {
        Route::Legacy
    }
}

/// The routed result: the outcome to deliver, who produced it, and an optional shadow slot the
/// caller turns into a job ([`ShadowTicket::into_job`]) and runs after delivering.
#[derive(Debug)]
pub struct Routed {
    pub outcome: CommandOutcome,
    pub served_by: SystemKind,
    pub route: Route,
    /// The new system failed internally and legacy served the command.
    pub fell_back: bool,
    pub shadow: Option<ShadowTicket>,
}

/// Counters of the router since start.
#[derive(Debug, Default)]
pub struct RouterStats {
    pub fallbacks: AtomicU64,
}

/// Routes commands between the legacy and the new command system.
pub struct Router {
    legacy: Arc<dyn CommandSystem>,
    new: Arc<dyn CommandSystem>,
    flags: Arc<Flags>,
    shadow: Option<Arc<ShadowRunner>>,
    stats: RouterStats,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Router {
    pub fn new(
        legacy: Arc<dyn CommandSystem>,
        new: Arc<dyn CommandSystem>,
        flags: Arc<Flags>,
        shadow: Option<Arc<ShadowRunner>>,
    ) -> Self {
        Self {
            legacy,
            new,
            flags,
            shadow,
            stats: RouterStats::default(),
        }
    }

    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    pub fn stats(&self) -> &RouterStats {
        &self.stats
    }

    /// The route a command would take now.
    pub fn route_for(&self, command: CommandName, guild: Option<GuildId>) -> Route {
        route(
            &self.flags.snapshot(),
            command,
            self.new.handles(command),
            guild,
        )
    }

    /// Runs a command on the system its route chooses. When the new system gives an internal
    /// error (nothing has been delivered yet: delivery happens after this returns) and
    /// `ddd.commands.fallbackOnError` is on, legacy runs it instead and the fallback is counted.
    pub async fn execute(&self, request: &CommandRequest) -> Routed {
        let flags = self.flags.snapshot();
        let command = request.command;
        let route = route(
            &flags,
            command,
            self.new.handles(command),
            request.location.guild(),
        );
        match route {
            Route::New => {
                let outcome = self.new.execute(request).await;
                if outcome.class == OutcomeClass::InternalError
                    && flags.get(FlagName::FallbackOnError)
                {
                    self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        command = command.as_str(),
                        reference = ?outcome.reference.map(|r| r.to_string()),
                        "new command system failed; legacy serves the command"
                    );
                    let outcome = self.legacy.execute(request).await;
                    return Routed {
                        outcome,
                        served_by: SystemKind::Legacy,
                        route,
                        fell_back: true,
                        shadow: None,
                    };
                }
                Routed {
                    outcome,
                    served_by: SystemKind::New,
                    route,
                    fell_back: false,
                    shadow: None,
                }
            }
            Route::Legacy | Route::Shadow => {
                // Shadow: the snapshot the candidate will read is pinned BEFORE legacy runs
                // (ADR 0015), and legacy serves over ports that record the outside world.
                let started = match (route, &self.shadow) {
                    (Route::Shadow, Some(runner)) => runner.start(request).await,
                    _ => None,
                };
                let (outcome, shadow) = match started {
                    Some(started) => (
                        started.authoritative.execute(request).await,
                        Some(started.ticket),
                    ),
                    None => (self.legacy.execute(request).await, None),
                };
                Routed {
                    outcome,
                    served_by: SystemKind::Legacy,
                    route,
                    fell_back: false,
                    shadow,
                }
            }
        }
    }
}
