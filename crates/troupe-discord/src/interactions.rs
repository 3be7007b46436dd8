//! INTERACTION_CREATE (slash commands): the request, the race against Discord's 3 s deadline
//! (deferred when no answer is ready `defer_after` after the interaction *arrived*, queueing
//! included), and the response. Every interaction gets a response: a guard verdict (the same
//! command again within seconds, a replay) is answered with an ephemeral "already handled",
//! a shed one with an ephemeral "busy".

use std::sync::Arc;

use tokio::time::Instant;
use troupe_application::catalog::slash::arguments;
use troupe_application::dispatch::Dispatched;
use troupe_application::{
    Category, CommandName, CommandRequest, FollowUp, Invoker, Location, OutcomeClass, Reply,
    RequestSource,
};
use twilight_http::client::InteractionClient;
use twilight_model::application::interaction::application_command::CommandData;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::message::MessageFlags;
use twilight_model::guild::Permissions as DiscordPermissions;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::bot::Ctx;
use crate::delivery;
use crate::ids;
use crate::lanes::Ticket;
use crate::location::{Member, guild_location, to_permissions};
use crate::render::reply_embed;
use crate::rest::{RestError, code};
use crate::slash::{command_named, option_values};

/// The answer to a command the guard stopped (the same command again within seconds, an
/// interaction seen before).
pub(crate) const ALREADY_HANDLED: &str =
    "This command was already handled a moment ago, so it was not run again.";

/// The slash command an interaction invokes, if it is one.
pub(crate) fn command_data(interaction: &Interaction) -> Option<&CommandData> {
    match (&interaction.kind, &interaction.data) {
        (InteractionType::ApplicationCommand, Some(InteractionData::ApplicationCommand(data))) => {
            Some(data)
        }
        _ => None,
    }
}

fn message_response(
    content: &str,
    embeds: Option<Vec<twilight_model::channel::message::Embed>>,
    ephemeral: bool,
) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: (!content.is_empty()).then(|| content.to_owned()),
            embeds,
            flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    }
}

/// Sends the initial response. Tried again after an ambiguous failure: Discord refuses a second
/// one ("already acknowledged"), which then means the first went through.
async fn respond(
    ctx: &Ctx,
    client: &InteractionClient<'_>,
    interaction: &Interaction,
    response: &InteractionResponse,
    what: &'static str,
) -> Result<(), RestError> {
    let result = ctx
        .platform
        .rest()
        .exempt(what, || async {
            client
                .create_response(interaction.id, &interaction.token, response)
                .await?;
            Ok(())
        })
        .await;
    match result {
        Err(e) if e.discord_code() == Some(code::ALREADY_ACKNOWLEDGED) => Ok(()),
        other => other,
    }
}

/// Answers a shed interaction "busy" (ephemeral), if a notice slot is free.
pub(crate) fn shed(ctx: &Arc<Ctx>, interaction: Interaction) {
    tracing::warn!("slash command shed: its queue is full");
    let Ok(permit) = Arc::clone(&ctx.notices).try_acquire_owned() else {
        return;
    };
    let task_ctx = Arc::clone(ctx);
    ctx.spawn(tracing::Instrument::in_current_span(async move {
        let _permit = permit;
        let client = task_ctx
            .platform
            .http()
            .interaction(interaction.application_id);
        let response = message_response(delivery::BUSY, None, true);
        if let Err(e) = respond(
            &task_ctx,
            &client,
            &interaction,
            &response,
            "answer a shed interaction",
        )
        .await
        {
            tracing::info!(error = %e, "cannot tell a shed slash command's author");
        }
    }));
}

/// What became of the request.
enum Prepared {
    Unknown,
    Skipped,
    Dispatched(Box<Dispatched>),
}

/// Builds the request and dispatches it.
async fn prepare(ctx: &Ctx, interaction: &Interaction, command: Option<CommandName>) -> Prepared {
    let Some(command) = command else {
        return Prepared::Unknown;
    };
    let Some(data) = command_data(interaction) else {
        return Prepared::Skipped;
    };
    let user = interaction
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(interaction.user.as_ref());
    let Some(user) = user else {
        tracing::warn!("interaction without a user; skipped");
        return Prepared::Skipped;
    };
    let channel = interaction.channel.as_ref().map(|c| c.id).or({
        #[allow(deprecated)]
        interaction.channel_id
    });
    let Some(channel) = channel else {
        tracing::warn!("interaction without a channel; skipped");
        return Prepared::Skipped;
    };
    let cache = ctx.platform.cache();
    if let Some(c) = &interaction.channel
        && cache.channel(c.id).is_none()
        && interaction.guild_id.is_some()
        && !c.kind.is_thread()
    {
        // The partial channel carries the age-restricted flag.
        let mut full = c.clone();
        full.guild_id = interaction.guild_id;
        cache.insert_channel(&full);
    }
    let (location, permissions) = match interaction.guild_id {
        None => {
            cache.insert_dm(user.id, channel);
            (
                Location::Dm {
                    channel: ids::channel(channel),
                },
                DiscordPermissions::empty(),
            )
        }
        Some(guild) => {
            let roles = interaction
                .member
                .as_ref()
                .map(|m| m.roles.as_slice())
                .unwrap_or_default();
            let member = Member {
                guild,
                channel,
                user: user.id,
                roles,
            };
            let (location, computed) = guild_location(&ctx.platform, member, true).await;
            // Discord computes the member's permissions in the channel for interactions.
            let permissions = interaction
                .member
                .as_ref()
                .and_then(|m| m.permissions)
                .unwrap_or(computed);
            (location, permissions)
        }
    };
    let invoker_id = ids::user(user.id);
    let display_name = interaction
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| user.global_name.clone())
        .unwrap_or_else(|| user.name.clone());
    let pairs = option_values(&data.options);
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = CommandRequest {
        invoker: Invoker {
            id: invoker_id,
            display_name,
            is_bot_owner: ctx.deps.bot_owners.contains(&invoker_id),
            permissions: to_permissions(permissions),
            via_proxy: false,
        },
        location,
        source: RequestSource::Interaction(ids::message(interaction.id)),
        command,
        invoked_as: command.as_str().to_owned(),
        args: arguments(command, &borrowed),
        received_at: ctx.deps.clock.now(),
    };
    Prepared::Dispatched(Box::new(ctx.deps.dispatcher.dispatch(&request).await))
}

/// The text answered when an outcome of this class has no reply.
fn no_reply_text(class: OutcomeClass) -> &'static str {
    if class == OutcomeClass::Ignored {
        ALREADY_HANDLED
    } else {
        "Done."
    }
}

/// Handles a slash command admitted to the commands lane (`received`: when it arrived; no
/// ticket: a worker, whose concurrency its broker consumer bounds).
pub(crate) async fn handle(
    ctx: Arc<Ctx>,
    interaction: Interaction,
    ticket: Option<Ticket>,
    received: Instant,
) {
    let command = command_data(&interaction).and_then(|d| command_named(&d.name));
    let client = ctx.platform.http().interaction(interaction.application_id);
    let work = async {
        let running = match ticket {
            Some(ticket) => ticket.start().await,
            None => None,
        };
        (running, prepare(&ctx, &interaction, command).await)
    };
    tokio::pin!(work);
    let mut deferred = false;
    let (_running, prepared) = tokio::select! {
        done = &mut work => done,
        () = tokio::time::sleep_until(received + ctx.config.defer_after) => {
            deferred = true;
            let ephemeral = command.is_some_and(|c| c.category() == Category::Authentication);
            let response = InteractionResponse {
                kind: InteractionResponseType::DeferredChannelMessageWithSource,
                data: Some(InteractionResponseData {
                    flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                    ..InteractionResponseData::default()
                }),
            };
            if let Err(e) = respond(&ctx, &client, &interaction, &response, "defer interaction").await {
                tracing::warn!(error = %e, "cannot defer an interaction");
            }
            work.await
        }
    };
    let mut dispatched = match prepared {
        Prepared::Skipped => return,
        Prepared::Unknown => {
            let name = command_data(&interaction).map_or("", |d| d.name.as_str());
            tracing::warn!(name = %name, "unknown slash command");
            let text = format!(
                "Unknown command. Try `{} help`.",
                ctx.deps.dispatcher.prefix()
            );
            let _ = send(&ctx, &client, &interaction, deferred, None, &text, true).await;
            return;
        }
        Prepared::Dispatched(dispatched) => *dispatched,
    };
    let replied = if let Some(reply) = &dispatched.outcome.reply {
        let ephemeral = reply.ephemeral;
        send(
            &ctx,
            &client,
            &interaction,
            deferred,
            Some(reply),
            "",
            ephemeral,
        )
        .await
    } else {
        let text = no_reply_text(dispatched.outcome.class);
        let _ = send(&ctx, &client, &interaction, deferred, None, text, true).await;
        false
    };
    for follow_up in std::mem::take(&mut dispatched.outcome.follow_ups) {
        match follow_up {
            FollowUp::SendDm { user, message } => delivery::send_dm(&ctx, user, message).await,
            FollowUp::DeleteInvokingMessage => {}
            FollowUp::DeleteReplyAfter(after) if replied => {
                let task_ctx = Arc::clone(&ctx);
                let application = interaction.application_id;
                let token = interaction.token.clone();
                ctx.spawn(tracing::Instrument::in_current_span(async move {
                    tokio::time::sleep(after).await;
                    let client = task_ctx.platform.http().interaction(application);
                    let _ = task_ctx
                        .platform
                        .rest()
                        .exempt("delete interaction response", || async {
                            client.delete_response(&token).await?;
                            Ok(())
                        })
                        .await;
                }));
            }
            FollowUp::DeleteReplyAfter(_) => {}
        }
    }
    // Answered: the claim may be written now, not before (ADR 0030).
    ctx.deps
        .dispatcher
        .settled(RequestSource::Interaction(ids::message(interaction.id)))
        .await;
    delivery::shadow(&ctx, &mut dispatched).await;
}

/// Sends the answer: the initial response, or the edit of a deferred one. `true` when a reply
/// embed was delivered.
async fn send(
    ctx: &Ctx,
    client: &InteractionClient<'_>,
    interaction: &Interaction,
    deferred: bool,
    reply: Option<&Reply>,
    text: &str,
    ephemeral: bool,
) -> bool {
    let embeds = reply.map(|r| vec![reply_embed(r)]);
    let result = if deferred {
        ctx.platform
            .rest()
            .exempt("edit interaction response", || async {
                let mut request = client.update_response(&interaction.token);
                if let Some(embeds) = &embeds {
                    request = request.embeds(Some(embeds));
                } else {
                    request = request.content(Some(text));
                }
                request.await?;
                Ok(())
            })
            .await
    } else {
        let response = message_response(text, embeds.clone(), ephemeral);
        respond(
            ctx,
            client,
            interaction,
            &response,
            "respond to interaction",
        )
        .await
    };
    match result {
        Ok(()) => reply.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot deliver a slash command reply");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_application::CommandOutcome;

    #[test]
    fn a_guard_verdict_is_answered_already_handled_never_silence() {
        assert_eq!(
            no_reply_text(CommandOutcome::ignored().class),
            ALREADY_HANDLED
        );
        assert_eq!(no_reply_text(OutcomeClass::Success), "Done.");
    }

    #[test]
    fn a_busy_answer_is_a_short_ephemeral_message() {
        let response = message_response(delivery::BUSY, None, true);
        let data = response.data.unwrap();
        assert_eq!(data.flags, Some(MessageFlags::EPHEMERAL));
        assert_eq!(data.content.as_deref(), Some(delivery::BUSY));
        assert_eq!(
            response.kind,
            InteractionResponseType::ChannelMessageWithSource
        );
    }
}
