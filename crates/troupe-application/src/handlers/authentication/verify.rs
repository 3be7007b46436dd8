//! `verify`: records that the caller is age-verified (persisted).

use troupe_domain::DomainEvent;
use troupe_domain::auth::AgeVerification;

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, code, outcome};
use crate::{CommandRequest, Deps, Location, OutcomeClass};

/// At most this many age-restricted channels are listed.
const MAX_LISTED: usize = 5;

/// All replies are ephemeral: `Denied` in a DM, `Info` when already verified, `Success` in an
/// age-restricted channel or when the caller can see one in this guild (listing up to five),
/// `Denied` with how to verify otherwise.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let Location::Guild {
        age_restricted,
        visible_age_restricted,
        ..
    } = &request.location
    else {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Server only",
            "Run verify in a server channel marked age-restricted.",
        )
        .ephemeral());
    };
    let user = request.invoker.id;
    if deps.auth.verification(user).await?.is_some() {
        return Ok(outcome(
            OutcomeClass::Info,
            "Already verified",
            "You are already age-verified.",
        )
        .ephemeral());
    }
    let text = if *age_restricted {
        "You are now age-verified: personalities may talk to you in DMs and age-restricted channels.".to_owned()
    } else if !visible_age_restricted.is_empty() {
        let channels: Vec<String> = visible_age_restricted
            .iter()
            .take(MAX_LISTED)
            .map(|(channel, _)| code(format!("<#{channel}>")))
            .collect();
        format!(
            "You are now age-verified: you can see age-restricted channels here, such as {}.",
            channels.join(", ")
        )
    } else {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Cannot verify here",
            "Run verify in a channel marked age-restricted (channel settings → Age-Restricted Channel). This server has none that you can see.",
        )
        .ephemeral());
    };
    deps.auth
        .save_verification(&AgeVerification {
            user,
            verified_at: deps.clock.now(),
        })
        .await?;
    Ok(outcome(OutcomeClass::Success, "Verified", text)
        .ephemeral()
        .with_event(DomainEvent::UserVerified { user }))
}
