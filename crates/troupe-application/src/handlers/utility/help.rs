//! `help [command]`: rendered by the catalog, so both command systems answer identically.

use crate::catalog::help::{HelpAudience, render};
use crate::handlers::HandlerResult;
use crate::handlers::common::is_bot_owner;
use crate::{CommandOutcome, CommandRequest, Deps};

/// The overview, or one command's usage; `NotFound` / `Denied` as `catalog::help` decides.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let audience = HelpAudience {
        is_admin: !request.location.is_dm() && request.invoker.permissions.administrator,
        is_bot_owner: is_bot_owner(deps, request),
    };
    let (class, reply) = render(request.args.first(), audience, &deps.config.prefix);
    Ok(CommandOutcome::new(class, reply))
}
