//! The `Personality` aggregate.

use super::values::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, ModelId, PersonalityName, Prompt,
};
use crate::events::DomainEvent;
use crate::ids::UserId;
use crate::time::Timestamp;

/// Who is acting on a personality: a user, and whether that user is a bot owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub is_bot_owner: bool,
}

/// Rule violations of the personality aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalityError {
    #[error("only the owner of {name} or a bot owner may change it")]
    NotOwner { name: PersonalityName },
    #[error("{alias} is already an alias of {name}")]
    AliasAlreadyPresent { alias: Alias, name: PersonalityName },
    #[error("an alias cannot equal the personality name {name}")]
    AliasEqualsName { name: PersonalityName },
    #[error("{alias} is not an alias of {name}")]
    AliasMissing { alias: Alias, name: PersonalityName },
}

/// What a personality looks and sounds like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: DisplayName,
    pub avatar_url: Option<AvatarUrl>,
    pub error_message: Option<ErrorMessage>,
    pub prompt: Prompt,
    /// `None` means the configured default model.
    pub model: Option<ModelId>,
    /// When the profile was last fetched from the profile source; `None` for local personalities.
    pub fetched_at: Option<Timestamp>,
}

impl Profile {
    /// The profile of a personality defined locally (no profile source): display name = name,
    /// prompt = the given one or `You are <name>.`.
    pub fn local(name: &PersonalityName, prompt: Option<Prompt>) -> Self {
        Self {
            display_name: DisplayName::from_name(name),
            avatar_url: None,
            error_message: None,
            prompt: prompt.unwrap_or_else(|| Prompt::default_for(name)),
            model: None,
            fetched_at: None,
        }
    }
}

/// A named persona with an owner, a profile and aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personality {
    name: PersonalityName,
    owner: UserId,
    profile: Profile,
    aliases: Vec<Alias>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Personality {
    /// A new personality owned by `owner`. Emits [`DomainEvent::PersonalityCreated`].
    pub fn create(
        name: PersonalityName,
        owner: UserId,
        profile: Profile,
        now: Timestamp,
    ) -> (Self, DomainEvent) {
        let event = DomainEvent::PersonalityCreated {
            name: name.clone(),
            owner,
        };
        let personality = Self {
            name,
            owner,
            profile,
            aliases: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        (personality, event)
    }

    /// Rebuilds a stored personality (repositories only; no rule is re-run).
    pub fn restore(
        name: PersonalityName,
        owner: UserId,
        profile: Profile,
        aliases: Vec<Alias>,
        created_at: Timestamp,
        updated_at: Timestamp,
    ) -> Self {
        Self {
            name,
            owner,
            profile,
            aliases,
            created_at,
            updated_at,
        }
    }

    pub fn name(&self) -> &PersonalityName {
        &self.name
    }
    pub fn owner(&self) -> UserId {
        self.owner
    }
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
    pub fn display_name(&self) -> &DisplayName {
        &self.profile.display_name
    }
    pub fn aliases(&self) -> &[Alias] {
        &self.aliases
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    /// The owner and bot owners may manage a personality.
    pub fn can_be_managed_by(&self, actor: Actor) -> bool {
        actor.is_bot_owner || actor.user == self.owner
    }

    /// `Err(NotOwner)` unless [`Self::can_be_managed_by`].
    pub fn ensure_manageable_by(&self, actor: Actor) -> Result<(), PersonalityError> {
        if self.can_be_managed_by(actor) {
            Ok(())
        } else {
            Err(PersonalityError::NotOwner {
                name: self.name.clone(),
            })
        }
    }

    pub fn has_alias(&self, alias: &Alias) -> bool {
        self.aliases.contains(alias)
    }

    /// The display-name auto-alias rule: the lower-cased display name, when it differs from
    /// the name and is a valid alias. The caller checks that it is free in the registry.
    pub fn auto_alias(&self) -> Option<Alias> {
        let lowered = self.profile.display_name.key();
        if lowered == self.name.key() {
            return None;
        }
        Alias::parse(lowered)
            .ok()
            .filter(|a| !a.equals_name(&self.name) && !self.has_alias(a))
    }

    /// Adds an alias after an ownership check. Registry-wide uniqueness is checked by the
    /// caller against the repository before saving.
    pub fn add_alias(
        &mut self,
        actor: Actor,
        alias: Alias,
        now: Timestamp,
    ) -> Result<DomainEvent, PersonalityError> {
        self.ensure_manageable_by(actor)?;
        self.attach_alias(alias, now)
    }

    /// Adds an alias without an ownership check (creation-time aliases of one's own new
    /// personality, and alias moves already authorised by the caller).
    pub fn attach_alias(
        &mut self,
        alias: Alias,
        now: Timestamp,
    ) -> Result<DomainEvent, PersonalityError> {
        if alias.equals_name(&self.name) {
            return Err(PersonalityError::AliasEqualsName {
                name: self.name.clone(),
            });
        }
        if self.has_alias(&alias) {
            return Err(PersonalityError::AliasAlreadyPresent {
                alias,
                name: self.name.clone(),
            });
        }
        self.aliases.push(alias.clone());
        self.updated_at = now;
        Ok(DomainEvent::AliasAdded {
            name: self.name.clone(),
            alias,
        })
    }

    /// Removes an alias (after an ownership check).
    pub fn remove_alias(
        &mut self,
        actor: Actor,
        alias: &Alias,
        now: Timestamp,
    ) -> Result<DomainEvent, PersonalityError> {
        self.ensure_manageable_by(actor)?;
        self.detach_alias(alias, now)
    }

    /// Removes an alias without an ownership check (the losing side of an authorised move).
    pub fn detach_alias(
        &mut self,
        alias: &Alias,
        now: Timestamp,
    ) -> Result<DomainEvent, PersonalityError> {
        let before = self.aliases.len();
        self.aliases.retain(|a| a != alias);
        if self.aliases.len() == before {
            return Err(PersonalityError::AliasMissing {
                alias: alias.clone(),
                name: self.name.clone(),
            });
        }
        self.updated_at = now;
        Ok(DomainEvent::AliasRemoved {
            name: self.name.clone(),
            alias: alias.clone(),
        })
    }

    /// Replaces the profile (after an ownership check).
    pub fn update_profile(
        &mut self,
        actor: Actor,
        profile: Profile,
        now: Timestamp,
    ) -> Result<DomainEvent, PersonalityError> {
        self.ensure_manageable_by(actor)?;
        self.profile = profile;
        self.updated_at = now;
        Ok(DomainEvent::ProfileUpdated {
            name: self.name.clone(),
        })
    }

    /// Consumes the personality for deletion (after an ownership check). The repository removes
    /// its aliases, activations and conversation history with it.
    pub fn remove(self, actor: Actor) -> Result<DomainEvent, PersonalityError> {
        self.ensure_manageable_by(actor)?;
        Ok(DomainEvent::PersonalityRemoved { name: self.name })
    }

    /// Whether the avatar and profile are current: fetched within `max_age` (local
    /// personalities are always current).
    pub fn profile_is_current(&self, now: Timestamp, max_age: crate::Duration) -> bool {
        self.profile
            .fetched_at
            .is_none_or(|at| now.since(at) <= max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u64) -> UserId {
        UserId::new(n).unwrap()
    }
    fn name(s: &str) -> PersonalityName {
        PersonalityName::parse(s).unwrap()
    }
    fn alias(s: &str) -> Alias {
        Alias::parse(s).unwrap()
    }
    fn owner() -> Actor {
        Actor {
            user: user(1),
            is_bot_owner: false,
        }
    }
    fn stranger() -> Actor {
        Actor {
            user: user(2),
            is_bot_owner: false,
        }
    }
    fn bot_owner() -> Actor {
        Actor {
            user: user(3),
            is_bot_owner: true,
        }
    }
    fn einstein() -> Personality {
        let n = name("einstein");
        Personality::create(
            n.clone(),
            user(1),
            Profile::local(&n, None),
            Timestamp::from_millis(10),
        )
        .0
    }

    #[test]
    fn creating_a_personality_emits_an_event_and_uses_the_local_profile() {
        let n = name("einstein");
        let (p, event) = Personality::create(
            n.clone(),
            user(1),
            Profile::local(&n, None),
            Timestamp::from_millis(10),
        );
        assert_eq!(
            event,
            DomainEvent::PersonalityCreated {
                name: n,
                owner: user(1)
            }
        );
        assert_eq!(p.display_name().as_str(), "einstein");
        assert_eq!(p.profile().prompt.as_str(), "You are einstein.");
        assert_eq!(p.created_at(), p.updated_at());
        assert!(p.aliases().is_empty());
    }

    #[test]
    fn only_the_owner_or_a_bot_owner_may_manage_a_personality() {
        let p = einstein();
        let cases = [(owner(), true), (stranger(), false), (bot_owner(), true)];
        for (actor, allowed) in cases {
            assert_eq!(p.can_be_managed_by(actor), allowed, "{actor:?}");
            assert_eq!(p.ensure_manageable_by(actor).is_ok(), allowed);
        }
        assert!(matches!(
            p.clone().remove(stranger()),
            Err(PersonalityError::NotOwner { .. })
        ));
        assert_eq!(
            p.clone().remove(owner()).unwrap(),
            DomainEvent::PersonalityRemoved {
                name: name("einstein")
            }
        );
        assert!(p.remove(bot_owner()).is_ok());
    }

    #[test]
    fn aliases_are_added_once_and_never_equal_the_name() {
        let mut p = einstein();
        let now = Timestamp::from_millis(20);
        assert_eq!(
            p.add_alias(owner(), alias("albert e"), now).unwrap(),
            DomainEvent::AliasAdded {
                name: name("einstein"),
                alias: alias("albert e")
            }
        );
        assert_eq!(p.updated_at(), now);
        assert!(matches!(
            p.add_alias(owner(), alias("ALBERT E"), now),
            Err(PersonalityError::AliasAlreadyPresent { .. })
        ));
        assert!(matches!(
            p.add_alias(owner(), alias("Einstein"), now),
            Err(PersonalityError::AliasEqualsName { .. })
        ));
        assert!(matches!(
            p.add_alias(stranger(), alias("ae"), now),
            Err(PersonalityError::NotOwner { .. })
        ));
        assert!(p.add_alias(bot_owner(), alias("ae"), now).is_ok());
        assert_eq!(p.aliases().len(), 2);
    }

    #[test]
    fn aliases_can_be_removed_by_the_owner() {
        let mut p = einstein();
        let now = Timestamp::from_millis(20);
        p.add_alias(owner(), alias("ae"), now).unwrap();
        assert!(matches!(
            p.remove_alias(stranger(), &alias("ae"), now),
            Err(PersonalityError::NotOwner { .. })
        ));
        assert!(p.remove_alias(owner(), &alias("AE"), now).is_ok());
        assert!(matches!(
            p.remove_alias(owner(), &alias("ae"), now),
            Err(PersonalityError::AliasMissing { .. })
        ));
    }

    #[test]
    fn the_display_name_becomes_an_alias_when_it_differs_from_the_name() {
        let n = name("angel-dust");
        let mut profile = Profile::local(&n, None);
        profile.display_name = DisplayName::parse("Angel Dust").unwrap();
        let p = Personality::create(n, user(1), profile, Timestamp::EPOCH).0;
        assert_eq!(p.auto_alias(), Some(alias("angel dust")));
        assert_eq!(
            p.auto_alias().unwrap().as_str(),
            "angel dust",
            "lower-cased"
        );

        // Same as the name (case-insensitively): no alias.
        let n = name("Lilith");
        let mut profile = Profile::local(&n, None);
        profile.display_name = DisplayName::parse("LILITH").unwrap();
        assert_eq!(
            Personality::create(n, user(1), profile, Timestamp::EPOCH)
                .0
                .auto_alias(),
            None
        );

        // Not a valid alias (emoji, another script): no alias, and no error.
        let n = name("lilith");
        let mut profile = Profile::local(&n, None);
        profile.display_name = DisplayName::parse("Лилит 🌙").unwrap();
        assert_eq!(
            Personality::create(n, user(1), profile, Timestamp::EPOCH)
                .0
                .auto_alias(),
            None
        );
    }

    #[test]
    fn profiles_can_be_updated_by_the_owner_and_age_is_tracked() {
        let mut p = einstein();
        let mut profile = p.profile().clone();
        profile.fetched_at = Some(Timestamp::from_millis(1000));
        profile.display_name = DisplayName::parse("Albert").unwrap();
        assert!(
            p.update_profile(stranger(), profile.clone(), Timestamp::from_millis(5))
                .is_err()
        );
        assert_eq!(
            p.update_profile(owner(), profile, Timestamp::from_millis(1000))
                .unwrap(),
            DomainEvent::ProfileUpdated {
                name: name("einstein")
            }
        );
        let day = crate::Duration::from_secs(86_400);
        assert!(p.profile_is_current(Timestamp::from_millis(1000).plus(day), day));
        assert!(!p.profile_is_current(Timestamp::from_millis(1001).plus(day), day));
        assert!(einstein().profile_is_current(Timestamp::from_millis(i64::MAX), day));
    }
}
