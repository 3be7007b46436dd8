//! What the adapter remembers from the gateway (and from REST on a miss): guild owners and role
//! permissions, channels with their type, age-restricted flag, parent and permission
//! overwrites, DM channels, our own user, application and webhooks. Enough to compute member
//! permissions and age restriction without asking Discord for every message.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use twilight_model::channel::permission_overwrite::PermissionOverwrite;
use twilight_model::channel::{Channel, ChannelType};
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::{Permissions, Role};
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, GuildMarker, RoleMarker, UserMarker, WebhookMarker,
};
use twilight_util::permission_calculator::PermissionCalculator;

/// The facts of one channel (or thread) the adapter needs.
#[derive(Debug, Clone)]
pub struct ChannelFacts {
    pub guild: Option<Id<GuildMarker>>,
    pub kind: ChannelType,
    pub name: String,
    pub nsfw: bool,
    pub parent: Option<Id<ChannelMarker>>,
    pub overwrites: Vec<PermissionOverwrite>,
}

impl ChannelFacts {
    pub fn from_channel(channel: &Channel) -> Self {
        Self {
            guild: channel.guild_id,
            kind: channel.kind,
            name: channel.name.clone().unwrap_or_default(),
            nsfw: channel.nsfw.unwrap_or(false),
            parent: channel.parent_id,
            overwrites: channel.permission_overwrites.clone().unwrap_or_default(),
        }
    }

    pub fn is_thread(&self) -> bool {
        self.kind.is_thread()
    }

    pub fn is_dm(&self) -> bool {
        matches!(self.kind, ChannelType::Private | ChannelType::Group)
    }
}

#[derive(Debug, Default)]
struct GuildFacts {
    owner: Option<Id<UserMarker>>,
    roles: HashMap<Id<RoleMarker>, Permissions>,
    channels: HashSet<Id<ChannelMarker>>,
}

#[derive(Debug, Default)]
struct Inner {
    guilds: HashMap<Id<GuildMarker>, GuildFacts>,
    channels: HashMap<Id<ChannelMarker>, ChannelFacts>,
    dm_by_user: HashMap<Id<UserMarker>, Id<ChannelMarker>>,
    bot_user: Option<Id<UserMarker>>,
    application: Option<Id<ApplicationMarker>>,
    own_webhooks: HashSet<Id<WebhookMarker>>,
}

/// The adapter's memory of Discord state.
#[derive(Debug, Default)]
pub struct Cache {
    inner: RwLock<Inner>,
}

impl Cache {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Updates the cache from a gateway event (events it does not track are ignored).
    pub fn apply(&self, event: &Event) {
        match event {
            Event::Ready(ready) => {
                let mut inner = self.write();
                inner.bot_user = Some(ready.user.id);
                inner.application = Some(ready.application.id);
            }
            Event::GuildCreate(create) => {
                if let GuildCreate::Available(guild) = create.as_ref() {
                    let mut inner = self.write();
                    let facts = inner.guilds.entry(guild.id).or_default();
                    facts.owner = Some(guild.owner_id);
                    facts.roles = roles(&guild.roles);
                    let ids: Vec<_> = guild.channels.iter().chain(&guild.threads).collect();
                    for channel in ids {
                        facts.channels.insert(channel.id);
                    }
                    for channel in guild.channels.iter().chain(&guild.threads) {
                        let mut channel_facts = ChannelFacts::from_channel(channel);
                        channel_facts.guild = Some(guild.id);
                        inner.channels.insert(channel.id, channel_facts);
                    }
                }
            }
            Event::GuildUpdate(update) => {
                let mut inner = self.write();
                let facts = inner.guilds.entry(update.id).or_default();
                facts.owner = Some(update.owner_id);
                facts.roles = roles(&update.roles);
            }
            Event::GuildDelete(delete) => {
                let mut inner = self.write();
                if let Some(facts) = inner.guilds.remove(&delete.id) {
                    for channel in facts.channels {
                        inner.channels.remove(&channel);
                    }
                }
            }
            Event::ChannelCreate(c) => self.insert_channel(c),
            Event::ChannelUpdate(c) => self.insert_channel(c),
            Event::ThreadCreate(c) => self.insert_channel(c),
            Event::ThreadUpdate(c) => self.insert_channel(c),
            Event::ChannelDelete(c) => self.remove_channel(c.id),
            Event::ThreadDelete(t) => self.remove_channel(t.id),
            Event::RoleCreate(r) => self.insert_role(r.guild_id, &r.role),
            Event::RoleUpdate(r) => self.insert_role(r.guild_id, &r.role),
            Event::RoleDelete(r) => {
                if let Some(g) = self.write().guilds.get_mut(&r.guild_id) {
                    g.roles.remove(&r.role_id);
                }
            }
            _ => {}
        }
    }

    pub fn insert_channel(&self, channel: &Channel) {
        let facts = ChannelFacts::from_channel(channel);
        let mut inner = self.write();
        if let Some(guild) = facts.guild {
            inner
                .guilds
                .entry(guild)
                .or_default()
                .channels
                .insert(channel.id);
        }
        if let (ChannelType::Private, Some(recipient)) = (
            channel.kind,
            channel
                .recipients
                .as_ref()
                .and_then(|r| r.iter().find(|u| Some(u.id) != inner.bot_user)),
        ) {
            let recipient = recipient.id;
            inner.dm_by_user.insert(recipient, channel.id);
        }
        inner.channels.insert(channel.id, facts);
    }

    /// Forgets a channel (a worker: the gateway saw it change; the next use reads it again).
    pub fn forget_channel(&self, id: Id<ChannelMarker>) {
        self.remove_channel(id);
    }

    /// Forgets a guild's owner, roles and channels (a worker: the gateway saw them change).
    pub fn forget_guild(&self, id: Id<GuildMarker>) {
        let mut inner = self.write();
        if let Some(facts) = inner.guilds.remove(&id) {
            for channel in facts.channels {
                inner.channels.remove(&channel);
            }
        }
    }

    fn remove_channel(&self, id: Id<ChannelMarker>) {
        let mut inner = self.write();
        if let Some(facts) = inner.channels.remove(&id)
            && let Some(guild) = facts.guild.and_then(|g| inner.guilds.get_mut(&g))
        {
            guild.channels.remove(&id);
        }
    }

    fn insert_role(&self, guild: Id<GuildMarker>, role: &Role) {
        self.write()
            .guilds
            .entry(guild)
            .or_default()
            .roles
            .insert(role.id, role.permissions);
    }

    /// Records a guild's owner and roles (from REST).
    pub fn insert_guild(&self, guild: Id<GuildMarker>, owner: Id<UserMarker>, all_roles: &[Role]) {
        let mut inner = self.write();
        let facts = inner.guilds.entry(guild).or_default();
        facts.owner = Some(owner);
        facts.roles = roles(all_roles);
    }

    /// Records a DM channel with a user.
    pub fn insert_dm(&self, user: Id<UserMarker>, channel: Id<ChannelMarker>) {
        let mut inner = self.write();
        inner.dm_by_user.insert(user, channel);
        inner.channels.entry(channel).or_insert(ChannelFacts {
            guild: None,
            kind: ChannelType::Private,
            name: String::new(),
            nsfw: false,
            parent: None,
            overwrites: Vec::new(),
        });
    }

    pub fn dm_channel(&self, user: Id<UserMarker>) -> Option<Id<ChannelMarker>> {
        self.read().dm_by_user.get(&user).copied()
    }

    pub fn channel(&self, id: Id<ChannelMarker>) -> Option<ChannelFacts> {
        self.read().channels.get(&id).cloned()
    }

    pub fn has_guild(&self, id: Id<GuildMarker>) -> bool {
        self.read()
            .guilds
            .get(&id)
            .is_some_and(|g| g.owner.is_some())
    }

    pub fn bot_user(&self) -> Option<Id<UserMarker>> {
        self.read().bot_user
    }

    pub fn application(&self) -> Option<Id<ApplicationMarker>> {
        self.read().application
    }

    /// Our user and application as a gateway saw them (a worker has no READY of its own).
    pub fn set_identity(
        &self,
        user: Option<Id<UserMarker>>,
        application: Option<Id<ApplicationMarker>>,
    ) {
        if user.is_none() && application.is_none() {
            return;
        }
        let known = {
            let inner = self.read();
            (user.is_none() || inner.bot_user == user)
                && (application.is_none() || inner.application == application)
        };
        if !known {
            let mut inner = self.write();
            if user.is_some() {
                inner.bot_user = user;
            }
            if application.is_some() {
                inner.application = application;
            }
        }
    }

    pub fn add_own_webhook(&self, id: Id<WebhookMarker>) {
        self.write().own_webhooks.insert(id);
    }

    pub fn remove_own_webhook(&self, id: Id<WebhookMarker>) {
        self.write().own_webhooks.remove(&id);
    }

    pub fn is_own_webhook(&self, id: Id<WebhookMarker>) -> bool {
        self.read().own_webhooks.contains(&id)
    }

    /// Whether the channel, or the parent of a thread or forum post, is age-restricted.
    /// `None` when the channel (or the parent) is unknown.
    pub fn age_restricted(&self, id: Id<ChannelMarker>) -> Option<bool> {
        let inner = self.read();
        let facts = inner.channels.get(&id)?;
        if facts.is_thread() {
            let parent = inner.channels.get(&facts.parent?)?;
            Some(parent.nsfw)
        } else {
            Some(facts.nsfw)
        }
    }

    /// The member's permissions in a channel (a thread uses its parent's overwrites).
    /// `None` when the guild or channel is unknown.
    pub fn permissions(
        &self,
        guild: Id<GuildMarker>,
        channel: Id<ChannelMarker>,
        user: Id<UserMarker>,
        member_roles: &[Id<RoleMarker>],
    ) -> Option<Permissions> {
        let inner = self.read();
        let facts = inner.guilds.get(&guild)?;
        let mut target = inner.channels.get(&channel)?;
        if target.is_thread()
            && let Some(parent) = target.parent.and_then(|p| inner.channels.get(&p))
        {
            target = parent;
        }
        Some(calculate(
            guild,
            facts,
            user,
            member_roles,
            target.kind,
            &target.overwrites,
        ))
    }

    /// Up to `limit` age-restricted channels of the guild the member can see, as (id, name).
    pub fn visible_age_restricted(
        &self,
        guild: Id<GuildMarker>,
        user: Id<UserMarker>,
        member_roles: &[Id<RoleMarker>],
        limit: usize,
    ) -> Vec<(Id<ChannelMarker>, String)> {
        let inner = self.read();
        let Some(facts) = inner.guilds.get(&guild) else {
            return Vec::new();
        };
        let mut found: Vec<(Id<ChannelMarker>, String)> = facts
            .channels
            .iter()
            .filter_map(|id| inner.channels.get(id).map(|c| (*id, c)))
            .filter(|(_, c)| c.nsfw && !c.is_thread() && c.kind != ChannelType::GuildCategory)
            .filter(|(_, c)| {
                calculate(guild, facts, user, member_roles, c.kind, &c.overwrites)
                    .contains(Permissions::VIEW_CHANNEL)
            })
            .map(|(id, c)| (id, c.name.clone()))
            .collect();
        found.sort_by_key(|(id, _)| *id);
        found.truncate(limit);
        found
    }
}

fn roles(roles: &[Role]) -> HashMap<Id<RoleMarker>, Permissions> {
    roles.iter().map(|r| (r.id, r.permissions)).collect()
}

/// The member's permissions in a channel of `kind` with `overwrites`.
fn calculate(
    guild: Id<GuildMarker>,
    facts: &GuildFacts,
    user: Id<UserMarker>,
    member_roles: &[Id<RoleMarker>],
    kind: ChannelType,
    overwrites: &[PermissionOverwrite],
) -> Permissions {
    let everyone = facts
        .roles
        .get(&guild.cast())
        .copied()
        .unwrap_or_else(Permissions::empty);
    let member: Vec<(Id<RoleMarker>, Permissions)> = member_roles
        .iter()
        .filter_map(|r| facts.roles.get(r).map(|p| (*r, *p)))
        .collect();
    let calc = PermissionCalculator::new(guild, user, everyone, &member);
    let calc = match facts.owner {
        Some(owner) => calc.owner_id(owner),
        None => calc,
    };
    calc.in_channel(kind, overwrites)
}
