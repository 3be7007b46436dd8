//! Conversions between twilight ids and the domain's typed ids (both are non-zero).

use troupe_domain::{ChannelId, GuildId, MessageId, UserId};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker};

pub fn user(id: Id<UserMarker>) -> UserId {
    UserId::new(id.get()).expect("twilight ids are non-zero")
}
pub fn channel(id: Id<ChannelMarker>) -> ChannelId {
    ChannelId::new(id.get()).expect("twilight ids are non-zero")
}
pub fn guild(id: Id<GuildMarker>) -> GuildId {
    GuildId::new(id.get()).expect("twilight ids are non-zero")
}
pub fn message<M>(id: Id<M>) -> MessageId {
    MessageId::new(id.get()).expect("twilight ids are non-zero")
}
pub fn to_user(id: UserId) -> Id<UserMarker> {
    Id::new(id.get())
}
pub fn to_channel(id: ChannelId) -> Id<ChannelMarker> {
    Id::new(id.get())
}
pub fn to_guild(id: GuildId) -> Id<GuildMarker> {
    Id::new(id.get())
}
pub fn to_message(id: MessageId) -> Id<MessageMarker> {
    Id::new(id.get())
}
