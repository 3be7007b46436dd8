//! `purgbot [system|all]`: deletes the bot's messages in a DM, paging through the whole history.

use troupe_domain::MessageId;
use troupe_ports::DmMessageKind;

use crate::handlers::common::{code, outcome, subcommand};
use crate::handlers::{HandlerResult, PURGE_REPORT_LIFETIME};
use crate::{CommandRequest, Deps, FollowUp, OutcomeClass};

/// Messages asked for per history page (the platform's maximum).
const PAGE_SIZE: u8 = 100;
/// Upper bound on pages read, so a misbehaving platform can never loop forever.
const MAX_PAGES: usize = 10_000;

/// `Denied` outside DMs; otherwise deletes command replies and system messages (`system`, the
/// default) or everything the bot sent (`all`) and reports deleted and failed counts.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if !request.location.is_dm() {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Direct messages only",
            "This command cleans up our direct messages; run it in a DM with the bot.",
        ));
    }
    let include_personalities = match subcommand(request).as_deref() {
        None | Some("system") => false,
        Some("all") => true,
        Some(_) => {
            return Ok(outcome(
                OutcomeClass::InvalidInput,
                "What should be deleted?",
                format!(
                    "Choose {} (command replies and system messages) or {} (everything the bot sent).",
                    code("system"),
                    code("all")
                ),
            ));
        }
    };
    let channel = request.location.channel();
    let (mut deleted, mut failed) = (0_u64, 0_u64);
    let mut before: Option<MessageId> = None;
    for _ in 0..MAX_PAGES {
        let page = deps.platform.dm_history(channel, before, PAGE_SIZE).await?;
        let Some(oldest) = page.iter().map(|m| m.id).min() else {
            break;
        };
        for message in &page {
            let wanted = match message.kind {
                DmMessageKind::User => false,
                DmMessageKind::System => true,
                DmMessageKind::Personality => include_personalities,
            };
            if wanted {
                match deps.platform.delete_message(channel, message.id).await {
                    Ok(()) => deleted += 1,
                    Err(_) => failed += 1,
                }
            }
        }
        if before.is_some_and(|b| oldest >= b) {
            break;
        }
        before = Some(oldest);
    }
    Ok(outcome(
        OutcomeClass::Success,
        "Cleaned up",
        format!(
            "Deleted {} messages, {} could not be deleted. This report removes itself in 10 seconds.",
            code(deleted.to_string()),
            code(failed.to_string())
        ),
    )
    .with_follow_up(FollowUp::DeleteReplyAfter(PURGE_REPORT_LIFETIME)))
}
