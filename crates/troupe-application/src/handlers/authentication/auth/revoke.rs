//! `auth revoke`: deletes the caller's token.

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, outcome};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Always `Success` (ephemeral); `TokenRevoked` only when a token existed.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let user = request.invoker.id;
    if deps.auth.delete_token(user).await? {
        Ok(outcome(
            OutcomeClass::Success,
            "Token revoked",
            "Your token was deleted.",
        )
        .ephemeral()
        .with_event(DomainEvent::TokenRevoked { user }))
    } else {
        Ok(outcome(
            OutcomeClass::Success,
            "Token revoked",
            "You had no stored token; there is nothing left to delete.",
        )
        .ephemeral())
    }
}
