//! Registry conflicts stated as facts (issue 15): what holds a name or an alias — a
//! personality's name or one of its aliases — and who owns that personality. Both command
//! systems use these texts so their replies stay at parity.

use troupe_domain::UserId;
use troupe_domain::personality::{Alias, PersonalityName};
use troupe_ports::{PersonalityRepository, StoreError};

/// How a registry key is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldAs {
    /// It is the name of a personality.
    Name,
    /// It is an alias of a personality.
    Alias,
}

/// The personality that holds a registry key (a name or an alias, case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub held_as: HeldAs,
    pub personality: PersonalityName,
    pub owner: UserId,
}

/// What holds `key` in the registry: a personality with that name, else one with that alias.
pub async fn holder_of(
    personalities: &dyn PersonalityRepository,
    key: &str,
) -> Result<Option<Holder>, StoreError> {
    if let Ok(name) = PersonalityName::parse(key)
        && let Some(p) = personalities.get(&name).await?
    {
        return Ok(Some(Holder {
            held_as: HeldAs::Name,
            personality: p.name().clone(),
            owner: p.owner(),
        }));
    }
    let Ok(alias) = Alias::parse(key) else {
        return Ok(None);
    };
    let Some(holder) = personalities.alias_owner(&alias).await? else {
        return Ok(None);
    };
    let owner = personalities.get(&holder).await?.map(|p| p.owner());
    Ok(owner.map(|owner| Holder {
        held_as: HeldAs::Alias,
        personality: holder,
        owner,
    }))
}

fn bold(text: &str) -> String {
    format!("**{}**", text.replace('*', ""))
}

/// Title and text refusing a new personality name `typed` that `holder` already holds.
pub fn name_taken(typed: &str, holder: &Holder) -> (&'static str, String) {
    let owner = holder.owner;
    match holder.held_as {
        HeldAs::Name => (
            "Name taken",
            format!(
                "A personality named {} already exists (owner <@{owner}>). Choose another name.",
                bold(holder.personality.as_str())
            ),
        ),
        HeldAs::Alias => (
            "Name taken",
            format!(
                "{} is already an alias of {} (owner <@{owner}>), and a name cannot equal an alias. Choose another name.",
                bold(typed),
                bold(holder.personality.as_str())
            ),
        ),
    }
}

/// Title and text refusing the alias `alias` that `holder` already holds. `unmanaged`: the
/// refusal is because the caller does not manage the holder (`alias`), else it is final (`add`).
pub fn alias_taken(alias: &str, holder: &Holder, unmanaged: bool) -> (&'static str, String) {
    let owner = holder.owner;
    match holder.held_as {
        HeldAs::Name => (
            "That is a name",
            format!(
                "{} is the name of a personality (owner <@{owner}>), and an alias cannot equal a name. Choose another alias.",
                bold(alias)
            ),
        ),
        HeldAs::Alias if unmanaged => (
            "Alias taken",
            format!(
                "The alias {} already belongs to {} (owner <@{owner}>), which you do not manage. Choose another alias.",
                bold(alias),
                bold(holder.personality.as_str())
            ),
        ),
        HeldAs::Alias => (
            "Alias taken",
            format!(
                "The alias {} already belongs to {} (owner <@{owner}>). Choose another alias.",
                bold(alias),
                bold(holder.personality.as_str())
            ),
        ),
    }
}

/// The conflict a store reported (a key taken between the check and the write), stated with
/// what holds the key now when it can still be found, else as the store named it.
pub async fn raced(
    personalities: &dyn PersonalityRepository,
    error: &StoreError,
    unmanaged: bool,
) -> Result<Option<(&'static str, String)>, StoreError> {
    let (key, as_name, named_holder) = match error {
        StoreError::NameTaken(name) => (name.as_str(), true, None),
        StoreError::AliasTaken { alias, owner } => (alias.as_str(), false, Some(owner)),
        _ => return Ok(None),
    };
    let holder = holder_of(personalities, key).await?;
    Ok(Some(match (holder, as_name, named_holder) {
        (Some(holder), true, _) => name_taken(key, &holder),
        (Some(holder), false, _) => alias_taken(key, &holder, unmanaged),
        (None, _, Some(named)) => (
            "Alias taken",
            format!(
                "The alias {} already belongs to {}. Choose another alias.",
                bold(key),
                bold(named.as_str())
            ),
        ),
        (None, _, None) => (
            "Name taken",
            format!(
                "A personality named {} already exists. Choose another name.",
                bold(key)
            ),
        ),
    }))
}
