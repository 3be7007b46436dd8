//! Outcomes to Discord: a prefix command's reply and follow-ups (DMs, deleting the invoking
//! message, deleting the reply later), the shadow comparison after delivery, and the short
//! answer of a command shed because its queue was full.

use std::sync::Arc;

use troupe_application::dispatch::Dispatched;
use troupe_application::{FollowUp, Reply};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use crate::bot::Ctx;
use crate::ids;

/// What a shed command is told.
pub(crate) const BUSY: &str =
    "Troupe is very busy right now and could not take your command. Please try again in a moment.";

/// The message a prefix command came in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invoking {
    pub channel: Id<ChannelMarker>,
    pub message: Id<MessageMarker>,
}

/// Delivers a prefix command's outcome: the reply (to the invoking message), then the
/// follow-ups, then the shadow comparison.
pub(crate) async fn message_outcome(
    ctx: &Arc<Ctx>,
    invoking: Invoking,
    mut dispatched: Dispatched,
) {
    let platform = &ctx.platform;
    let mut reply_id = None;
    if let Some(reply) = &dispatched.outcome.reply {
        // Only a reply deleted later needs its id read from Discord's answer.
        let read_id = dispatched
            .outcome
            .follow_ups
            .iter()
            .any(|f| matches!(f, FollowUp::DeleteReplyAfter(_)));
        match platform
            .send_reply(invoking.channel, reply, Some(invoking.message), read_id)
            .await
        {
            Ok(id) => reply_id = id,
            Err(e) => {
                tracing::warn!(error = %e, reference = ?dispatched.outcome.reference.map(|r| r.to_string()), "cannot deliver a command reply");
            }
        }
    }
    for follow_up in std::mem::take(&mut dispatched.outcome.follow_ups) {
        match follow_up {
            FollowUp::SendDm { user, message } => send_dm(ctx, user, message).await,
            FollowUp::DeleteInvokingMessage => {
                if let Err(e) = troupe_ports::ChatPlatform::delete_message(
                    platform.as_ref(),
                    ids::channel(invoking.channel),
                    ids::message(invoking.message),
                )
                .await
                {
                    tracing::info!(error = %e, "cannot delete the invoking message");
                }
            }
            FollowUp::DeleteReplyAfter(after) => {
                if let Some(reply) = reply_id {
                    let platform = Arc::clone(platform);
                    let channel = ids::channel(invoking.channel);
                    ctx.spawn(tracing::Instrument::in_current_span(async move {
                        tokio::time::sleep(after).await;
                        let _ = troupe_ports::ChatPlatform::delete_message(
                            platform.as_ref(),
                            channel,
                            ids::message(reply),
                        )
                        .await;
                    }));
                }
            }
        }
    }
    shadow(ctx, &mut dispatched).await;
}

/// Sends a follow-up DM (a closed DM is no error worth more than a note).
pub(crate) async fn send_dm(
    ctx: &Ctx,
    user: troupe_domain::UserId,
    message: troupe_ports::OutgoingMessage,
) {
    if let Err(e) = troupe_ports::ChatPlatform::send_dm(ctx.platform.as_ref(), user, message).await
    {
        tracing::info!(error = %e, "follow-up DM not delivered");
    }
}

/// Runs the shadow comparison of a delivered outcome, if it got a slot.
pub(crate) async fn shadow(ctx: &Ctx, dispatched: &mut Dispatched) {
    if let (Some(job), Some(hook)) = (dispatched.take_shadow_job(), &ctx.deps.shadow) {
        hook(job).await;
    }
}

/// The embed of the "busy" answer.
pub(crate) fn busy_reply() -> Reply {
    Reply {
        title: Some("Busy".into()),
        text: BUSY.into(),
        colour: troupe_application::model::colour::ERROR,
        ..Reply::default()
    }
}

/// Tells the author of a shed prefix command that it was not taken (at most a few such
/// answers at a time; beyond that the command is only counted).
pub(crate) fn busy(ctx: &Arc<Ctx>, invoking: Invoking) {
    let Ok(permit) = Arc::clone(&ctx.notices).try_acquire_owned() else {
        return;
    };
    let platform = Arc::clone(&ctx.platform);
    ctx.spawn(tracing::Instrument::in_current_span(async move {
        let _permit = permit;
        if let Err(e) = platform
            .send_reply(
                invoking.channel,
                &busy_reply(),
                Some(invoking.message),
                false,
            )
            .await
        {
            tracing::info!(error = %e, "cannot tell a shed command's author");
        }
    }));
}
