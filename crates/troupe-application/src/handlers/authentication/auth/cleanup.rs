//! `auth cleanup`: administrators and bot owners delete every expired token.

use troupe_domain::DomainEvent;

use crate::handlers::HandlerResult;
use crate::handlers::common::{code, outcome, require_admin};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `Denied` (`Administrator`) for others; otherwise `Success` with `ExpiredTokensPurged`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if let Some(denied) = require_admin(deps, request) {
        return Ok(denied);
    }
    let count = deps.auth.delete_expired_tokens(deps.clock.now()).await?;
    Ok(outcome(
        OutcomeClass::Success,
        "Expired tokens deleted",
        format!("Deleted {} expired tokens.", code(count.to_string())),
    )
    .with_event(DomainEvent::ExpiredTokensPurged { count }))
}
