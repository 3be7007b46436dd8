//! `remove <personality>`: deletes a personality with its aliases, activations and history.

use crate::handlers::HandlerResult;
use crate::handlers::common::{
    actor, bold, missing_personality, not_owner, outcome, personality_not_found,
};
use crate::{CommandRequest, Deps, OutcomeClass};

/// The owner or a bot owner deletes the personality (one store call): `PersonalityRemoved`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let query = request.args.joined();
    if query.trim().is_empty() {
        return Ok(missing_personality(deps, "remove <personality>"));
    }
    let Some(personality) = deps.personalities.lookup(&query).await? else {
        return Ok(personality_not_found(&query));
    };
    let name = personality.name().clone();
    let Ok(event) = personality.clone().remove(actor(deps, request)) else {
        return Ok(not_owner(&personality));
    };
    if !deps.personalities.delete(&name).await? {
        return Ok(personality_not_found(&query));
    }
    Ok(outcome(
        OutcomeClass::Success,
        "Personality removed",
        format!(
            "{} was removed with its aliases, channel activations and conversation history. This cannot be undone.",
            bold(name.as_str())
        ),
    )
    .with_event(event))
}
