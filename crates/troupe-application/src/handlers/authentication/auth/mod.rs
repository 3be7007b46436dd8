//! `auth [start|code <code>|status|revoke|cleanup]`: the caller's authentication with the AI
//! provider. Checks in ADR order: a code posted in a guild (place) is refused and deleted before
//! anything else; then messages relayed by proxy systems are refused; then the subcommand runs.

mod cleanup;
mod code;
mod revoke;
mod start;
mod status;

use crate::handlers::HandlerResult;
use crate::handlers::common::{code as code_span, is_admin_or_bot_owner, outcome, subcommand};
use crate::{CommandRequest, Deps, FollowUp, OutcomeClass};

/// Dispatches to the subcommand; without one, lists them (`cleanup` only for administrators
/// and bot owners).
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let sub = subcommand(request);
    if sub.as_deref() == Some("code") && !request.location.is_dm() {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Send codes by DM only",
            "Authorization codes must be sent to the bot in a direct message. This code was not used; your message is being deleted. Start again in a DM.",
        )
        .with_follow_up(FollowUp::DeleteInvokingMessage));
    }
    if request.invoker.via_proxy {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Not allowed",
            "Messages relayed by proxy systems (PluralKit, Tupperbox) cannot manage authentication. Run auth from your own account.",
        ));
    }
    match sub.as_deref() {
        None => Ok(overview(deps, request)),
        Some("start") => start::run(deps, request).await,
        Some("code") => code::run(deps, request).await,
        Some("status") => status::run(deps, request).await,
        Some("revoke") => revoke::run(deps, request).await,
        Some("cleanup") => cleanup::run(deps, request).await,
        Some(_) => Ok(outcome(
            OutcomeClass::InvalidInput,
            "Unknown subcommand",
            format!(
                "{} is not an auth subcommand; run auth without one for the list.",
                code_span(request.args.first().unwrap_or_default())
            ),
        )),
    }
}

fn overview(deps: &Deps, request: &CommandRequest) -> crate::CommandOutcome {
    let mut lines = vec![
        format!(
            "{} — get your personal authorization link",
            code_span("start")
        ),
        format!(
            "{} — finish with the code you received (DM only)",
            code_span("code")
        ),
        format!(
            "{} — whether you are authenticated and for how long",
            code_span("status")
        ),
        format!("{} — delete your stored token", code_span("revoke")),
    ];
    if is_admin_or_bot_owner(deps, request) {
        lines.push(format!(
            "{} — delete all expired tokens",
            code_span("cleanup")
        ));
    }
    outcome(OutcomeClass::Info, "Authentication", lines.join("\n"))
}
