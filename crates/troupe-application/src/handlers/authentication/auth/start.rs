//! `auth start`: a personal authorization link (OAuth 2.0 authorization code, `state` bound to
//! the user), by DM when run in a guild.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use troupe_domain::auth::PendingAuthorization;
use troupe_domain::{DomainEvent, Timestamp, UserId};
use troupe_ports::{Embed, OutgoingMessage};

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, outcome};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `Info` without a provider; otherwise stores the pending state and gives the link: in the
/// reply in a DM, by DM from a guild (`Info` with how to open DMs when that fails).
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let Some(provider) = &deps.auth_provider else {
        return Ok(outcome(
            OutcomeClass::Info,
            "No authentication needed",
            "This bot uses a shared key for the AI provider; you do not need to authenticate.",
        ));
    };
    let user = request.invoker.id;
    let now = deps.clock.now();
    let state = new_state(user, now);
    deps.auth
        .save_pending(&PendingAuthorization::new(state.clone(), user, now))
        .await?;
    let url = provider.authorize_url(&state);
    let event = DomainEvent::AuthorizationStarted { user };

    if request.location.is_dm() {
        return Ok(outcome(
            OutcomeClass::Success,
            "Authorize Troupe",
            "Open the link, approve access, then send the code you receive here with auth code.",
        )
        .field("Authorization link", url)
        .ephemeral()
        .with_event(event));
    }
    let dm = OutgoingMessage {
        content: String::new(),
        embed: Some(Embed {
            title: "Authorize Troupe".into(),
            description: format!(
                "Open this link, approve access, then send the code you receive here with {} auth code <code>:\n{url}",
                deps.config.prefix
            ),
            ..Embed::default()
        }),
    };
    match deps.platform.send_dm(user, dm).await {
        Ok(_) => Ok(outcome(
            OutcomeClass::Success,
            "Check your DMs",
            "I sent you your personal authorization link in a direct message.",
        )
        .ephemeral()
        .with_event(event)),
        Err(error) => {
            tracing::info!(user = user.get(), %error, "authorization link DM failed");
            Ok(outcome(
                OutcomeClass::Info,
                "I could not DM you",
                "Your direct messages are closed. Allow direct messages from server members (Server name → Privacy Settings → Direct Messages), then run auth start again.",
            )
            .ephemeral()
            .with_event(event))
        }
    }
}

/// An unguessable `state`: 128 bits of SipHash output under the process's random hash keys,
/// over the user, the time and a per-call key.
fn new_state(user: UserId, now: Timestamp) -> String {
    let mut state = String::with_capacity(32);
    for round in 0_u8..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(user.get());
        hasher.write_i64(now.as_millis());
        hasher.write_u8(round);
        let _ = write!(state, "{:016x}", hasher.finish());
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_long_and_never_repeat() {
        let user = UserId::new(7).unwrap();
        let a = new_state(user, Timestamp::EPOCH);
        let b = new_state(user, Timestamp::EPOCH);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
