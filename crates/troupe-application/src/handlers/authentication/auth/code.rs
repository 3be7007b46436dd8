//! `auth code <code>`: exchanges an authorization code for a token (DM only; the place check is
//! in `auth`).

use troupe_domain::DomainEvent;
use troupe_domain::auth::{UserAuth, strip_spoiler};
use troupe_ports::AuthProviderError;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, code as code_span, outcome};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `InvalidInput` without a code or for a refused one, `Info` without a provider, otherwise
/// stores the token (`TokenStored`) and says when it expires. The code is never logged.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let raw = request.args.words.get(1..).unwrap_or_default().join(" ");
    let code = strip_spoiler(&raw);
    if code.is_empty() {
        return Ok(outcome(
            OutcomeClass::InvalidInput,
            "Which code?",
            format!(
                "Send the code you received: {} auth code <code>",
                deps.config.prefix
            ),
        ));
    }
    let Some(provider) = &deps.auth_provider else {
        return Ok(outcome(
            OutcomeClass::Info,
            "No authentication needed",
            "This bot uses a shared key for the AI provider; there is no code to send.",
        ));
    };
    let issued = match provider.exchange_code(code).await {
        Ok(issued) => issued,
        Err(AuthProviderError::InvalidCode) => {
            return Ok(outcome(
                OutcomeClass::InvalidInput,
                "Invalid or expired code",
                "The provider refused this code. Codes work once and expire quickly: run auth start for a new link.",
            )
            .ephemeral());
        }
        Err(other) => return Err(other.into()),
    };
    let user = request.invoker.id;
    let now = deps.clock.now();
    let ttl = issued.expires_in.unwrap_or(deps.config.token_ttl);
    let auth = UserAuth::issue(user, issued.token, now, ttl);
    deps.auth.save_token(&auth).await?;
    Ok(outcome(
        OutcomeClass::Success,
        "Authenticated",
        format!(
            "You are authenticated. Your token expires in {}.",
            code_span(format!("{} days", auth.days_left(now)))
        ),
    )
    .ephemeral()
    .with_event(DomainEvent::TokenStored { user }))
}
