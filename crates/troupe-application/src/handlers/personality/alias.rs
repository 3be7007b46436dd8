//! `alias <personality> <alias…>`: adds an alias, or moves it from another personality the
//! caller also manages (one atomic store call).

use troupe_domain::personality::{Alias, PersonalityName};
use troupe_ports::StoreError;

use crate::handlers::HandlerResult;
use crate::handlers::common::{
    actor, alias_holder, bold, not_owner, outcome, personality_not_found, plain,
};
use crate::{CommandOutcome, CommandRequest, Deps, OutcomeClass};

/// Checks in ADR order: arguments (two words, a valid alias), lookup, ownership, then the
/// registry rules (a name, already here, held by another personality).
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let words = &request.args.words;
    let (Some(query), Some(rest)) = (words.first(), words.get(1..).filter(|r| !r.is_empty()))
    else {
        return Ok(outcome(
            OutcomeClass::InvalidInput,
            "Personality and alias needed",
            format!(
                "Name the personality, then the alias: {} alias einstein albert",
                deps.config.prefix
            ),
        ));
    };
    let alias = match Alias::parse(&rest.join(" ")) {
        Ok(alias) => alias,
        Err(error) => {
            return Ok(outcome(
                OutcomeClass::InvalidInput,
                "Invalid alias",
                format!("This alias is not accepted: {}.", plain(error.to_string())),
            ));
        }
    };
    let Some(mut target) = deps.personalities.lookup(query).await? else {
        return Ok(personality_not_found(query));
    };
    let actor = actor(deps, request);
    if target.ensure_manageable_by(actor).is_err() {
        return Ok(not_owner(&target));
    }
    if alias.equals_name(target.name()) || is_a_name(deps, &alias).await? {
        return Ok(outcome(
            OutcomeClass::Conflict,
            "That is a name",
            format!(
                "{} is the name of a personality; an alias cannot equal a name.",
                bold(alias.as_str())
            ),
        ));
    }
    if target.has_alias(&alias) {
        return Ok(outcome(
            OutcomeClass::Info,
            "Already there",
            format!(
                "{} is already an alias of {}.",
                bold(alias.as_str()),
                plain(target.name().as_str())
            ),
        ));
    }
    let now = deps.clock.now();
    if let Some(holder_name) = alias_holder(deps, &alias).await?
        && let Some(mut holder) = deps.personalities.get(&holder_name).await?
    {
        if !holder.can_be_managed_by(actor) {
            return Ok(taken(&alias, holder.name()));
        }
        let (Ok(removed), Ok(added)) = (
            holder.detach_alias(&alias, now),
            target.attach_alias(alias.clone(), now),
        ) else {
            return Ok(taken(&alias, holder.name()));
        };
        match deps.personalities.move_alias(&alias, target.name()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(personality_not_found(query)),
            Err(StoreError::AliasTaken { alias, owner }) => return Ok(taken(&alias, &owner)),
            Err(other) => return Err(other.into()),
        }
        return Ok(outcome(
            OutcomeClass::Success,
            "Alias moved",
            format!(
                "{} moved from {} to {}.",
                bold(alias.as_str()),
                bold(holder.name().as_str()),
                plain(target.name().as_str())
            ),
        )
        .with_event(removed)
        .with_event(added));
    }
    let Ok(added) = target.add_alias(actor, alias.clone(), now) else {
        return Ok(not_owner(&target));
    };
    match deps.personalities.update(&target).await {
        Ok(()) => {}
        Err(StoreError::AliasTaken { alias, owner }) => return Ok(taken(&alias, &owner)),
        Err(other) => return Err(other.into()),
    }
    Ok(outcome(
        OutcomeClass::Success,
        "Alias added",
        format!(
            "{} is now an alias of {}.",
            bold(alias.as_str()),
            bold(target.name().as_str())
        ),
    )
    .with_event(added))
}

async fn is_a_name(deps: &Deps, alias: &Alias) -> Result<bool, StoreError> {
    match PersonalityName::parse(alias.as_str()) {
        Ok(name) => Ok(deps.personalities.get(&name).await?.is_some()),
        Err(_) => Ok(false),
    }
}

fn taken(alias: &Alias, holder: &PersonalityName) -> CommandOutcome {
    outcome(
        OutcomeClass::Conflict,
        "Alias taken",
        format!(
            "{} already belongs to {}, which you do not manage.",
            bold(alias.as_str()),
            bold(holder.as_str())
        ),
    )
}
