//! `status`: the bot's and the caller's state at a glance.

use troupe_domain::time::humanize;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, latency, on_off, outcome, yes_no};
use crate::{CommandRequest, Deps, OutcomeClass, SystemKind};

/// Always `Success` with the fields of ADR 0002 (`Uptime` … `Command system` = `ddd`).
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let now = deps.clock.now();
    let user = request.invoker.id;
    let channel = request.location.channel();

    let authenticated = deps
        .auth
        .token(user)
        .await?
        .is_some_and(|auth| !auth.is_expired(now));
    let verified = deps.auth.verification(user).await?.is_some();
    let personalities = deps.personalities.list_by_owner(user, 0, 0).await?.total;
    let autorespond = deps.conversations.autorespond(user).await?;
    let active_here = deps
        .conversations
        .activation(channel)
        .await?
        .map_or_else(|| "none".to_owned(), |a| a.personality.as_str().to_owned());
    let active_channels = deps.conversations.count_activations().await?;
    let platform = deps.platform.status();

    Ok(outcome(
        OutcomeClass::Success,
        "Troupe status",
        "Here is how things stand.",
    )
    .field("Uptime", humanize(now.since(deps.config.started_at)))
    .field("Latency", latency(deps))
    .field("Servers", platform.guilds.to_string())
    .field("Authenticated", yes_no(authenticated))
    .field("Age verified", yes_no(verified))
    .field("Your personalities", personalities.to_string())
    .field("Autorespond", on_off(autorespond))
    .field("Active here", active_here)
    .field("Active channels", active_channels.to_string())
    .field("Command system", SystemKind::New.as_str()))
}
