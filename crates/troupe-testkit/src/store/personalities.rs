//! `PersonalityRepository` over the in-memory state.

use async_trait::async_trait;
use troupe_domain::UserId;
use troupe_domain::personality::{Alias, Personality, PersonalityName, resolve};
use troupe_ports::{Page, PersonalityRepository, StoreError};

use super::{InMemoryStore, State, query_key};

/// The same personality with another alias set (profile, owner and times kept).
fn with_aliases(p: &Personality, aliases: Vec<Alias>) -> Personality {
    Personality::restore(
        p.name().clone(),
        p.owner(),
        p.profile().clone(),
        aliases,
        p.created_at(),
        p.updated_at(),
    )
}

impl State {
    /// `AliasTaken` when `alias` is held by a personality other than `own`, or equals a name
    /// (`own` included).
    fn alias_conflict(&self, alias: &Alias, own: &PersonalityName) -> Option<StoreError> {
        let taken_by = |owner: &PersonalityName| StoreError::AliasTaken {
            alias: alias.clone(),
            owner: owner.clone(),
        };
        if alias.equals_name(own) {
            return Some(taken_by(own));
        }
        if let Some(holder) = self.aliases.get(alias.key())
            && holder != own.key()
        {
            return Some(taken_by(self.personalities[holder].name()));
        }
        self.personalities
            .get(alias.key())
            .map(|named| taken_by(named.name()))
    }

    /// Stores `p` and indexes its aliases, display name and owner.
    fn put(&mut self, p: Personality) {
        let key = p.name().key().to_owned();
        for alias in p.aliases() {
            self.aliases.insert(alias.key().to_owned(), key.clone());
        }
        self.display_names
            .entry(p.display_name().key().to_owned())
            .or_default()
            .insert(key.clone());
        self.by_owner
            .entry(p.owner())
            .or_default()
            .insert(key.clone());
        self.personalities.insert(key, p);
    }

    /// Removes the personality with this name key and its index entries.
    fn take(&mut self, key: &str) -> Option<Personality> {
        let p = self.personalities.remove(key)?;
        for alias in p.aliases() {
            self.aliases.remove(alias.key());
        }
        let display = p.display_name().key();
        if let Some(names) = self.display_names.get_mut(display) {
            names.remove(key);
            if names.is_empty() {
                self.display_names.remove(display);
            }
        }
        if let Some(names) = self.by_owner.get_mut(&p.owner()) {
            names.remove(key);
            if names.is_empty() {
                self.by_owner.remove(&p.owner());
            }
        }
        Some(p)
    }

    /// Everything that refers to the personality with this name key, in the other ports.
    fn cascade_delete(&mut self, key: &str) {
        self.activations.retain(|_, a| a.personality.key() != key);
        self.conversations.retain(|_, c| c.personality.key() != key);
        self.history
            .retain(|(_, personality), _| personality != key);
        self.personality_messages
            .retain(|_, m| m.personality.key() != key);
    }
}

#[async_trait]
impl PersonalityRepository for InMemoryStore {
    async fn insert(&self, personality: &Personality) -> Result<(), StoreError> {
        self.write(|s| {
            let key = personality.name().key();
            if let Some(existing) = s.personalities.get(key) {
                return Err(StoreError::NameTaken(existing.name().clone()));
            }
            if s.aliases.contains_key(key) {
                // A name may not equal an existing alias: no alias ever equals a name.
                return Err(StoreError::NameTaken(personality.name().clone()));
            }
            if let Some(conflict) = personality
                .aliases()
                .iter()
                .find_map(|a| s.alias_conflict(a, personality.name()))
            {
                return Err(conflict);
            }
            s.put(personality.clone());
            Ok(())
        })
    }

    async fn update(&self, personality: &Personality) -> Result<(), StoreError> {
        self.write(|s| {
            let key = personality.name().key();
            let Some(existing) = s.personalities.get(key) else {
                return Err(StoreError::NotFound);
            };
            if let Some(conflict) = personality
                .aliases()
                .iter()
                .find_map(|a| s.alias_conflict(a, personality.name()))
            {
                return Err(conflict);
            }
            let updated = Personality::restore(
                existing.name().clone(),
                existing.owner(),
                personality.profile().clone(),
                personality.aliases().to_vec(),
                existing.created_at(),
                personality.updated_at(),
            );
            s.take(key);
            s.put(updated);
            Ok(())
        })
    }

    async fn move_alias(&self, alias: &Alias, to: &PersonalityName) -> Result<(), StoreError> {
        self.write(|s| {
            let Some(target) = s.personalities.get(to.key()) else {
                return Err(StoreError::NotFound);
            };
            if let Some(named) = s.personalities.get(alias.key()) {
                return Err(StoreError::AliasTaken {
                    alias: alias.clone(),
                    owner: named.name().clone(),
                });
            }
            let holder = s.aliases.get(alias.key()).cloned();
            if holder.as_deref() == Some(to.key()) {
                return Ok(());
            }
            let mut target_aliases = target.aliases().to_vec();
            target_aliases.push(alias.clone());
            let target = with_aliases(target, target_aliases);
            if let Some(holder) = holder
                && let Some(losing) = s.take(&holder)
            {
                let kept = losing.aliases().iter().filter(|a| *a != alias).cloned();
                s.put(with_aliases(&losing, kept.collect()));
            }
            s.take(to.key());
            s.put(target);
            Ok(())
        })
    }

    async fn delete(&self, name: &PersonalityName) -> Result<bool, StoreError> {
        self.write(|s| {
            let existed = s.take(name.key()).is_some();
            if existed {
                s.cascade_delete(name.key());
            }
            Ok(existed)
        })
    }

    async fn get(&self, name: &PersonalityName) -> Result<Option<Personality>, StoreError> {
        self.read(|s| s.personalities.get(name.key()).cloned())
    }

    async fn lookup(&self, query: &str) -> Result<Option<Personality>, StoreError> {
        self.read(|s| {
            let key = query_key(query);
            // At most one candidate per kind of match, found through the indexes; the domain's
            // `resolve` then applies the precedence (name, alias, display name).
            let by_name = s.personalities.get(&key);
            let by_alias = s.aliases.get(&key).map(|k| &s.personalities[k]);
            let by_display = s
                .display_names
                .get(&key)
                .and_then(|keys| keys.first())
                .map(|k| &s.personalities[k]);
            resolve(query, [by_name, by_alias, by_display].into_iter().flatten()).cloned()
        })
    }

    async fn alias_owner(&self, alias: &Alias) -> Result<Option<PersonalityName>, StoreError> {
        self.read(|s| {
            s.aliases
                .get(alias.key())
                .map(|k| s.personalities[k].name().clone())
        })
    }

    async fn list_by_owner(
        &self,
        owner: UserId,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Personality>, StoreError> {
        self.read(|s| {
            let Some(keys) = s.by_owner.get(&owner) else {
                return Page {
                    items: Vec::new(),
                    total: 0,
                };
            };
            let items = keys
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|k| s.personalities[k].clone())
                .collect();
            Page {
                items,
                total: keys.len() as u64,
            }
        })
    }

    async fn count(&self) -> Result<u64, StoreError> {
        self.read(|s| s.personalities.len() as u64)
    }
}
