//! `auth status`: whether the caller is authenticated, and for how long.

use troupe_domain::time::humanize;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, outcome};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Always `Success` (ephemeral): field `Authenticated` (`yes`/`no`/`expired`), and for a valid
/// token `Token age` and `Days left`, with a warning when fewer than 7 days are left.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let now = deps.clock.now();
    let result = match deps.auth.token(request.invoker.id).await? {
        None => outcome(
            OutcomeClass::Success,
            "Authentication",
            "You are not authenticated. Run auth start to connect your account.",
        )
        .field("Authenticated", "no"),
        Some(auth) if auth.is_expired(now) => outcome(
            OutcomeClass::Success,
            "Authentication",
            "Your token has expired. Run auth start to renew it.",
        )
        .field("Authenticated", "expired"),
        Some(auth) => {
            let text = if auth.needs_renewal_warning(now) {
                "Warning: your token expires in less than 7 days. Run auth start to renew it."
            } else {
                "You are authenticated."
            };
            outcome(OutcomeClass::Success, "Authentication", text)
                .field("Authenticated", "yes")
                .field("Token age", humanize(auth.age(now)))
                .field("Days left", auth.days_left(now).to_string())
        }
    };
    Ok(result.ephemeral())
}
