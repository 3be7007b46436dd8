//! Utility commands: ping, status, help, notifications, debug, purgbot, volumetest.

use troupe_application::catalog::help::{self, HelpAudience};
use troupe_application::{CommandOutcome, CommandRequest, FollowUp, OutcomeClass, SystemKind};
use troupe_domain::notifications::{NotificationLevel, NotificationPreference};
use troupe_domain::time::humanize;
use troupe_domain::{DomainEvent, Duration, MessageId};
use troupe_ports::{DmMessageKind, PlatformStatus};

use crate::support::{
    Compose, Res, bold, code, is_admin_or_bot_owner, is_bot_owner, on_off, respond, subcommand,
    word, yes_no,
};
use troupe_application::Deps;

/// How long the `purgbot` report stays before it removes itself.
const PURGE_REPORT_LIFETIME: Duration = Duration::from_secs(10);
/// Messages per DM history page (Discord's maximum).
const HISTORY_PAGE: u8 = 100;
/// A safety stop for paging: 100,000 messages.
const MAX_HISTORY_PAGES: usize = 1000;

/// The heartbeat latency in whole milliseconds (at least 1), or `measuring` before the first ack.
fn latency_text(status: PlatformStatus) -> String {
    match status.latency {
        Some(latency) => format!("{} ms", latency.as_millis().max(1)),
        None => "measuring".to_owned(),
    }
}

pub(crate) fn ping(deps: &Deps, _request: &CommandRequest) -> Res {
    let latency = latency_text(deps.platform.status());
    Ok(
        respond(OutcomeClass::Success, "Pong!", "Troupe is operational.")
            .field("Latency", code(&latency)),
    )
}

pub(crate) async fn status(deps: &Deps, request: &CommandRequest) -> Res {
    let now = deps.clock.now();
    let user = request.invoker.id;
    let channel = request.location.channel();
    let platform = deps.platform.status();

    let authenticated = deps
        .auth
        .token(user)
        .await?
        .is_some_and(|auth| !auth.is_expired(now));
    let verified = deps.auth.verification(user).await?.is_some();
    let personalities = deps.personalities.list_by_owner(user, 0, 1).await?.total;
    let autorespond = deps.conversations.autorespond(user).await?;
    let active_here = deps
        .conversations
        .activation(channel)
        .await?
        .map_or_else(|| "none".to_owned(), |a| a.personality.as_str().to_owned());
    let active_channels = deps.conversations.count_activations().await?;

    Ok(respond(
        OutcomeClass::Success,
        "Troupe status",
        "Here is how things stand.",
    )
    .field("Uptime", humanize(now.since(deps.config.started_at)))
    .field("Latency", code(&latency_text(platform)))
    .field("Servers", platform.guilds.to_string())
    .field("Authenticated", yes_no(authenticated))
    .field("Age verified", yes_no(verified))
    .field("Your personalities", personalities.to_string())
    .field("Autorespond", on_off(autorespond))
    .field("Active here", active_here)
    .field("Active channels", active_channels.to_string())
    .field("Command system", SystemKind::Legacy.as_str()))
}

pub(crate) fn help(deps: &Deps, request: &CommandRequest) -> Res {
    let audience = HelpAudience {
        is_admin: !request.location.is_dm() && request.invoker.permissions.administrator,
        is_bot_owner: is_bot_owner(deps, request),
    };
    let (class, reply) = help::render(word(request, 0), audience, &deps.config.prefix);
    Ok(CommandOutcome::new(class, reply))
}

pub(crate) async fn notifications(deps: &Deps, request: &CommandRequest) -> Res {
    let user = request.invoker.id;
    let sub = subcommand(request);
    let sub_key = sub.as_ref().map(|(key, _)| key.as_str());

    // Validate before touching the store.
    let change = match sub_key {
        None | Some("status") => None,
        Some("on") => Some((Some(true), None)),
        Some("off") => Some((Some(false), None)),
        Some("level") => {
            let level = word(request, 1).and_then(|raw| match raw.trim().to_lowercase().as_str() {
                "major" => Some(NotificationLevel::Major),
                "minor" => Some(NotificationLevel::Minor),
                "patch" => Some(NotificationLevel::Patch),
                _ => None,
            });
            let Some(level) = level else {
                return Ok(respond(
                    OutcomeClass::InvalidInput,
                    "Which level?",
                    format!(
                        "Choose a level: {}, {} or {}.",
                        code("major"),
                        code("minor"),
                        code("patch")
                    ),
                ));
            };
            Some((None, Some(level)))
        }
        Some(_) => {
            let typed = sub.as_ref().map_or("", |(_, typed)| *typed);
            return Ok(respond(
                OutcomeClass::InvalidInput,
                "Unknown setting",
                format!(
                    "{} is not a notifications setting. Use status, on, off or level.",
                    code(typed)
                ),
            ));
        }
    };

    let current = deps
        .preferences
        .notification_preference(user)
        .await?
        .unwrap_or_default();

    let Some((opted_in, level)) = change else {
        let last = current
            .last_notified
            .map_or_else(|| "never".to_owned(), |v| v.to_string());
        return Ok(respond(
            OutcomeClass::Success,
            "Release notifications",
            "Your release-notification settings.",
        )
        .field("Notifications", on_off(current.opted_in))
        .field("Level", current.level.as_str())
        .field("Last notified", last));
    };

    let updated = NotificationPreference {
        opted_in: opted_in.unwrap_or(current.opted_in),
        level: level.unwrap_or(current.level),
        last_notified: current.last_notified,
    };
    deps.preferences
        .save_notification_preference(user, &updated)
        .await?;
    let event = DomainEvent::NotificationsChanged {
        user,
        opted_in: updated.opted_in,
        level: updated.level,
    };
    let text = match (opted_in, level) {
        (Some(true), _) => format!(
            "Release notifications are {}. You will get a DM when a new version is out.",
            code("on")
        ),
        (Some(false), _) => format!(
            "Release notifications are {}. You will not get release DMs.",
            code("off")
        ),
        (None, _) => format!(
            "Notification level set to {}.",
            code(updated.level.as_str())
        ),
    };
    Ok(respond(OutcomeClass::Success, "Notifications updated", text).with_event(event))
}

pub(crate) async fn debug(deps: &Deps, request: &CommandRequest) -> Res {
    if !is_admin_or_bot_owner(deps, request) {
        return Ok(respond(
            OutcomeClass::Denied,
            "Not allowed",
            format!(
                "debug needs the {} permission (or bot owner rights).",
                code("Administrator")
            ),
        ));
    }
    let user = request.invoker.id;
    let channel = request.location.channel();
    let Some((sub, typed)) = subcommand(request) else {
        let list = [
            "clearwebhooks",
            "unverify",
            "clearconversation",
            "clearauth",
            "clearmessages",
            "stats",
        ]
        .map(code)
        .join(", ");
        return Ok(respond(
            OutcomeClass::Info,
            "Debug subcommands",
            format!("Available subcommands: {list}."),
        ));
    };
    match sub.as_str() {
        "clearwebhooks" => {
            let cleared = deps.platform.clear_webhook_cache().await;
            Ok(respond(
                OutcomeClass::Success,
                "Webhook cache cleared",
                format!("Cleared {} cached webhooks.", code(&cleared.to_string())),
            )
            .with_event(DomainEvent::WebhookCacheCleared))
        }
        "unverify" => {
            if deps.auth.remove_verification(user).await? {
                Ok(respond(
                    OutcomeClass::Success,
                    "Verification removed",
                    "Your age verification was removed.",
                )
                .with_event(DomainEvent::VerificationRemoved { user }))
            } else {
                Ok(respond(
                    OutcomeClass::Info,
                    "Not verified",
                    "You were not age-verified, so there was nothing to remove.",
                ))
            }
        }
        "clearconversation" => {
            let Some(conversation) = deps.conversations.conversation(user, channel).await? else {
                return Ok(nothing_to_clear());
            };
            if !deps
                .conversations
                .clear_user_conversation(user, channel)
                .await?
            {
                return Ok(nothing_to_clear());
            }
            let name = conversation.personality;
            Ok(respond(
                OutcomeClass::Success,
                "Conversation cleared",
                format!(
                    "Your conversation with {} in this channel was cleared.",
                    bold(name.as_str())
                ),
            )
            .with_event(DomainEvent::ConversationCleared {
                user,
                channel,
                name,
            }))
        }
        "clearauth" => {
            let count = deps.auth.delete_expired_tokens(deps.clock.now()).await?;
            Ok(respond(
                OutcomeClass::Success,
                "Expired tokens deleted",
                format!("Deleted {} expired tokens.", code(&count.to_string())),
            )
            .with_event(DomainEvent::ExpiredTokensPurged { count }))
        }
        "clearmessages" => {
            let count = deps.processed.clear().await?;
            Ok(respond(
                OutcomeClass::Success,
                "Message cache cleared",
                format!("Forgot {} processed message ids.", code(&count.to_string())),
            )
            .with_event(DomainEvent::ProcessedMessagesCleared { count }))
        }
        "stats" => {
            let webhooks = deps.platform.webhook_cache_size().await;
            let messages = deps.processed.count().await?;
            let tokens = deps.auth.count_tokens().await?;
            let personalities = deps.personalities.count().await?;
            let activations = deps.conversations.count_activations().await?;
            Ok(
                respond(OutcomeClass::Success, "Debug stats", "Current counts.")
                    .field("Cached webhooks", webhooks.to_string())
                    .field("Tracked messages", messages.to_string())
                    .field("Stored tokens", tokens.to_string())
                    .field("Personalities", personalities.to_string())
                    .field("Activations", activations.to_string()),
            )
        }
        _ => Ok(respond(
            OutcomeClass::InvalidInput,
            "Unknown subcommand",
            format!(
                "{} is not a debug subcommand. Run debug without arguments to list them.",
                code(typed)
            ),
        )),
    }
}

fn nothing_to_clear() -> CommandOutcome {
    respond(
        OutcomeClass::Info,
        "Nothing to clear",
        "You have no conversation in this channel.",
    )
}

pub(crate) async fn purgbot(deps: &Deps, request: &CommandRequest) -> Res {
    if !request.location.is_dm() {
        return Ok(respond(
            OutcomeClass::Denied,
            "DMs only",
            "purgbot only works in a direct message with the bot, where it deletes the bot's own messages.",
        ));
    }
    let include_personalities = match subcommand(request) {
        None => false,
        Some((sub, _)) if sub == "system" => false,
        Some((sub, _)) if sub == "all" => true,
        Some(_) => {
            return Ok(respond(
                OutcomeClass::InvalidInput,
                "Unknown mode",
                format!(
                    "Choose {} (command replies and system messages) or {} (everything the bot sent).",
                    code("system"),
                    code("all")
                ),
            ));
        }
    };

    let channel = request.location.channel();
    let mut deleted: u64 = 0;
    let mut failed: u64 = 0;
    let mut before: Option<MessageId> = None;
    for _ in 0..MAX_HISTORY_PAGES {
        let page = deps
            .platform
            .dm_history(channel, before, HISTORY_PAGE)
            .await?;
        let Some(oldest) = page.iter().map(|m| m.id).min() else {
            break;
        };
        if before.is_some_and(|b| oldest >= b) {
            break; // the platform did not move backwards: stop rather than loop
        }
        for message in &page {
            let wanted = match message.kind {
                DmMessageKind::System => true,
                DmMessageKind::Personality => include_personalities,
                DmMessageKind::User => false,
            };
            if !wanted {
                continue;
            }
            match deps.platform.delete_message(channel, message.id).await {
                Ok(()) => deleted += 1,
                Err(error) => {
                    tracing::debug!(%error, "purgbot could not delete a message");
                    failed += 1;
                }
            }
        }
        before = Some(oldest);
    }

    Ok(respond(
        OutcomeClass::Success,
        "Messages deleted",
        format!(
            "Deleted {} messages; {} could not be deleted. This report removes itself in 10 seconds.",
            code(&deleted.to_string()),
            code(&failed.to_string())
        ),
    )
    .with_follow_up(FollowUp::DeleteReplyAfter(PURGE_REPORT_LIFETIME)))
}

pub(crate) async fn volumetest(deps: &Deps, request: &CommandRequest) -> Res {
    if !is_bot_owner(deps, request) {
        return Ok(respond(
            OutcomeClass::Denied,
            "Not allowed",
            "volumetest is for the bot owner only.",
        ));
    }
    let report = deps.volume.probe(deps.clock.now()).await?;
    let free = report
        .free_bytes
        .map_or_else(|| "unknown".to_owned(), human_bytes);
    Ok(respond(
        OutcomeClass::Success,
        "Volume test",
        "Wrote a timestamped entry to the data directory and read it back.",
    )
    .field("Data directory", report.path)
    .field("Writable", yes_no(report.writable))
    .field("Earlier entries", report.earlier_entries.to_string())
    .field("Free space", free))
}

/// Bytes in binary units with one decimal: `512 B`, `1.0 KiB`, `3.5 GiB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_shown_in_binary_units() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1 << 30, "1.0 GiB"),
            (3 * (1 << 29), "1.5 GiB"),
            (u64::MAX, "16384.0 PiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn latency_is_never_shown_as_zero() {
        let at = |ms| PlatformStatus {
            latency: Some(Duration::from_millis(ms)),
            guilds: 0,
        };
        assert_eq!(latency_text(at(42)), "42 ms");
        assert_eq!(latency_text(at(0)), "1 ms");
        assert_eq!(latency_text(PlatformStatus::default()), "measuring");
    }
}
