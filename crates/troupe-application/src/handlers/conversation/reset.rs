//! `reset <personality>`: clears the caller's conversation with it in this channel.

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{bold, missing_personality, outcome, personality_not_found};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Clears the caller's conversation and the caller's turns of the (channel, personality)
/// history in one port call (other users' turns stay, ADR 0017): `Success` with
/// `ConversationCleared`, or `Info` when there was nothing to clear.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let query = request.args.joined();
    if query.trim().is_empty() {
        return Ok(missing_personality(deps, "reset <personality>"));
    }
    let Some(personality) = deps.personalities.lookup(&query).await? else {
        return Ok(personality_not_found(&query));
    };
    let user = request.invoker.id;
    let channel = request.location.channel();
    let name = personality.name().clone();
    if !deps
        .conversations
        .clear_conversation(user, channel, &name)
        .await?
    {
        return Ok(outcome(
            OutcomeClass::Info,
            "Nothing to clear",
            format!(
                "You have no conversation with {} in this channel.",
                bold(name.as_str())
            ),
        ));
    }
    Ok(outcome(
        OutcomeClass::Success,
        "Conversation reset",
        format!(
            "Your conversation with {} in this channel was forgotten: your messages and its \
             answers to you. Other people's conversations with it here are kept.",
            bold(name.as_str())
        ),
    )
    .with_event(DomainEvent::ConversationCleared {
        user,
        channel,
        name,
    }))
}
