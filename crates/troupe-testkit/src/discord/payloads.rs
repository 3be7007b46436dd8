//! Discord-shaped JSON for the fake: every shape here deserialises as the matching
//! twilight-model type (checked by the tests at the bottom).

use serde_json::{Value, json};

use super::model::{ChannelKind, ChannelModel, GuildModel, MessageModel, UserModel, WebhookModel};

pub const TIMESTAMP: &str = "2026-01-01T00:00:00.000000+00:00";

pub fn user(u: &UserModel) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": null,
        "bot": u.bot,
    })
}

pub fn current_user(u: &UserModel) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.name,
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "mfa_enabled": false,
        "verified": true,
        "flags": 0,
        "public_flags": 0,
    })
}

pub fn role(id: u64, permissions: u64) -> Value {
    json!({
        "id": id.to_string(),
        "name": if id == 0 { "role".to_owned() } else { format!("role-{id}") },
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "managed": false,
        "mentionable": false,
        "permissions": permissions.to_string(),
        "position": 0,
        "flags": 0,
    })
}

pub fn channel(c: &ChannelModel) -> Value {
    let mut v = json!({
        "id": c.id.to_string(),
        "type": c.kind.code(),
        "name": c.name,
        "nsfw": c.nsfw,
        "position": 0,
        "permission_overwrites": c.overwrites.iter().map(|o| json!({
            "id": o.id.to_string(),
            "type": u8::from(!o.role),
            "allow": o.allow.to_string(),
            "deny": o.deny.to_string(),
        })).collect::<Vec<_>>(),
    });
    if let Some(g) = c.guild {
        v["guild_id"] = json!(g.to_string());
    }
    if let Some(p) = c.parent {
        v["parent_id"] = json!(p.to_string());
    }
    if c.kind.is_thread() {
        v["thread_metadata"] = json!({
            "archived": false,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": false,
        });
    }
    v
}

pub fn dm_channel(id: u64, recipient: &UserModel) -> Value {
    json!({
        "id": id.to_string(),
        "type": ChannelKind::Dm.code(),
        "recipients": [user(recipient)],
    })
}

pub fn guild(g: &GuildModel, channels: &[&ChannelModel]) -> Value {
    let (threads, others): (Vec<&&ChannelModel>, Vec<&&ChannelModel>) =
        channels.iter().partition(|c| c.kind.is_thread());
    json!({
        "id": g.id.to_string(),
        "name": g.name,
        "owner_id": g.owner.to_string(),
        "roles": g.roles.iter().map(|(id, p)| role(*id, *p)).collect::<Vec<_>>(),
        "channels": others.iter().map(|c| channel(c)).collect::<Vec<_>>(),
        "threads": threads.iter().map(|c| channel(c)).collect::<Vec<_>>(),
        "afk_timeout": 300,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "emojis": [],
        "features": [],
        "member_count": 1,
        "members": [],
        "mfa_level": 0,
        "nsfw_level": 0,
        "preferred_locale": "en-US",
        "premium_progress_bar_enabled": false,
        "premium_tier": 0,
        "presences": [],
        "stage_instances": [],
        "stickers": [],
        "system_channel_flags": 0,
        "verification_level": 0,
        "voice_states": [],
        "unavailable": false,
        "large": false,
        "joined_at": TIMESTAMP,
    })
}

pub fn member(
    roles: &[u64],
    nick: Option<&str>,
    permissions: Option<u64>,
    u: Option<&UserModel>,
) -> Value {
    let mut v = json!({
        "roles": roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "nick": nick,
        "joined_at": TIMESTAMP,
        "deaf": false,
        "mute": false,
        "flags": 0,
    });
    if let Some(p) = permissions {
        v["permissions"] = json!(p.to_string());
    }
    if let Some(u) = u {
        v["user"] = user(u);
    }
    v
}

pub fn message(m: &MessageModel, author: &UserModel) -> Value {
    let mut v = json!({
        "id": m.id.to_string(),
        "channel_id": m.channel.to_string(),
        "author": user(author),
        "content": m.content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": m.embeds,
        "pinned": false,
        "type": 0,
        "flags": 0,
    });
    if let Some(g) = m.guild {
        v["guild_id"] = json!(g.to_string());
    }
    if let Some(w) = m.webhook {
        v["webhook_id"] = json!(w.to_string());
    }
    if let Some(r) = m.reply_to {
        v["message_reference"] =
            json!({"message_id": r.to_string(), "channel_id": m.channel.to_string()});
    }
    v
}

pub fn webhook(w: &WebhookModel, application: u64) -> Value {
    json!({
        "id": w.id.to_string(),
        "type": 1,
        "channel_id": w.channel.to_string(),
        "guild_id": w.guild.map(|g| g.to_string()),
        "name": w.name,
        "avatar": null,
        "token": w.token,
        "application_id": application.to_string(),
    })
}

pub fn ready(
    bot: &UserModel,
    application: u64,
    session: &str,
    url: &str,
    shard: [u32; 2],
    guilds: &[u64],
) -> Value {
    json!({
        "v": 10,
        "user": current_user(bot),
        "guilds": guilds.iter().map(|g| json!({"id": g.to_string(), "unavailable": true})).collect::<Vec<_>>(),
        "session_id": session,
        "resume_gateway_url": url,
        "shard": shard,
        "application": {"id": application.to_string(), "flags": 0},
    })
}

pub fn api_error(code: u64, message: &str) -> Value {
    json!({"code": code, "message": message})
}

#[cfg(test)]
mod tests {
    use super::super::model::Overwrite;
    use super::*;
    use twilight_model::channel::{Channel, Message, Webhook};
    use twilight_model::gateway::payload::incoming::{GuildCreate, Ready};
    use twilight_model::guild::{PartialMember, Role};

    fn bot() -> UserModel {
        UserModel {
            id: 10,
            name: "troupe".into(),
            global_name: None,
            bot: true,
            dms_closed: false,
        }
    }

    fn text_channel() -> ChannelModel {
        ChannelModel {
            id: 30,
            guild: Some(20),
            kind: ChannelKind::Text,
            name: "general".into(),
            nsfw: true,
            parent: None,
            overwrites: vec![Overwrite {
                id: 20,
                role: true,
                allow: 0,
                deny: 1024,
            }],
        }
    }

    #[test]
    fn every_payload_deserialises_as_twilight_expects() {
        let bot = bot();
        let ready_json = ready(&bot, 11, "s", "ws://127.0.0.1:1", [0, 1], &[20]);
        serde_json::from_value::<Ready>(ready_json).unwrap();
        serde_json::from_value::<Role>(role(20, 8)).unwrap();
        serde_json::from_value::<Channel>(channel(&text_channel())).unwrap();
        let thread = ChannelModel {
            id: 31,
            kind: ChannelKind::PublicThread,
            parent: Some(30),
            ..text_channel()
        };
        serde_json::from_value::<Channel>(channel(&thread)).unwrap();
        serde_json::from_value::<Channel>(dm_channel(40, &bot)).unwrap();
        let g = GuildModel {
            id: 20,
            name: "g".into(),
            owner: 1,
            roles: vec![(20, 1024)],
        };
        let created: GuildCreate =
            serde_json::from_value(guild(&g, &[&text_channel(), &thread])).unwrap();
        assert!(matches!(created, GuildCreate::Available(_)));
        serde_json::from_value::<PartialMember>(member(&[20], None, Some(8), Some(&bot))).unwrap();
        let m = MessageModel {
            id: 50,
            channel: 30,
            guild: Some(20),
            author: 10,
            content: "hi".into(),
            embeds: serde_json::json!([]),
            webhook: Some(60),
            reply_to: Some(49),
            username: None,
            thread: None,
            nonce: None,
        };
        let mut v = message(&m, &bot);
        v["member"] = member(&[], None, None, None);
        serde_json::from_value::<Message>(v).unwrap();
        let w = WebhookModel {
            id: 60,
            token: "t".into(),
            channel: 30,
            guild: Some(20),
            name: "Troupe".into(),
        };
        serde_json::from_value::<Webhook>(webhook(&w, 11)).unwrap();
    }
}
