//! Where an event happened and what its author may do there: the application's [`Location`]
//! and [`Permissions`], from the cache (resolving unknown channels and guilds over REST once).

use troupe_application::{Location, Permissions};
use twilight_model::guild::Permissions as DiscordPermissions;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker};

use crate::ids;
use crate::platform::DiscordPlatform;
use crate::rest::fresh;

/// The application's view of a member's Discord permissions.
pub(crate) fn to_permissions(p: DiscordPermissions) -> Permissions {
    Permissions {
        administrator: p.contains(DiscordPermissions::ADMINISTRATOR),
        manage_messages: p.contains(DiscordPermissions::MANAGE_MESSAGES),
    }
}

/// A member in a guild channel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pub guild: Id<GuildMarker>,
    pub channel: Id<ChannelMarker>,
    pub user: Id<UserMarker>,
    pub roles: &'a [Id<RoleMarker>],
}

/// Where a guild event happened and the member's permissions there. `with_visible`: also the
/// age-restricted channels the member can see (for `verify`).
pub(crate) async fn guild_location(
    platform: &DiscordPlatform,
    member: Member<'_>,
    with_visible: bool,
) -> (Location, DiscordPermissions) {
    let cache = platform.cache();
    let Member {
        guild,
        channel,
        user,
        roles,
    } = member;
    if cache.age_restricted(channel).is_none()
        && let Ok(facts) = platform.channel_facts(channel).await
        && let (true, Some(parent)) = (facts.is_thread(), facts.parent)
    {
        let _ = platform.channel_facts(parent).await;
    }
    if !cache.has_guild(guild) {
        match platform
            .rest()
            .global("get guild", || async {
                Ok(fresh(platform.http().guild(guild)).await?.model().await?)
            })
            .await
        {
            Ok(g) => cache.insert_guild(guild, g.owner_id, &g.roles),
            Err(e) => tracing::warn!(error = %e, "cannot read the guild's roles"),
        }
        // Its channels too (the age-restricted ones a member can see), as GUILD_CREATE would
        // have told: a worker never sees that event.
        match platform
            .rest()
            .global("get guild channels", || async {
                Ok(fresh(platform.http().guild_channels(guild))
                    .await?
                    .model()
                    .await?)
            })
            .await
        {
            Ok(channels) => {
                for c in &channels {
                    cache.insert_channel(c);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the guild's channels"),
        }
    }
    let permissions = cache
        .permissions(guild, channel, user, roles)
        .unwrap_or_else(DiscordPermissions::empty);
    let visible = if with_visible {
        cache
            .visible_age_restricted(guild, user, roles, 5)
            .into_iter()
            .map(|(id, name)| (ids::channel(id), name))
            .collect()
    } else {
        Vec::new()
    };
    (
        Location::Guild {
            guild: ids::guild(guild),
            channel: ids::channel(channel),
            age_restricted: cache.age_restricted(channel).unwrap_or(false),
            visible_age_restricted: visible,
        },
        permissions,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_administrator_and_manage_messages_reach_the_application() {
        let p =
            to_permissions(DiscordPermissions::MANAGE_MESSAGES | DiscordPermissions::BAN_MEMBERS);
        assert!(p.manage_messages && !p.administrator);
        assert!(to_permissions(DiscordPermissions::ADMINISTRATOR).administrator);
        assert_eq!(
            to_permissions(DiscordPermissions::empty()),
            Permissions::default()
        );
    }
}
