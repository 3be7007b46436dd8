//! Troupe's legacy command system: an independent, deliberately simple procedural
//! implementation of the same 18 commands as the new (domain-driven) system, in the style of the
//! original bot's command files — one plain function per command, checks top to bottom, one
//! port call per state change. It is kept as the safe default while the new system is rolled out
//! category by category behind feature flags, and it is the reference the shadow comparison and
//! `troupe compare` hold the new system against (ADR 0002), so both work over the same ports and
//! the same store: switching a flag never moves data.
//!
//! It shares only the domain value types (names, aliases, tokens, versions), the ports and the
//! command model with the new system. It must not know the new system's handlers
//! (`troupe_application::handlers`), nor any adapter technology: no twilight, no sqlx, no axum,
//! no reqwest. `help` is the one exception by design: it renders the shared command catalog, so
//! help text can never differ between the systems.

mod commands;
mod support;

use async_trait::async_trait;
use troupe_application::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps, ReferenceId, SystemKind,
};

use crate::commands::{auth, conversation, personality, utility};

/// The legacy command system. Handles all 18 commands.
#[derive(Debug, Clone)]
pub struct LegacySystem {
    deps: Deps,
}

impl LegacySystem {
    /// The legacy system over these ports and configuration.
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl CommandSystem for LegacySystem {
    fn kind(&self) -> SystemKind {
        SystemKind::Legacy
    }

    fn handles(&self, _command: CommandName) -> bool {
        true
    }

    async fn execute(&self, request: &CommandRequest) -> CommandOutcome {
        let deps = &self.deps;
        let result = match request.command {
            CommandName::Ping => utility::ping(deps, request),
            CommandName::Status => utility::status(deps, request).await,
            CommandName::Help => utility::help(deps, request),
            CommandName::Notifications => utility::notifications(deps, request).await,
            CommandName::Debug => utility::debug(deps, request).await,
            CommandName::Purgbot => utility::purgbot(deps, request).await,
            CommandName::Volumetest => utility::volumetest(deps, request).await,
            CommandName::Auth => auth::auth(deps, request).await,
            CommandName::Verify => auth::verify(deps, request).await,
            CommandName::Activate => conversation::activate(deps, request).await,
            CommandName::Deactivate => conversation::deactivate(deps, request).await,
            CommandName::Reset => conversation::reset(deps, request).await,
            CommandName::Autorespond => conversation::autorespond(deps, request).await,
            CommandName::Add => personality::add(deps, request).await,
            CommandName::Remove => personality::remove(deps, request).await,
            CommandName::Info => personality::info(deps, request).await,
            CommandName::Alias => personality::alias(deps, request).await,
            CommandName::List => personality::list(deps, request).await,
        };
        result.unwrap_or_else(|failure| {
            let reference = ReferenceId::generate(deps.clock.now());
            tracing::error!(
                %reference,
                command = request.command.as_str(),
                system = SystemKind::Legacy.as_str(),
                cause = %failure,
                "command failed on a dependency"
            );
            CommandOutcome::internal_error(reference)
        })
    }
}
