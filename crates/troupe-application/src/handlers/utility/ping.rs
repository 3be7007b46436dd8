//! `ping`: the bot is operational, with the gateway heartbeat latency.

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, latency, outcome};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Always `Success` with the field `Latency` (`` `N ms` `` or `` `measuring` ``).
pub(crate) async fn run(deps: &Deps, _request: &CommandRequest) -> HandlerResult {
    Ok(
        outcome(OutcomeClass::Success, "Pong", "Troupe is operational.")
            .field("Latency", latency(deps)),
    )
}
