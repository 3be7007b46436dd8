//! `deactivate`: removes the channel's activation.

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{bold, outcome, require_guild, require_manage_messages};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `Info` when nothing is active; otherwise `ChannelDeactivated` naming the personality.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if let Some(denied) = require_guild(request).or_else(|| require_manage_messages(request)) {
        return Ok(denied);
    }
    let channel = request.location.channel();
    let Some(removed) = deps.conversations.deactivate(channel).await? else {
        return Ok(outcome(
            OutcomeClass::Info,
            "Nothing active",
            "No personality is active in this channel.",
        ));
    };
    Ok(outcome(
        OutcomeClass::Success,
        "Personality deactivated",
        format!(
            "{} no longer answers every message here.",
            bold(removed.personality.as_str())
        ),
    )
    .with_event(DomainEvent::ChannelDeactivated { channel }))
}
