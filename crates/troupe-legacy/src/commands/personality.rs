//! Personality commands: add, remove, info, alias, list.

use troupe_application::conflicts::{self, HeldAs, Holder};
use troupe_application::{CommandOutcome, CommandRequest, Deps, OutcomeClass};
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ModelId, NameError, Personality, PersonalityName, Profile,
    Prompt,
};
use troupe_domain::{DomainEvent, Duration};
use troupe_ports::StoreError;

use crate::support::{
    Compose, Failure, Res, alias_list, bold, code, find, is_bot_owner, plain, prefix, respond,
    rest, word,
};

/// Personalities per `list` page.
const PAGE_SIZE: u64 = 10;
/// A fetched profile older than this is shown as `stale` by `info`.
pub(crate) const PROFILE_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

fn invalid(title: &str, text: impl Into<String>) -> CommandOutcome {
    respond(OutcomeClass::InvalidInput, title, text)
}

fn not_found(query: &str) -> CommandOutcome {
    respond(
        OutcomeClass::NotFound,
        "Personality not found",
        format!(
            "No personality is called {}. Check the name, an alias or the display name.",
            code(query)
        ),
    )
}

fn not_owner(name: &PersonalityName) -> CommandOutcome {
    respond(
        OutcomeClass::Denied,
        "Not your personality",
        format!(
            "Only the owner of {} or the bot owner may change it.",
            bold(name.as_str())
        ),
    )
}

fn alias_taken(alias: &Alias, holder: &Holder, unmanaged: bool) -> CommandOutcome {
    let (title, text) = conflicts::alias_taken(alias.as_str(), holder, unmanaged);
    respond(OutcomeClass::Conflict, title, text)
}

fn name_taken(typed: &str, holder: &Holder) -> CommandOutcome {
    let (title, text) = conflicts::name_taken(typed, holder);
    respond(OutcomeClass::Conflict, title, text)
}

/// The store refused a key taken meanwhile: say what holds it now.
async fn raced(deps: &Deps, error: StoreError, unmanaged: bool) -> Res {
    match conflicts::raced(deps.personalities.as_ref(), &error, unmanaged).await? {
        Some((title, text)) => Ok(respond(OutcomeClass::Conflict, title, text)),
        None => Err(error.into()),
    }
}

fn may_manage(deps: &Deps, request: &CommandRequest, personality: &Personality) -> bool {
    is_bot_owner(deps, request) || personality.owner() == request.invoker.id
}

/// A value refused by its parser: the parse error text is the key fact.
fn refused(title: &str, error: &NameError) -> CommandOutcome {
    invalid(
        title,
        format!("Not accepted: {}.", code(&error.to_string())),
    )
}

/// The words from `from` on, joined by single spaces; `None` when nothing is there.
fn words_from(request: &CommandRequest, from: usize) -> Option<String> {
    let joined = request
        .args
        .words
        .get(from..)
        .unwrap_or_default()
        .iter()
        .flat_map(|w| w.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// A non-empty named option (`avatar`, `model`).
fn option<'a>(request: &'a CommandRequest, name: &str) -> Option<&'a str> {
    request
        .args
        .options
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The personality holding `alias` as an alias or as its name, if any.
async fn alias_holder(deps: &Deps, alias: &Alias) -> Result<Option<PersonalityName>, Failure> {
    if let Some(holder) = deps.personalities.alias_owner(alias).await? {
        return Ok(Some(holder));
    }
    let Ok(as_name) = PersonalityName::parse(alias.as_str()) else {
        return Ok(None);
    };
    Ok(deps
        .personalities
        .get(&as_name)
        .await?
        .map(|p| p.name().clone()))
}

pub(crate) async fn add(deps: &Deps, request: &CommandRequest) -> Res {
    let Some(raw_name) = word(request, 0) else {
        return Ok(invalid(
            "Name missing",
            format!(
                "Give the new personality a name: {} add <name> [alias] [| prompt].",
                prefix(deps)
            ),
        ));
    };
    let name = match PersonalityName::parse(raw_name) {
        Ok(name) => name,
        Err(e) => return Ok(refused("Invalid name", &e)),
    };
    let requested_alias = match words_from(request, 1).map(|raw| Alias::parse(&raw)) {
        None => None,
        Some(Ok(alias)) => Some(alias),
        Some(Err(e)) => return Ok(refused("Invalid alias", &e)),
    };
    let prompt = match request
        .args
        .tail
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Prompt::parse)
    {
        None => None,
        Some(Ok(prompt)) => Some(prompt),
        Some(Err(e)) => return Ok(refused("Invalid prompt", &e)),
    };
    let avatar = match option(request, "avatar").map(AvatarUrl::parse) {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(e)) => return Ok(refused("Invalid avatar", &e)),
    };
    let model = match option(request, "model").map(ModelId::parse) {
        None => None,
        Some(Ok(model)) => Some(model),
        Some(Err(e)) => return Ok(refused("Invalid model", &e)),
    };
    if requested_alias
        .as_ref()
        .is_some_and(|a| a.key() == name.key())
    {
        return Ok(invalid(
            "Alias equals the name",
            "The alias must differ from the name; leave it out, the name works already.",
        ));
    }

    if let Some(holder) = conflicts::holder_of(deps.personalities.as_ref(), name.as_str()).await? {
        return Ok(name_taken(name.as_str(), &holder));
    }
    if let Some(alias) = &requested_alias
        && let Some(holder) =
            conflicts::holder_of(deps.personalities.as_ref(), alias.as_str()).await?
    {
        return Ok(alias_taken(alias, &holder, false));
    }

    let now = deps.clock.now();
    let prompt = prompt.unwrap_or_else(|| Prompt::default_for(&name));
    let profile = match &deps.profiles {
        Some(source) => {
            let Some(found) = source.fetch(name.as_str()).await? else {
                return Ok(respond(
                    OutcomeClass::NotFound,
                    "Unknown to the profile source",
                    format!(
                        "The profile source does not know {}. Check the spelling.",
                        code(name.as_str())
                    ),
                ));
            };
            Profile {
                display_name: found.display_name,
                avatar_url: avatar.or(found.avatar_url),
                error_message: found.error_message,
                prompt,
                model,
                fetched_at: Some(now),
            }
        }
        None => Profile {
            display_name: DisplayName::from_name(&name),
            avatar_url: avatar,
            error_message: None,
            prompt,
            model,
            fetched_at: None,
        },
    };

    // The lower-cased display name becomes an alias when it differs from the name and is free.
    let mut auto_alias = None;
    if profile.display_name.key() != name.key()
        && let Ok(candidate) = Alias::parse(profile.display_name.key())
        && candidate.key() != name.key()
        && requested_alias.as_ref() != Some(&candidate)
        && alias_holder(deps, &candidate).await?.is_none()
    {
        auto_alias = Some(candidate);
    }

    let owner = request.invoker.id;
    let mut aliases: Vec<Alias> = requested_alias.iter().chain(&auto_alias).cloned().collect();
    let mut created = Personality::restore(
        name.clone(),
        owner,
        profile.clone(),
        aliases.clone(),
        now,
        now,
    );
    match deps.personalities.insert(&created).await {
        Ok(()) => {}
        Err(error @ StoreError::NameTaken(_)) => return raced(deps, error, false).await,
        Err(StoreError::AliasTaken {
            alias,
            owner: holder,
        }) if auto_alias.as_ref() == Some(&alias) => {
            // The automatic alias was taken meanwhile: create the personality without it.
            auto_alias = None;
            aliases.retain(|a| *a != alias);
            created = Personality::restore(name.clone(), owner, profile, aliases, now, now);
            match deps.personalities.insert(&created).await {
                Ok(()) => {}
                Err(error @ (StoreError::AliasTaken { .. } | StoreError::NameTaken(_))) => {
                    return raced(deps, error, false).await;
                }
                Err(other) => return Err(other.into()),
            }
            tracing::debug!(
                alias = alias.as_str(),
                holder = holder.as_str(),
                "automatic alias was taken meanwhile"
            );
        }
        Err(error @ StoreError::AliasTaken { .. }) => return raced(deps, error, false).await,
        Err(other) => return Err(other.into()),
    }

    let mut outcome = respond(
        OutcomeClass::Success,
        "Personality created",
        "Your new personality is ready.",
    )
    .field("Name", name.as_str())
    .field("Display name", plain(created.display_name().as_str()))
    .field("Aliases", alias_list(&created))
    .field("Owner", format!("<@{owner}>"))
    .field(
        "Talk to it",
        code(&format!("{}{}", deps.config.mention_char, name.as_str())),
    )
    .with_event(DomainEvent::PersonalityCreated {
        name: name.clone(),
        owner,
    });
    for alias in requested_alias.into_iter().chain(auto_alias) {
        outcome = outcome.with_event(DomainEvent::AliasAdded {
            name: name.clone(),
            alias,
        });
    }
    Ok(outcome)
}

pub(crate) async fn remove(deps: &Deps, request: &CommandRequest) -> Res {
    let Some(query) = rest(request) else {
        return Ok(invalid(
            "Which personality?",
            "Name the personality: remove <personality>.",
        ));
    };
    let Some(personality) = find(deps, &query).await? else {
        return Ok(not_found(&query));
    };
    if !may_manage(deps, request, &personality) {
        return Ok(not_owner(personality.name()));
    }
    let name = personality.name().clone();
    if !deps.personalities.delete(&name).await? {
        return Ok(not_found(&query));
    }
    Ok(respond(
        OutcomeClass::Success,
        "Personality removed",
        format!(
            "Removed {} with its aliases, activations and conversation history. This cannot be undone.",
            bold(name.as_str())
        ),
    )
    .with_event(DomainEvent::PersonalityRemoved { name }))
}

pub(crate) async fn info(deps: &Deps, request: &CommandRequest) -> Res {
    let Some(query) = rest(request) else {
        return Ok(invalid(
            "Which personality?",
            "Name the personality: info <personality>.",
        ));
    };
    let Some(personality) = find(deps, &query).await? else {
        return Ok(not_found(&query));
    };
    let now = deps.clock.now();
    let profile = personality.profile();
    let model = profile
        .model
        .as_ref()
        .map_or_else(|| "default".to_owned(), |m| m.as_str().to_owned());
    let (year, month, day) = personality.created_at().date();
    let avatar = if profile.avatar_url.is_some() {
        "current"
    } else {
        "none"
    };
    let freshness = match profile.fetched_at {
        None => "local",
        Some(at) if now.since(at) <= PROFILE_MAX_AGE => "current",
        Some(_) => "stale",
    };
    let mut outcome = respond(
        OutcomeClass::Success,
        "Personality info",
        "Details of this personality.",
    )
    .field("Name", personality.name().as_str())
    .field("Display name", plain(personality.display_name().as_str()))
    .field("Aliases", alias_list(&personality))
    .field("Owner", format!("<@{}>", personality.owner()))
    .field("Model", model)
    .field("Created", format!("{year:04}-{month:02}-{day:02}"))
    .field("Avatar", avatar)
    .field("Profile", freshness);
    if let Some(reply) = outcome.reply.as_mut() {
        reply.thumbnail = profile.avatar_url.as_ref().map(|u| u.as_str().to_owned());
    }
    Ok(outcome)
}

pub(crate) async fn alias(deps: &Deps, request: &CommandRequest) -> Res {
    let target_query = word(request, 0)
        .map(|w| w.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|w| !w.is_empty());
    let (Some(target_query), Some(raw_alias)) = (target_query, words_from(request, 1)) else {
        return Ok(invalid(
            "Personality and alias needed",
            "Name the personality and the new alias: alias <personality> <alias>.",
        ));
    };
    let alias = match Alias::parse(&raw_alias) {
        Ok(alias) => alias,
        Err(e) => return Ok(invalid("Invalid alias", plain(&e.to_string()))),
    };
    let Some(target) = find(deps, &target_query).await? else {
        return Ok(not_found(&target_query));
    };
    if !may_manage(deps, request, &target) {
        return Ok(not_owner(target.name()));
    }
    if let Ok(as_name) = PersonalityName::parse(alias.as_str())
        && let Some(named) = deps.personalities.get(&as_name).await?
    {
        let holder = Holder {
            held_as: HeldAs::Name,
            personality: named.name().clone(),
            owner: named.owner(),
        };
        return Ok(alias_taken(&alias, &holder, true));
    }
    if target.has_alias(&alias) {
        return Ok(respond(
            OutcomeClass::Info,
            "Already there",
            format!(
                "{} is already an alias of {}.",
                bold(alias.as_str()),
                bold(target.name().as_str())
            ),
        ));
    }
    let target_name = target.name().clone();

    if let Some(holder_name) = deps.personalities.alias_owner(&alias).await?
        && holder_name != target_name
        && let Some(holder) = deps.personalities.get(&holder_name).await?
    {
        if !may_manage(deps, request, &holder) {
            let held = Holder {
                held_as: HeldAs::Alias,
                personality: holder_name,
                owner: holder.owner(),
            };
            return Ok(alias_taken(&alias, &held, true));
        }
        match deps.personalities.move_alias(&alias, &target_name).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(not_found(&target_query)),
            Err(error @ StoreError::AliasTaken { .. }) => return raced(deps, error, true).await,
            Err(other) => return Err(other.into()),
        }
        return Ok(respond(
            OutcomeClass::Success,
            "Alias moved",
            format!(
                "The alias {} moved from {} to {}.",
                bold(alias.as_str()),
                bold(holder_name.as_str()),
                bold(target_name.as_str())
            ),
        )
        .with_event(DomainEvent::AliasRemoved {
            name: holder_name,
            alias: alias.clone(),
        })
        .with_event(DomainEvent::AliasAdded {
            name: target_name,
            alias,
        }));
    }

    let mut aliases = target.aliases().to_vec();
    aliases.push(alias.clone());
    let updated = Personality::restore(
        target_name.clone(),
        target.owner(),
        target.profile().clone(),
        aliases,
        target.created_at(),
        deps.clock.now(),
    );
    match deps.personalities.update(&updated).await {
        Ok(()) => {}
        Err(error @ StoreError::AliasTaken { .. }) => return raced(deps, error, true).await,
        Err(StoreError::NotFound) => return Ok(not_found(&target_query)),
        Err(other) => return Err(other.into()),
    }
    Ok(respond(
        OutcomeClass::Success,
        "Alias added",
        format!(
            "{} is now an alias of {}.",
            bold(alias.as_str()),
            bold(target_name.as_str())
        ),
    )
    .with_event(DomainEvent::AliasAdded {
        name: target_name,
        alias,
    }))
}

/// A page number: ASCII digits with an optional sign. Negative numbers count as page 0 and
/// huge ones as the largest page, so both are reported as out of range, not as "not a number".
fn page_number(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if negative {
        return Some(0);
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

pub(crate) async fn list(deps: &Deps, request: &CommandRequest) -> Res {
    let page = match word(request, 0) {
        None => 1,
        Some(raw) => match page_number(raw) {
            Some(page) => page,
            None => {
                return Ok(invalid(
                    "Not a page number",
                    "The page must be a whole number, like list 2.",
                ));
            }
        },
    };
    let user = request.invoker.id;
    let offset = page.saturating_sub(1).saturating_mul(PAGE_SIZE);
    let listing = deps
        .personalities
        .list_by_owner(user, offset, PAGE_SIZE)
        .await?;
    if listing.total == 0 {
        return Ok(respond(
            OutcomeClass::Info,
            "No personalities yet",
            format!(
                "You have no personalities. Create one with the {} command, e.g. {} add einstein.",
                code("add"),
                prefix(deps)
            ),
        ));
    }
    let pages = listing.total.div_ceil(PAGE_SIZE);
    if page == 0 || page > pages {
        return Ok(invalid(
            "No such page",
            format!(
                "Choose a page from {} to {}.",
                code("1"),
                code(&pages.to_string())
            ),
        ));
    }
    let mut text = String::new();
    for personality in &listing.items {
        let aliases = if personality.aliases().is_empty() {
            "no aliases".to_owned()
        } else {
            personality
                .aliases()
                .iter()
                .map(|a| code(a.as_str()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        text.push_str(&format!(
            "{} — {} — {}\n",
            bold(personality.name().as_str()),
            plain(personality.display_name().as_str()),
            aliases
        ));
    }
    text.push_str(&code(&format!("page {page} of {pages}")));
    Ok(respond(OutcomeClass::Success, "Your personalities", text))
}

#[cfg(test)]
mod tests {
    use super::page_number;

    #[test]
    fn page_numbers_are_whole_numbers_and_out_of_range_ones_stay_numbers() {
        let cases = [
            ("1", Some(1)),
            (" 2 ", Some(2)),
            ("+3", Some(3)),
            ("0", Some(0)),
            ("-1", Some(0)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("", None),
            ("-", None),
            ("two", None),
            ("1.5", None),
            ("１", None),
            ("1\u{200b}", None),
        ];
        for (raw, page) in cases {
            assert_eq!(page_number(raw), page, "{raw:?}");
        }
    }
}
