//! Conversation commands: activate, deactivate, reset, autorespond.

use troupe_application::{CommandRequest, Deps, OutcomeClass};
use troupe_domain::DomainEvent;
use troupe_domain::conversation::ChannelActivation;
use troupe_ports::StoreError;

use crate::support::{Res, bold, code, find, on_off, respond, rest, subcommand};

fn not_found(query: &str) -> troupe_application::CommandOutcome {
    respond(
        OutcomeClass::NotFound,
        "Personality not found",
        format!(
            "No personality is called {}. Check the name, an alias or the display name.",
            code(query)
        ),
    )
}

fn missing_personality(command: &str) -> troupe_application::CommandOutcome {
    respond(
        OutcomeClass::InvalidInput,
        "Which personality?",
        format!("Name the personality: {command} <personality>."),
    )
}

fn missing_manage_messages(command: &str) -> troupe_application::CommandOutcome {
    respond(
        OutcomeClass::Denied,
        "Not allowed",
        format!(
            "{command} needs the {} permission.",
            code("Manage Messages")
        ),
    )
}

pub(crate) async fn activate(deps: &Deps, request: &CommandRequest) -> Res {
    if request.location.is_dm() {
        return Ok(respond(
            OutcomeClass::Denied,
            "Servers only",
            "activate works in server channels only.",
        ));
    }
    if !request.invoker.permissions.can_manage_messages() {
        return Ok(missing_manage_messages("activate"));
    }
    if deps.config.age_gate && !request.location.is_age_restricted() {
        return Ok(respond(
            OutcomeClass::Denied,
            "Age-restricted channels only",
            "Personalities can only be activated in channels marked age-restricted.",
        ));
    }
    let Some(query) = rest(request) else {
        return Ok(missing_personality("activate"));
    };
    let Some(personality) = find(deps, &query).await? else {
        return Ok(not_found(&query));
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
        Err(StoreError::NotFound) => return Ok(not_found(&query)),
        Err(other) => return Err(other.into()),
    };
    // The replaced personality is said (commands.md: activating another replaces it).
    let replaced = previous
        .map(|p| format!(" It replaces {}.", bold(p.personality.as_str())))
        .unwrap_or_default();
    Ok(respond(
        OutcomeClass::Success,
        "Personality activated",
        format!(
            "{} now answers every message in <#{channel}>.{replaced} To stop it, use the {} command.",
            bold(name.as_str()),
            code("deactivate")
        ),
    )
    .with_event(DomainEvent::ChannelActivated { channel, name }))
}

pub(crate) async fn deactivate(deps: &Deps, request: &CommandRequest) -> Res {
    if request.location.is_dm() {
        return Ok(respond(
            OutcomeClass::Denied,
            "Servers only",
            "deactivate works in server channels only.",
        ));
    }
    if !request.invoker.permissions.can_manage_messages() {
        return Ok(missing_manage_messages("deactivate"));
    }
    let channel = request.location.channel();
    let Some(previous) = deps.conversations.deactivate(channel).await? else {
        return Ok(respond(
            OutcomeClass::Info,
            "Nothing active",
            "No personality is active in this channel.",
        ));
    };
    Ok(respond(
        OutcomeClass::Success,
        "Personality deactivated",
        format!(
            "{} no longer answers every message in this channel.",
            bold(previous.personality.as_str())
        ),
    )
    .with_event(DomainEvent::ChannelDeactivated { channel }))
}

pub(crate) async fn reset(deps: &Deps, request: &CommandRequest) -> Res {
    let Some(query) = rest(request) else {
        return Ok(missing_personality("reset"));
    };
    let Some(personality) = find(deps, &query).await? else {
        return Ok(not_found(&query));
    };
    let user = request.invoker.id;
    let channel = request.location.channel();
    let name = personality.name().clone();
    if !deps
        .conversations
        .clear_conversation(user, channel, &name)
        .await?
    {
        return Ok(respond(
            OutcomeClass::Info,
            "Nothing to clear",
            format!(
                "You have no conversation with {} in this channel.",
                bold(name.as_str())
            ),
        ));
    }
    Ok(respond(
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

pub(crate) async fn autorespond(deps: &Deps, request: &CommandRequest) -> Res {
    let user = request.invoker.id;
    let enabled = match subcommand(request) {
        None => None,
        Some((sub, _)) if sub == "status" => None,
        Some((sub, _)) if sub == "on" => Some(true),
        Some((sub, _)) if sub == "off" => Some(false),
        Some(_) => {
            return Ok(respond(
                OutcomeClass::InvalidInput,
                "Unknown setting",
                format!("Use {}, {} or {}.", code("on"), code("off"), code("status")),
            ));
        }
    };
    let Some(enabled) = enabled else {
        let current = deps.conversations.autorespond(user).await?;
        return Ok(respond(
            OutcomeClass::Success,
            "Autorespond",
            format!("Autorespond is {} for you.", code(on_off(current))),
        ));
    };
    deps.conversations.set_autorespond(user, enabled).await?;
    let text = if enabled {
        format!(
            "Autorespond is {}: after you talk to a personality, your next messages in that channel continue the conversation without a mention.",
            code("on")
        )
    } else {
        format!(
            "Autorespond is {}: mention a personality or reply to it to talk.",
            code("off")
        )
    };
    Ok(respond(OutcomeClass::Success, "Autorespond updated", text)
        .with_event(DomainEvent::AutorespondChanged { user, enabled }))
}
