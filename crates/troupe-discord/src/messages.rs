//! MESSAGE_CREATE and MESSAGE_DELETE: which lane a message takes (the application's parser
//! decides what is a command), then the work — a prefix command through the dispatcher, any
//! other message through the message flow.

use std::sync::Arc;

use troupe_application::flow::{Author, IncomingMessage};
use troupe_application::{Invoker, Location, RequestSource};
use twilight_model::gateway::payload::incoming::MessageDelete;
use twilight_model::guild::Permissions as DiscordPermissions;
use twilight_model::id::Id;
use twilight_model::id::marker::{
    ApplicationMarker, ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker,
    WebhookMarker,
};

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

/// What the work reads of a MESSAGE_CREATE, taken out of twilight's `Message` (3.5 KB inline)
/// in the shard loop, so a queued event holds about a tenth of that (issue 13: the memory of
/// a burst is mostly queued events).
#[derive(Debug)]
pub(crate) struct Received {
    pub id: Id<MessageMarker>,
    pub channel: Id<ChannelMarker>,
    pub guild: Option<Id<GuildMarker>>,
    pub author: Id<UserMarker>,
    pub author_is_bot: bool,
    pub webhook: Option<Id<WebhookMarker>>,
    pub application: Option<Id<ApplicationMarker>>,
    /// The member's nickname, else the user's global name, else the user name.
    pub display_name: String,
    /// The member's roles (empty in a DM).
    pub roles: Vec<Id<RoleMarker>>,
    pub content: String,
    /// The message this one replies to.
    pub reply_to: Option<Id<MessageMarker>>,
    /// The text of the message replied to, when Discord sent it.
    pub quoted: Option<String>,
    /// The URLs of the attached images.
    pub images: Vec<String>,
}

/// A MESSAGE_CREATE's `d` read straight into [`Received`] from the gateway's text, without
/// twilight's `Message` in between (issue 13: that decode builds every field Discord sends, a
/// 3.5 KB value moved through the event enum, to keep a tenth of it). It requires no more than
/// twilight's `Message` does: a message twilight reads, this reads.
pub(crate) fn received_from_gateway(json: &str) -> Result<Received, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Dispatch {
        d: wire::Message,
    }
    // From text, as a worker reads a relayed message: one reader's code for both, and text
    // already known to be UTF-8 is not checked again string by string.
    serde_json::from_str::<Dispatch>(json).map(|dispatch| dispatch.d.into())
}

/// A message as Discord sends it (in a MESSAGE_CREATE, or relayed from a gateway process),
/// reduced to what [`Received`] keeps.
pub(crate) use wire::Message as WireMessage;

/// The fields of Discord's message object that [`Received`] keeps, named as Discord sends them
/// (the same names twilight's `Message` reads).
mod wire {
    use serde::Deserialize;
    use twilight_model::id::Id;
    use twilight_model::id::marker::{
        ApplicationMarker, ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker,
        WebhookMarker,
    };

    #[derive(Debug, Deserialize)]
    pub(crate) struct Message {
        id: Id<MessageMarker>,
        channel_id: Id<ChannelMarker>,
        guild_id: Option<Id<GuildMarker>>,
        author: User,
        webhook_id: Option<Id<WebhookMarker>>,
        application_id: Option<Id<ApplicationMarker>>,
        member: Option<Member>,
        content: String,
        #[serde(rename = "message_reference")]
        reference: Option<Reference>,
        #[serde(rename = "referenced_message")]
        quoted: Option<Box<Quoted>>,
        #[serde(default)]
        attachments: Vec<Attachment>,
    }

    #[derive(Debug, Deserialize)]
    struct User {
        id: Id<UserMarker>,
        #[serde(rename = "username")]
        name: String,
        global_name: Option<String>,
        #[serde(default)]
        bot: bool,
    }

    #[derive(Debug, Deserialize)]
    struct Member {
        nick: Option<String>,
        #[serde(default)]
        roles: Vec<Id<RoleMarker>>,
    }

    #[derive(Debug, Deserialize)]
    struct Reference {
        message_id: Option<Id<MessageMarker>>,
    }

    #[derive(Debug, Deserialize)]
    struct Quoted {
        content: String,
    }

    #[derive(Debug, Deserialize)]
    struct Attachment {
        content_type: Option<String>,
        url: String,
    }

    impl Message {
        pub(crate) fn id(&self) -> Id<MessageMarker> {
            self.id
        }
    }

    impl From<Message> for super::Received {
        fn from(message: Message) -> Self {
            let (nick, roles) = message
                .member
                .map(|m| (m.nick, m.roles))
                .unwrap_or_default();
            let author = message.author;
            Self {
                id: message.id,
                channel: message.channel_id,
                guild: message.guild_id,
                author: author.id,
                author_is_bot: author.bot,
                webhook: message.webhook_id,
                application: message.application_id,
                display_name: nick.or(author.global_name).unwrap_or(author.name),
                roles,
                content: message.content,
                reply_to: message.reference.and_then(|r| r.message_id),
                quoted: message.quoted.map(|m| m.content),
                images: message
                    .attachments
                    .into_iter()
                    .filter(|a| {
                        a.content_type
                            .as_deref()
                            .is_some_and(|t| t.starts_with("image/"))
                    })
                    .map(|a| a.url)
                    .collect(),
            }
        }
    }
}

/// Whether `webhook` (the message's) is ours: one this process used, or one made by our
/// application (Discord names it in `application_id`; a worker learns of webhooks another
/// worker made that way).
fn is_own_webhook(
    cache: &crate::cache::Cache,
    message: &Received,
    webhook: Id<WebhookMarker>,
) -> bool {
    cache.is_own_webhook(webhook)
        || (message.application.is_some() && message.application == cache.application())
}

/// The lane of a MESSAGE_CREATE.
pub(crate) fn lane_of(ctx: &Ctx, message: &Received) -> Option<Lane> {
    let cache = ctx.platform.cache();
    let origin = Origin::of(
        message.author,
        message.author_is_bot,
        message.webhook,
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
pub(crate) fn shed(ctx: &Arc<Ctx>, message: &Received, lane: Lane) {
    match lane {
        Lane::Commands => {
            tracing::warn!("command shed: its queue is full");
            delivery::busy(
                ctx,
                Invoking {
                    channel: message.channel,
                    message: message.id,
                },
            );
        }
        Lane::Messages => tracing::debug!("message shed: its queue is full"),
    }
}

/// Handles a message in its lane.
pub(crate) async fn handle(ctx: Arc<Ctx>, message: Received, lane: Lane) {
    let cache = ctx.platform.cache();
    let origin = Origin::of(
        message.author,
        message.author_is_bot,
        message.webhook,
        cache.bot_user(),
        |w| is_own_webhook(cache, &message, w),
    );
    let via_proxy = message.webhook.is_some() && !origin.own_webhook;
    let is_command = lane == Lane::Commands;
    let (location, permissions) = match message.guild {
        None => {
            cache.insert_dm(message.author, message.channel);
            (
                Location::Dm {
                    channel: ids::channel(message.channel),
                },
                DiscordPermissions::empty(),
            )
        }
        Some(guild) => {
            let member = Member {
                guild,
                channel: message.channel,
                user: message.author,
                roles: &message.roles,
            };
            guild_location(&ctx.platform, member, is_command).await
        }
    };
    let author = ids::user(message.author);
    let display_name = message.display_name;
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
                channel: message.channel,
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
        content: message.content,
        reply_to: message.reply_to.map(ids::message),
        quoted: message.quoted,
        images: message.images,
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
    use twilight_model::channel::Message;

    fn message(extra: serde_json::Value) -> Received {
        received_from_gateway(&dispatch(&message_json(extra))).unwrap()
    }

    /// What twilight's `Message` says of the fields [`Received`] keeps.
    fn as_twilight_reads(d: serde_json::Value) -> String {
        let m: Message = serde_json::from_value(d).unwrap();
        let (nick, roles) = m.member.map(|m| (m.nick, m.roles)).unwrap_or_default();
        let images: Vec<String> = (m.attachments.into_iter())
            .filter(|a| {
                a.content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"))
            })
            .map(|a| a.url)
            .collect();
        let received = Received {
            id: m.id,
            channel: m.channel_id,
            guild: m.guild_id,
            author: m.author.id,
            author_is_bot: m.author.bot,
            webhook: m.webhook_id,
            application: m.application_id,
            display_name: nick.or(m.author.global_name).unwrap_or(m.author.name),
            roles,
            content: m.content,
            reply_to: m.reference.and_then(|r| r.message_id),
            quoted: m.referenced_message.map(|m| m.content),
            images,
        };
        format!("{received:?}")
    }

    fn message_json(extra: serde_json::Value) -> serde_json::Value {
        let mut json = serde_json::json!({
            "id": "1001", "channel_id": "2002", "guild_id": "3003",
            "author": {"id": "4004", "username": "ada", "global_name": "Ada L.",
                       "discriminator": "0", "avatar": null},
            "content": "@einstein hello", "timestamp": "2026-12-01T00:00:00+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        });
        for (k, v) in extra.as_object().unwrap() {
            json[k] = v.clone();
        }
        json
    }

    fn dispatch(d: &serde_json::Value) -> String {
        serde_json::json!({"op": 0, "s": 42, "t": "MESSAGE_CREATE", "d": d}).to_string()
    }

    #[test]
    fn a_message_create_read_from_the_gateway_text_is_what_twilights_message_gives() {
        let image = serde_json::json!({"id": "5", "filename": "f.png", "size": 1,
            "url": "https://cdn/5", "proxy_url": "https://p", "content_type": "image/png"});
        let text = serde_json::json!({"id": "6", "filename": "f.txt", "size": 1,
            "url": "https://cdn/6", "proxy_url": "https://p"});
        let quoted =
            message_json(serde_json::json!({"id": "900", "content": "earlier, \"quoted\" \u{e9}"}));
        let cases = [
            serde_json::json!({}),
            serde_json::json!({"guild_id": null, "member": null}),
            serde_json::json!({
                "member": {"roles": ["77", "78"], "nick": "Countess", "joined_at": "2026-01-01T00:00:00+00:00",
                           "deaf": false, "mute": false, "flags": 0},
                "message_reference": {"message_id": "999", "channel_id": "2002"},
                "referenced_message": quoted,
                "attachments": [image, text],
                "webhook_id": "31", "application_id": "32",
                "content": "!tz add \"Dr. Who\" 🎩\n",
            }),
            serde_json::json!({
                "author": {"id": "4004", "username": "proxy", "global_name": null, "bot": true,
                           "discriminator": "0", "avatar": null},
                "member": {"roles": [], "joined_at": null, "deaf": false, "mute": false, "flags": 0},
                "message_reference": {"channel_id": "2002"}, "referenced_message": null,
                "unknown_future_field": {"nested": [1, 2, 3]},
            }),
        ];
        for extra in cases {
            let d = message_json(extra);
            let read = received_from_gateway(&dispatch(&d)).expect("a MESSAGE_CREATE is read");
            assert_eq!(format!("{read:?}"), as_twilight_reads(d));
        }
    }

    #[test]
    fn a_gateway_text_that_cannot_be_read_is_an_error_as_it_is_for_twilight() {
        // Each is refused by twilight's `Message` too (the shard loop logs and skips it).
        let no_author = {
            let mut d = message_json(serde_json::json!({}));
            d.as_object_mut().unwrap().remove("author");
            d
        };
        let bad_id = message_json(serde_json::json!({"id": "not a snowflake"}));
        for d in [no_author, bad_id] {
            assert!(received_from_gateway(&dispatch(&d)).is_err());
            assert!(serde_json::from_value::<Message>(d).is_err());
        }
        for text in [
            "",
            "{",
            r#"{"op":0,"t":"MESSAGE_CREATE"}"#,
            r#"{"op":0,"d":[]}"#,
        ] {
            assert!(received_from_gateway(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_received_message_keeps_what_the_work_reads() {
        let attachment = |id: &str, kind: &str| {
            serde_json::json!({"id": id, "filename": "f", "size": 1, "url": format!("https://cdn/{id}"),
                               "proxy_url": "https://p", "content_type": kind})
        };
        let r = message(serde_json::json!({
            "member": {"roles": ["77"], "nick": "Countess", "joined_at": "2026-01-01T00:00:00+00:00",
                       "deaf": false, "mute": false, "flags": 0},
            "message_reference": {"message_id": "999", "channel_id": "2002"},
            "attachments": [attachment("5", "image/png"), attachment("6", "text/plain")],
        }));
        assert_eq!(
            (r.id.get(), r.channel.get(), r.author.get()),
            (1001, 2002, 4004)
        );
        assert_eq!(r.guild.map(Id::get), Some(3003));
        assert_eq!(r.display_name, "Countess");
        assert_eq!(r.roles.iter().map(|r| r.get()).collect::<Vec<_>>(), [77]);
        assert_eq!(r.content, "@einstein hello");
        assert_eq!(r.reply_to.map(Id::get), Some(999));
        assert_eq!(r.images, ["https://cdn/5"]);
        assert!(!r.author_is_bot && r.webhook.is_none());

        // Without a member (a DM): the global name, else the user name.
        let dm = message(serde_json::json!({"guild_id": null}));
        assert_eq!(dm.display_name, "Ada L.");
        assert!(dm.roles.is_empty() && dm.guild.is_none());
        let plain = message(serde_json::json!({
            "author": {"id": "4004", "username": "ada", "global_name": null,
                       "discriminator": "0", "avatar": null}
        }));
        assert_eq!(plain.display_name, "ada");
    }

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
