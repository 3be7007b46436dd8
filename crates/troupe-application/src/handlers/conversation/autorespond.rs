//! `autorespond [on|off|status]`: whether the caller's next messages continue a conversation
//! without a mention (default off).

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{code, on_off, outcome, subcommand};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `status` (the default) shows the setting; `on`/`off` set it with `AutorespondChanged`;
/// anything else lists the valid options.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let user = request.invoker.id;
    let enabled = match subcommand(request).as_deref() {
        None | Some("status") => {
            let current = deps.conversations.autorespond(user).await?;
            return Ok(outcome(
                OutcomeClass::Success,
                "Autorespond",
                format!("Autorespond is {}.", code(on_off(current))),
            ));
        }
        Some("on") => true,
        Some("off") => false,
        Some(_) => {
            return Ok(outcome(
                OutcomeClass::InvalidInput,
                "Unknown option",
                format!("Use {}, {} or {}.", code("on"), code("off"), code("status")),
            ));
        }
    };
    deps.conversations.set_autorespond(user, enabled).await?;
    Ok(outcome(
        OutcomeClass::Success,
        "Autorespond",
        format!("Autorespond is now {}.", code(on_off(enabled))),
    )
    .with_event(DomainEvent::AutorespondChanged { user, enabled }))
}
