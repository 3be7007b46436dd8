//! MESSAGE_CREATE and MESSAGE_DELETE: which lane a message takes (the application's parser
//! decides what is a command), then the work — a prefix command through the dispatcher, any
//! other message through the message flow.

use std::sync::Arc;

use troupe_application::flow::{Author, IncomingMessage};
use troupe_application::{Invoker, Location, RequestSource};
use twilight_model::channel::Message;
use twilight_model::gateway::payload::incoming::MessageDelete;
use twilight_model::guild::Permissions as DiscordPermissions;
use twilight_model::id::Id;
use twilight_model::id::marker::{UserMarker, WebhookMarker};

use crate::bot::Ctx;
use crate::delivery::{self, Invoking};
use crate::ids;
use crate::lanes::Lane;
use crate::location::{Member, guild_location, to_permissions};

/// Who wrote a message, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The bot's own user (never handled).
    pub own_user: bool,
    /// One of the bot's own webhooks (a personality speaking).
    pub own_webhook: bool,
    /// A bot account (not a webhook).
    pub bot: bool,
}

impl Origin {
    pub(crate) fn of(
        author: Id<UserMarker>,
        author_is_bot: bool,
        webhook: Option<Id<WebhookMarker>>,
        bot_user: Option<Id<UserMarker>>,
        is_own_webhook: impl Fn(Id<WebhookMarker>) -> bool,
    ) -> Self {
        Self {
            own_user: Some(author) == bot_user,
            own_webhook: webhook.is_some_and(is_own_webhook),
            bot: author_is_bot && webhook.is_none(),
        }
    }
}

/// The lane of a message, `None` when nothing handles it: a command (the parser says so) from
/// a person or a proxy system goes to the commands; anything else to the message flow, when
/// there is one.
pub(crate) fn lane(origin: Origin, is_command: bool, has_flow: bool) -> Option<Lane> {
    if origin.own_user {
        return None;
    }
    if is_command && !origin.bot && !origin.own_webhook {
        Some(Lane::Commands)
    } else if has_flow {
        Some(Lane::Messages)
    } else {
        None
    }
}

/// Whether `webhook` (the message's) is ours: one this process used, or one made by our
/// application (Discord names it in `application_id`; a worker learns of webhooks another
/// worker made that way).
fn is_own_webhook(
    cache: &crate::cache::Cache,
    message: &Message,
    webhook: Id<WebhookMarker>,
) -> bool {
    cache.is_own_webhook(webhook)
        || (message.application_id.is_some() && message.application_id == cache.application())
}

/// The lane of a MESSAGE_CREATE.
pub(crate) fn lane_of(ctx: &Ctx, message: &Message) -> Option<Lane> {
    let cache = ctx.platform.cache();
    let origin = Origin::of(
        message.author.id,
        message.author.bot,
        message.webhook_id,
        cache.bot_user(),
        |w| is_own_webhook(cache, message, w),
    );
    lane(
        origin,
        ctx.deps.dispatcher.is_command(&message.content),
        ctx.deps.messages.is_some(),
    )
}

/// A message whose lane was full: a command's author is told, other messages only counted.
pub(crate) fn shed(ctx: &Arc<Ctx>, message: &Message, lane: Lane) {
    match lane {
        Lane::Commands => {
            tracing::warn!("command shed: its queue is full");
            delivery::busy(
                ctx,
                Invoking {
                    channel: message.channel_id,
                    message: message.id,
                },
            );
        }
        Lane::Messages => tracing::debug!("message shed: its queue is full"),
    }
}

/// Handles a message in its lane.
pub(crate) async fn handle(ctx: Arc<Ctx>, message: Message, lane: Lane) {
    let cache = ctx.platform.cache();
    let origin = Origin::of(
        message.author.id,
        message.author.bot,
        message.webhook_id,
        cache.bot_user(),
        |w| is_own_webhook(cache, &message, w),
    );
    let via_proxy = message.webhook_id.is_some() && !origin.own_webhook;
    let is_command = lane == Lane::Commands;
    let (location, permissions) = match message.guild_id {
        None => {
            cache.insert_dm(message.author.id, message.channel_id);
            (
                Location::Dm {
                    channel: ids::channel(message.channel_id),
                },
                DiscordPermissions::empty(),
            )
        }
        Some(guild) => {
            let roles = message
                .member
                .as_ref()
                .map(|m| m.roles.as_slice())
                .unwrap_or_default();
            let member = Member {
                guild,
                channel: message.channel_id,
                user: message.author.id,
                roles,
            };
            guild_location(&ctx.platform, member, is_command).await
        }
    };
    let author = ids::user(message.author.id);
    let display_name = message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .unwrap_or_else(|| message.author.name.clone());
    let received_at = ctx.deps.clock.now();
    if is_command {
        let invoker = Invoker {
            id: author,
            display_name,
            is_bot_owner: ctx.deps.bot_owners.contains(&author),
            permissions: to_permissions(permissions),
            via_proxy,
        };
        if let Some(dispatched) = ctx
            .deps
            .dispatcher
            .dispatch_text(
                &message.content,
                invoker,
                location,
                RequestSource::Message(ids::message(message.id)),
                received_at,
            )
            .await
        {
            if let Some(command) = dispatched.command {
                tracing::Span::current().record("command", command.as_str());
            }
            let invoking = Invoking {
                channel: message.channel_id,
                message: message.id,
            };
            delivery::message_outcome(&ctx, invoking, dispatched).await;
            // Answered: the claim may be written now, not before (ADR 0030).
            ctx.deps
                .dispatcher
                .settled(RequestSource::Message(ids::message(message.id)))
                .await;
        }
        return;
    }
    let Some(handler) = &ctx.deps.messages else {
        return;
    };
    let incoming = IncomingMessage {
        id: ids::message(message.id),
        author: Author {
            id: author,
            display_name,
            is_bot: origin.bot,
            is_own_webhook: origin.own_webhook,
            via_proxy,
        },
        location,
        content: message.content.clone(),
        reply_to: message
            .reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(ids::message),
        quoted: message
            .referenced_message
            .as_ref()
            .map(|m| m.content.clone()),
        images: message
            .attachments
            .iter()
            .filter(|a| {
                a.content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"))
            })
            .map(|a| a.url.clone())
            .collect(),
        received_at,
    };
    handler.handle(incoming).await;
}

/// MESSAGE_DELETE: the message flow hears of it (a proxy system replaced the message).
pub(crate) fn deleted(ctx: &Arc<Ctx>, deleted: &MessageDelete) {
    if let Some(handler) = &ctx.deps.messages {
        let handler = Arc::clone(handler);
        let channel = ids::channel(deleted.channel_id);
        let message = ids::message(deleted.id);
        ctx.spawn(async move { handler.message_deleted(channel, message).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERSON: Origin = Origin {
        own_user: false,
        own_webhook: false,
        bot: false,
    };

    #[test]
    fn commands_from_people_and_proxies_take_the_command_lane() {
        assert_eq!(lane(PERSON, true, true), Some(Lane::Commands));
        assert_eq!(lane(PERSON, true, false), Some(Lane::Commands));
    }

    #[test]
    fn other_messages_take_the_message_lane_only_when_a_flow_reads_them() {
        assert_eq!(lane(PERSON, false, true), Some(Lane::Messages));
        assert_eq!(lane(PERSON, false, false), None);
        let bot = Origin {
            bot: true,
            ..PERSON
        };
        assert_eq!(
            lane(bot, true, true),
            Some(Lane::Messages),
            "a bot's command is the flow's business (it ignores bots)"
        );
        let own_webhook = Origin {
            own_webhook: true,
            ..PERSON
        };
        assert_eq!(lane(own_webhook, true, true), Some(Lane::Messages));
    }

    #[test]
    fn the_bots_own_messages_are_never_handled() {
        let own = Origin {
            own_user: true,
            bot: true,
            ..PERSON
        };
        assert_eq!(lane(own, true, true), None);
        assert_eq!(lane(own, false, true), None);
    }

    #[test]
    fn the_origin_tells_own_webhooks_from_proxies() {
        let bot_user = Some(Id::new(1));
        let ours = Origin::of(Id::new(9), true, Some(Id::new(5)), bot_user, |w| {
            w.get() == 5
        });
        assert!(ours.own_webhook && !ours.bot && !ours.own_user);
        let proxy = Origin::of(Id::new(9), true, Some(Id::new(6)), bot_user, |w| {
            w.get() == 5
        });
        assert!(!proxy.own_webhook && !proxy.bot);
        let me = Origin::of(Id::new(1), true, None, bot_user, |_| false);
        assert!(me.own_user && me.bot);
    }
}
