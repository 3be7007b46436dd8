//! `add <name> [alias] [model:<model>] [avatar:<url>] [| prompt…]`: registers a personality
//! owned by the caller, with its aliases, in one store call.

mod args;

use troupe_domain::personality::{Personality, Profile};
use troupe_ports::StoreError;

use crate::conflicts::{self, Holder, holder_of};
use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, alias_holder, alias_list, code, outcome, plain};
use crate::{CommandOutcome, CommandRequest, Deps, OutcomeClass};
use args::Parsed;

/// Parses every argument first, then refuses a taken name or alias, fetches the profile (when
/// a profile source is configured), and stores the personality with the requested alias and the
/// display-name auto-alias: `PersonalityCreated`, then `AliasAdded` for each alias.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let args = match Parsed::from(request) {
        Ok(args) => args,
        Err(refusal) => return Ok(refusal.outcome()),
    };
    if let Some(holder) = holder_of(deps.personalities.as_ref(), args.name.as_str()).await? {
        return Ok(name_taken(args.name.as_str(), &holder));
    }
    if let Some(alias) = &args.alias
        && let Some(holder) = holder_of(deps.personalities.as_ref(), alias.as_str()).await?
    {
        return Ok(alias_taken(alias.as_str(), &holder));
    }
    let now = deps.clock.now();
    let mut profile = Profile::local(&args.name, args.prompt);
    if let Some(source) = &deps.profiles {
        let Some(fetched) = source.fetch(args.name.as_str()).await? else {
            return Ok(outcome(
                OutcomeClass::NotFound,
                "Unknown to the profile source",
                format!(
                    "The profile source knows no personality named {}.",
                    code(args.name.as_str())
                ),
            ));
        };
        profile.display_name = fetched.display_name;
        profile.avatar_url = fetched.avatar_url;
        profile.error_message = fetched.error_message;
        profile.fetched_at = Some(now);
    }
    if args.avatar.is_some() {
        profile.avatar_url = args.avatar;
    }
    profile.model = args.model;

    let (mut personality, created) =
        Personality::create(args.name, request.invoker.id, profile, now);
    let mut events = vec![created];
    if let Some(alias) = args.alias
        && let Ok(event) = personality.attach_alias(alias, now)
    {
        events.push(event);
    }
    if let Some(auto) = personality.auto_alias()
        && alias_holder(deps, &auto).await?.is_none()
        && let Ok(event) = personality.attach_alias(auto, now)
    {
        events.push(event);
    }
    match deps.personalities.insert(&personality).await {
        Ok(()) => {}
        Err(error @ (StoreError::NameTaken(_) | StoreError::AliasTaken { .. })) => {
            return raced(deps, error).await;
        }
        Err(other) => return Err(other.into()),
    }
    let mut result = outcome(
        OutcomeClass::Success,
        "Personality created",
        "Your new personality is ready.",
    )
    .field("Name", personality.name().as_str())
    .field("Display name", plain(personality.display_name().as_str()))
    .field("Aliases", alias_list(personality.aliases()))
    .field("Owner", format!("<@{}>", personality.owner()))
    .field(
        "Talk to it",
        code(format!(
            "{}{}",
            deps.config.mention_char,
            personality.name()
        )),
    )
    .thumbnail(
        personality
            .profile()
            .avatar_url
            .as_ref()
            .map(|u| u.as_str().to_owned()),
    );
    result.events = events;
    Ok(result)
}

/// The store refused a key taken meanwhile: say what holds it now.
async fn raced(deps: &Deps, error: StoreError) -> HandlerResult {
    match conflicts::raced(deps.personalities.as_ref(), &error, false).await? {
        Some((title, text)) => Ok(outcome(OutcomeClass::Conflict, title, text)),
        None => Err(error.into()),
    }
}

fn name_taken(typed: &str, holder: &Holder) -> CommandOutcome {
    let (title, text) = conflicts::name_taken(typed, holder);
    outcome(OutcomeClass::Conflict, title, text)
}

fn alias_taken(alias: &str, holder: &Holder) -> CommandOutcome {
    let (title, text) = conflicts::alias_taken(alias, holder, false);
    outcome(OutcomeClass::Conflict, title, text)
}
