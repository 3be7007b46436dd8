//! Conversions between SQL rows (plain tuples, decoded the same way by both backends) and
//! domain values. A stored value that no longer parses is corrupt data: `Unexpected`, naming the
//! row, never a panic.

use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, ModelId, Personality, PersonalityName, Profile,
    Prompt,
};
use troupe_domain::{ChannelId, Timestamp, UserId};
use troupe_ports::StoreError;

/// The personality columns, in the order of [`PersonalityRow`], qualified with `p.`.
macro_rules! personality_columns {
    () => {
        "p.name_key, p.name, p.owner_id, p.display_name, p.avatar_url, p.error_message, \
         p.prompt, p.model, p.fetched_at, p.created_at, p.updated_at"
    };
}
pub(crate) use personality_columns;

/// A personality row joined with one of its aliases (or none).
pub(crate) type PersonalityRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Option<String>,
);

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("corrupt stored data ({what}): {detail}"))
}

pub(crate) fn user_id(raw: i64) -> Result<UserId, StoreError> {
    UserId::from_i64(raw).map_err(|e| corrupt("user id", e))
}

pub(crate) fn channel_id(raw: i64) -> Result<ChannelId, StoreError> {
    ChannelId::from_i64(raw).map_err(|e| corrupt("channel id", e))
}

pub(crate) fn ts(raw: i64) -> Timestamp {
    Timestamp::from_millis(raw)
}

pub(crate) fn personality_name(raw: &str) -> Result<PersonalityName, StoreError> {
    PersonalityName::parse(raw).map_err(|e| corrupt("personality name", e))
}

/// Groups rows of personalities joined with their aliases (ordered by personality, then alias
/// position) into aggregates.
pub(crate) fn personalities(rows: Vec<PersonalityRow>) -> Result<Vec<Personality>, StoreError> {
    let mut out: Vec<(String, Personality)> = Vec::new();
    let mut aliases: Vec<Vec<Alias>> = Vec::new();
    for row in rows {
        let (
            key,
            name,
            owner,
            display,
            avatar,
            error,
            prompt,
            model,
            fetched,
            created,
            updated,
            alias,
        ) = row;
        if out.last().is_none_or(|(k, _)| *k != key) {
            let what = || format!("personality {key}");
            let name = PersonalityName::parse(&name).map_err(|e| corrupt(&what(), e))?;
            let profile = Profile {
                display_name: DisplayName::parse(&display).map_err(|e| corrupt(&what(), e))?,
                avatar_url: avatar
                    .as_deref()
                    .map(AvatarUrl::parse)
                    .transpose()
                    .map_err(|e| corrupt(&what(), e))?,
                error_message: error
                    .as_deref()
                    .map(ErrorMessage::parse)
                    .transpose()
                    .map_err(|e| corrupt(&what(), e))?,
                prompt: Prompt::parse(&prompt).map_err(|e| corrupt(&what(), e))?,
                model: model
                    .as_deref()
                    .map(ModelId::parse)
                    .transpose()
                    .map_err(|e| corrupt(&what(), e))?,
                fetched_at: fetched.map(ts),
            };
            let personality = Personality::restore(
                name,
                user_id(owner)?,
                profile,
                Vec::new(),
                ts(created),
                ts(updated),
            );
            out.push((key.clone(), personality));
            aliases.push(Vec::new());
        }
        if let Some(alias) = alias {
            let alias = Alias::parse(&alias).map_err(|e| corrupt(&format!("alias of {key}"), e))?;
            if let Some(list) = aliases.last_mut() {
                list.push(alias);
            }
        }
    }
    Ok(out
        .into_iter()
        .zip(aliases)
        .map(|((_, p), aliases)| {
            Personality::restore(
                p.name().clone(),
                p.owner(),
                p.profile().clone(),
                aliases,
                p.created_at(),
                p.updated_at(),
            )
        })
        .collect())
}

/// The key a user's query is looked up by: the domain's folding (NFKC, whitespace collapsed,
/// case-folded, direction marks ignored), so it finds the stored keys.
pub(crate) fn query_key(query: &str) -> String {
    troupe_domain::personality::lookup_key(query)
}
