//! The new (domain-driven) command system: one handler per command, grouped by category.
//!
//! Each handler is `async fn run(deps: &Deps, request: &CommandRequest) -> Result<CommandOutcome,
//! HandlerError>`: it loads through the ports, lets the domain aggregates decide, saves through
//! the ports (one port call per state change, so nothing is ever half-written) and returns an
//! outcome whose class, events and key facts follow ADR 0002. A failing port is an `Err`, which
//! [`NewSystem`] turns into an `InternalError` outcome with a logged reference id.

mod authentication;
mod common;
mod conversation;
mod personality;
mod utility;

use async_trait::async_trait;
use troupe_domain::Duration;
use troupe_ports::{AuthProviderError, PlatformError, ProfileError, StoreError, VolumeError};

use crate::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps, ReferenceId, SystemKind,
};

/// A profile fetched from the profile source counts as current for this long (`info` shows
/// `current` within it and `stale` after it).
pub const PROFILE_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// `purgbot`'s report deletes itself after this long.
pub const PURGE_REPORT_LIFETIME: Duration = Duration::from_secs(10);

/// A dependency failure inside a handler: never shown to the user, only logged with the
/// reference id of the `InternalError` reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandlerError {
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    #[error("profile source failure: {0}")]
    Profile(#[from] ProfileError),
    #[error("authorization provider failure: {0}")]
    AuthProvider(#[from] AuthProviderError),
    #[error("chat platform failure: {0}")]
    Platform(#[from] PlatformError),
    #[error("data volume failure: {0}")]
    Volume(#[from] VolumeError),
}

/// The result of one handler.
pub(crate) type HandlerResult = Result<CommandOutcome, HandlerError>;

/// The new command system: serves all 18 commands with the handlers of this module.
#[derive(Debug, Clone)]
pub struct NewSystem {
    deps: Deps,
}

impl NewSystem {
    /// A command system working through `deps`.
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }

    async fn dispatch(&self, request: &CommandRequest) -> HandlerResult {
        let deps = &self.deps;
        match request.command {
            CommandName::Ping => utility::ping::run(deps, request).await,
            CommandName::Status => utility::status::run(deps, request).await,
            CommandName::Help => utility::help::run(deps, request).await,
            CommandName::Notifications => utility::notifications::run(deps, request).await,
            CommandName::Debug => utility::debug::run(deps, request).await,
            CommandName::Purgbot => utility::purgbot::run(deps, request).await,
            CommandName::Volumetest => utility::volumetest::run(deps, request).await,
            CommandName::Auth => authentication::auth::run(deps, request).await,
            CommandName::Verify => authentication::verify::run(deps, request).await,
            CommandName::Activate => conversation::activate::run(deps, request).await,
            CommandName::Deactivate => conversation::deactivate::run(deps, request).await,
            CommandName::Reset => conversation::reset::run(deps, request).await,
            CommandName::Autorespond => conversation::autorespond::run(deps, request).await,
            CommandName::Add => personality::add::run(deps, request).await,
            CommandName::Remove => personality::remove::run(deps, request).await,
            CommandName::Info => personality::info::run(deps, request).await,
            CommandName::Alias => personality::alias::run(deps, request).await,
            CommandName::List => personality::list::run(deps, request).await,
        }
    }
}

#[async_trait]
impl CommandSystem for NewSystem {
    fn kind(&self) -> SystemKind {
        SystemKind::New
    }

    fn handles(&self, _command: CommandName) -> bool {
        true
    }

    async fn execute(&self, request: &CommandRequest) -> CommandOutcome {
        match self.dispatch(request).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let reference = ReferenceId::generate(self.deps.clock.now());
                tracing::error!(
                    %reference,
                    command = request.command.as_str(),
                    user = request.invoker.id.get(),
                    %error,
                    "command failed"
                );
                CommandOutcome::internal_error(reference)
            }
        }
    }
}
