//! `alias <personality> <alias…>`: adds an alias, or moves it from another personality the
//! caller also manages (one atomic store call).

use troupe_domain::personality::{Alias, PersonalityName};
use troupe_ports::StoreError;

use crate::conflicts::{self, HeldAs, Holder};
use crate::handlers::HandlerResult;
use crate::handlers::common::{actor, bold, not_owner, outcome, personality_not_found, plain};
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
    if let Some(holder) = name_holder(deps, &alias).await? {
        return Ok(taken(&alias, &holder));
    }
    if target.has_alias(&alias) {
        return Ok(outcome(
            OutcomeClass::Info,
            "Already there",
            format!(
                "{} is already an alias of {}.",
                bold(alias.as_str()),
                bold(target.name().as_str())
            ),
        ));
    }
    let now = deps.clock.now();
    if let Some(holder_name) = deps.personalities.alias_owner(&alias).await?
        && let Some(mut holder) = deps.personalities.get(&holder_name).await?
    {
        let held = Holder {
            held_as: HeldAs::Alias,
            personality: holder.name().clone(),
            owner: holder.owner(),
        };
        if !holder.can_be_managed_by(actor) {
            return Ok(taken(&alias, &held));
        }
        let (Ok(removed), Ok(added)) = (
            holder.detach_alias(&alias, now),
            target.attach_alias(alias.clone(), now),
        ) else {
            return Ok(taken(&alias, &held));
        };
        match deps.personalities.move_alias(&alias, target.name()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(personality_not_found(query)),
            Err(error @ StoreError::AliasTaken { .. }) => return raced(deps, error).await,
            Err(other) => return Err(other.into()),
        }
        return Ok(outcome(
            OutcomeClass::Success,
            "Alias moved",
            format!(
                "{} moved from {} to {}.",
                bold(alias.as_str()),
                bold(holder.name().as_str()),
                bold(target.name().as_str())
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
        Err(error @ StoreError::AliasTaken { .. }) => return raced(deps, error).await,
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

/// The personality whose name equals `alias` (aliases may not equal a name), if any.
async fn name_holder(deps: &Deps, alias: &Alias) -> Result<Option<Holder>, StoreError> {
    let Ok(name) = PersonalityName::parse(alias.as_str()) else {
        return Ok(None);
    };
    Ok(deps.personalities.get(&name).await?.map(|p| Holder {
        held_as: HeldAs::Name,
        personality: p.name().clone(),
        owner: p.owner(),
    }))
}

/// The store refused the alias, taken meanwhile: say what holds it now.
async fn raced(deps: &Deps, error: StoreError) -> HandlerResult {
    match conflicts::raced(deps.personalities.as_ref(), &error, true).await? {
        Some((title, text)) => Ok(outcome(OutcomeClass::Conflict, title, text)),
        None => Err(error.into()),
    }
}

fn taken(alias: &Alias, holder: &Holder) -> CommandOutcome {
    let (title, text) = conflicts::alias_taken(alias.as_str(), holder, true);
    outcome(OutcomeClass::Conflict, title, text)
}
