//! `activate <personality>`: the personality answers every message in this channel.

use troupe_domain::DomainEvent;
use troupe_domain::conversation::ChannelActivation;
use troupe_ports::StoreError;

use crate::handlers::HandlerResult;
use crate::handlers::common::{
    bold, code, missing_personality, outcome, personality_not_found, require_guild,
    require_manage_messages,
};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Checks place, Manage Messages, the age gate, the argument and the lookup, then activates
/// (replacing any earlier activation) with `ChannelActivated`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if let Some(denied) = require_guild(request).or_else(|| require_manage_messages(request)) {
        return Ok(denied);
    }
    if deps.config.age_gate && !request.location.is_age_restricted() {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Age-restricted channels only",
            "Personalities can only be activated in channels marked age-restricted.",
        ));
    }
    let query = request.args.joined();
    if query.trim().is_empty() {
        return Ok(missing_personality(deps, "activate <personality>"));
    }
    let Some(personality) = deps.personalities.lookup(&query).await? else {
        return Ok(personality_not_found(&query));
    };
    let channel = request.location.channel();
    let name = personality.name().clone();
    let activation = ChannelActivation {
        channel,
        personality: name.clone(),
        activated_by: request.invoker.id,
        activated_at: deps.clock.now(),
    };
    let previous = match deps.conversations.activate(&activation).await {
        Ok(previous) => previous.filter(|p| p.personality != name),
        Err(StoreError::NotFound) => return Ok(personality_not_found(&query)),
        Err(other) => return Err(other.into()),
    };
    // The replaced personality is said (commands.md: activating another replaces it).
    let replaced = previous
        .map(|p| format!(" It replaces {}.", bold(p.personality.as_str())))
        .unwrap_or_default();
    Ok(outcome(
        OutcomeClass::Success,
        "Personality activated",
        format!(
            "{} now answers every message in <#{channel}>.{replaced} Run {} to stop it.",
            bold(name.as_str()),
            code("deactivate")
        ),
    )
    .with_event(DomainEvent::ChannelActivated { channel, name }))
}
