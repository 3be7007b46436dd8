//! `info <personality>`: a personality's details.

use crate::handlers::common::{
    ReplyExt, alias_list, date, missing_personality, outcome, personality_not_found, plain,
};
use crate::handlers::{HandlerResult, PROFILE_MAX_AGE};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `Success` with the fields `Name`, `Display name`, `Aliases`, `Owner`, `Model`, `Created`,
/// `Avatar` and `Profile`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let query = request.args.joined();
    if query.trim().is_empty() {
        return Ok(missing_personality(deps, "info <personality>"));
    }
    let Some(personality) = deps.personalities.lookup(&query).await? else {
        return Ok(personality_not_found(&query));
    };
    let profile = personality.profile();
    let model = profile
        .model
        .as_ref()
        .map_or_else(|| "default".to_owned(), ToString::to_string);
    let avatar = if profile.avatar_url.is_some() {
        "current"
    } else {
        "none"
    };
    let freshness = match profile.fetched_at {
        None => "local",
        Some(_) if personality.profile_is_current(deps.clock.now(), PROFILE_MAX_AGE) => "current",
        Some(_) => "stale",
    };
    Ok(outcome(
        OutcomeClass::Success,
        "Personality",
        "Details of this personality.",
    )
    .field("Name", personality.name().as_str())
    .field("Display name", plain(personality.display_name().as_str()))
    .field("Aliases", alias_list(personality.aliases()))
    .field("Owner", format!("<@{}>", personality.owner()))
    .field("Model", model)
    .field("Created", date(personality.created_at()))
    .field("Avatar", avatar)
    .field("Profile", freshness)
    .thumbnail(profile.avatar_url.as_ref().map(|u| u.as_str().to_owned())))
}
