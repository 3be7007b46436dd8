//! Values the contract suites build their scenarios from.

use troupe_domain::personality::{Alias, DisplayName, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};

/// A base time with odd milliseconds (2025-06-14T10:32:03.457Z), to catch stores that round.
pub(super) const T0: i64 = 1_749_897_123_457;
/// The largest id an `i64` column holds as a positive number.
pub(super) const I64_MAX_ID: u64 = i64::MAX as u64;
/// The smallest id whose `to_i64` is negative.
pub(super) const ABOVE_I64_MAX_ID: u64 = i64::MAX as u64 + 1;

/// `T0` moved by `offset` milliseconds.
pub(super) fn at(offset: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}

pub(super) fn user(id: u64) -> UserId {
    UserId::new(id).expect("test ids are not 0")
}

pub(super) fn channel(id: u64) -> ChannelId {
    ChannelId::new(id).expect("test ids are not 0")
}

pub(super) fn message(id: u64) -> MessageId {
    MessageId::new(id).expect("test ids are not 0")
}

pub(super) fn name(raw: &str) -> PersonalityName {
    PersonalityName::parse(raw).expect("test names are valid")
}

pub(super) fn alias(raw: &str) -> Alias {
    Alias::parse(raw).expect("test aliases are valid")
}

/// A personality with a local profile and these aliases, created at `T0`, updated 1 ms later.
pub(super) fn local(raw_name: &str, owner: UserId, aliases: &[&str]) -> Personality {
    let name = name(raw_name);
    let profile = Profile::local(&name, None);
    Personality::restore(
        name,
        owner,
        profile,
        aliases.iter().map(|a| alias(a)).collect(),
        at(0),
        at(1),
    )
}

/// Like [`local`], showing `display` as its display name.
pub(super) fn displayed(
    raw_name: &str,
    display: &str,
    owner: UserId,
    aliases: &[&str],
) -> Personality {
    let p = local(raw_name, owner, aliases);
    let mut profile = p.profile().clone();
    profile.display_name = DisplayName::parse(display).expect("test display names are valid");
    with_profile(&p, profile, p.aliases().to_vec(), p.updated_at())
}

/// `p` with another profile, alias set and update time.
pub(super) fn with_profile(
    p: &Personality,
    profile: Profile,
    aliases: Vec<Alias>,
    updated_at: Timestamp,
) -> Personality {
    Personality::restore(
        p.name().clone(),
        p.owner(),
        profile,
        aliases,
        p.created_at(),
        updated_at,
    )
}

/// The aliases as written, sorted (stores need not keep alias order).
pub(super) fn alias_texts(p: &Personality) -> Vec<String> {
    let mut texts: Vec<String> = p.aliases().iter().map(|a| a.as_str().to_owned()).collect();
    texts.sort();
    texts
}

/// Asserts that `got` is `want` field by field, with the case of every text kept (the domain's
/// `==` on names ignores case) and the alias set compared without order.
pub(super) fn assert_same_personality(got: Option<&Personality>, want: &Personality, what: &str) {
    let Some(got) = got else {
        panic!("{what}: expected personality {} but got none", want.name());
    };
    let (g, w) = (got.profile(), want.profile());
    assert_eq!(
        got.name().as_str(),
        want.name().as_str(),
        "{what}: name as written"
    );
    assert_eq!(got.owner(), want.owner(), "{what}: owner");
    assert_eq!(
        g.display_name.as_str(),
        w.display_name.as_str(),
        "{what}: display name as written"
    );
    assert_eq!(g.avatar_url, w.avatar_url, "{what}: avatar URL");
    assert_eq!(g.error_message, w.error_message, "{what}: error message");
    assert_eq!(g.prompt, w.prompt, "{what}: prompt");
    assert_eq!(g.model, w.model, "{what}: model");
    assert_eq!(
        g.fetched_at, w.fetched_at,
        "{what}: fetched_at to the millisecond"
    );
    assert_eq!(
        alias_texts(got),
        alias_texts(want),
        "{what}: aliases as written"
    );
    assert_eq!(
        got.created_at(),
        want.created_at(),
        "{what}: created_at to the millisecond"
    );
    assert_eq!(
        got.updated_at(),
        want.updated_at(),
        "{what}: updated_at to the millisecond"
    );
}

/// The names of `items` as written.
pub(super) fn names_of(items: &[Personality]) -> Vec<String> {
    items.iter().map(|p| p.name().as_str().to_owned()).collect()
}
