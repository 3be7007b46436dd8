//! `debug <sub>`: maintenance for guild Administrators and bot owners.

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, bold, code, outcome, require_admin, subcommand};
use crate::{CommandRequest, Deps, OutcomeClass};

/// The subcommands, in the order `debug` lists them.
const SUBCOMMANDS: [&str; 6] = [
    "clearwebhooks",
    "unverify",
    "clearconversation",
    "clearauth",
    "clearmessages",
    "stats",
];

/// Runs a debug subcommand; without one, lists them.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if let Some(denied) = require_admin(deps, request) {
        return Ok(denied);
    }
    let user = request.invoker.id;
    let channel = request.location.channel();
    let now = deps.clock.now();
    let Some(sub) = subcommand(request) else {
        let list: Vec<String> = SUBCOMMANDS.iter().map(code).collect();
        return Ok(outcome(
            OutcomeClass::Info,
            "Debug subcommands",
            format!("Available: {}.", list.join(", ")),
        ));
    };
    let done = |text: String| outcome(OutcomeClass::Success, "Debug", text);
    match sub.as_str() {
        "clearwebhooks" => {
            let count = deps.platform.clear_webhook_cache().await;
            Ok(done(format!(
                "Cleared {} cached webhooks.",
                code(count.to_string())
            ))
            .with_event(DomainEvent::WebhookCacheCleared))
        }
        "unverify" => {
            if deps.auth.remove_verification(user).await? {
                Ok(done("Your age verification was removed.".into())
                    .with_event(DomainEvent::VerificationRemoved { user }))
            } else {
                Ok(outcome(
                    OutcomeClass::Info,
                    "Debug",
                    "You were not age-verified.",
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
            Ok(done(format!(
                "Cleared your conversation with {}.",
                bold(name.as_str())
            ))
            .with_event(DomainEvent::ConversationCleared {
                user,
                channel,
                name,
            }))
        }
        "clearauth" => {
            let count = deps.auth.delete_expired_tokens(now).await?;
            Ok(done(format!(
                "Deleted {} expired tokens.",
                code(count.to_string())
            ))
            .with_event(DomainEvent::ExpiredTokensPurged { count }))
        }
        "clearmessages" => {
            let count = deps.processed.clear().await?;
            Ok(done(format!(
                "Forgot {} processed message ids.",
                code(count.to_string())
            ))
            .with_event(DomainEvent::ProcessedMessagesCleared { count }))
        }
        "stats" => Ok(done("Current counts.".into())
            .field(
                "Cached webhooks",
                deps.platform.webhook_cache_size().await.to_string(),
            )
            .field(
                "Tracked messages",
                deps.processed.count().await?.to_string(),
            )
            .field("Stored tokens", deps.auth.count_tokens().await?.to_string())
            .field(
                "Personalities",
                deps.personalities.count().await?.to_string(),
            )
            .field(
                "Activations",
                deps.conversations.count_activations().await?.to_string(),
            )),
        _ => Ok(outcome(
            OutcomeClass::InvalidInput,
            "Unknown subcommand",
            format!(
                "{} is not a debug subcommand; run debug without one for the list.",
                code(request.args.first().unwrap_or_default())
            ),
        )),
    }
}

fn nothing_to_clear() -> crate::CommandOutcome {
    outcome(
        OutcomeClass::Info,
        "Debug",
        "You have no conversation in this channel.",
    )
}
