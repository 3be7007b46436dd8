//! Authentication commands: auth (start, code, status, revoke, cleanup) and verify.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use troupe_application::{CommandRequest, Deps, FollowUp, Location, OutcomeClass};
use troupe_domain::auth::{AgeVerification, PendingAuthorization, UserAuth, strip_spoiler};
use troupe_domain::time::humanize;
use troupe_domain::{DomainEvent, Timestamp};
use troupe_ports::{AuthProviderError, OutgoingMessage, PlatformError};

use crate::support::{Compose, Res, code, is_admin_or_bot_owner, prefix, respond, subcommand};

/// How many age-restricted channels `verify` lists.
const LISTED_CHANNELS: usize = 5;

pub(crate) async fn auth(deps: &Deps, request: &CommandRequest) -> Res {
    let sub = subcommand(request);
    let sub_key = sub.as_ref().map(|(key, _)| key.as_str());
    let invoker = &request.invoker;

    // Place first: a code posted in a server is never used, and the message goes away.
    if sub_key == Some("code") && !request.location.is_dm() {
        return Ok(respond(
            OutcomeClass::Denied,
            "Send codes by DM",
            "Authorization codes must be sent to the bot in a direct message, never in a server channel. This message will be deleted if the bot can; start again with auth start if the code may have been seen.",
        )
        .with_follow_up(FollowUp::DeleteInvokingMessage));
    }
    if invoker.via_proxy {
        return Ok(respond(
            OutcomeClass::Denied,
            "Not through a proxy",
            "Authentication cannot be run through a proxy system such as PluralKit or Tupperbox. Run it from your own account.",
        ));
    }
    let may_clean_up = is_admin_or_bot_owner(deps, request);
    match sub_key {
        None => {
            let mut names = vec!["start", "code", "status", "revoke"];
            if may_clean_up {
                names.push("cleanup");
            }
            let list = names.into_iter().map(code).collect::<Vec<_>>().join(", ");
            Ok(respond(
                OutcomeClass::Info,
                "Authentication",
                format!(
                    "Subcommands: {list}. Start with {} auth start to connect your account.",
                    prefix(deps)
                ),
            ))
        }
        Some("start") => auth_start(deps, request).await,
        Some("code") => auth_code(deps, request).await,
        Some("status") => auth_status(deps, request).await,
        Some("revoke") => {
            let user = invoker.id;
            let existed = deps.auth.delete_token(user).await?;
            let outcome = respond(
                OutcomeClass::Success,
                "Token revoked",
                "Your authorization was removed. Run auth start to connect again.",
            )
            .private();
            Ok(if existed {
                outcome.with_event(DomainEvent::TokenRevoked { user })
            } else {
                outcome
            })
        }
        Some("cleanup") => {
            if !may_clean_up {
                return Ok(respond(
                    OutcomeClass::Denied,
                    "Not allowed",
                    format!(
                        "auth cleanup needs the {} permission (or bot owner rights).",
                        code("Administrator")
                    ),
                ));
            }
            let count = deps.auth.delete_expired_tokens(deps.clock.now()).await?;
            Ok(respond(
                OutcomeClass::Success,
                "Expired tokens deleted",
                format!("Deleted {} expired tokens.", code(&count.to_string())),
            )
            .with_event(DomainEvent::ExpiredTokensPurged { count }))
        }
        Some(_) => {
            let typed = sub.as_ref().map_or("", |(_, typed)| *typed);
            Ok(respond(
                OutcomeClass::InvalidInput,
                "Unknown subcommand",
                format!(
                    "{} is not an auth subcommand. Run auth without arguments to list them.",
                    code(typed)
                ),
            ))
        }
    }
}

/// An unguessable OAuth `state`: 128 bits from the standard library's randomly keyed hasher.
fn new_state(now: Timestamp) -> String {
    let mut state = String::with_capacity(32);
    for round in 0..2_u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_i64(now.as_millis());
        hasher.write_u8(round);
        let _ = write!(state, "{:016x}", hasher.finish());
    }
    state
}

async fn auth_start(deps: &Deps, request: &CommandRequest) -> Res {
    let Some(provider) = deps.auth_provider.as_ref() else {
        return Ok(respond(
            OutcomeClass::Info,
            "No sign-in needed",
            "This bot uses a shared AI key, so there is nothing to authorize.",
        ));
    };
    let user = request.invoker.id;
    let now = deps.clock.now();
    let state = new_state(now);
    deps.auth
        .save_pending(&PendingAuthorization::new(state.clone(), user, now))
        .await?;
    let link = provider.authorize_url(&state);
    let event = DomainEvent::AuthorizationStarted { user };
    let how_to_finish = format!(
        "Open the link, authorize Troupe, then send the code you get to the bot in a DM: {} auth code <code>.",
        prefix(deps)
    );

    if request.location.is_dm() {
        return Ok(
            respond(OutcomeClass::Success, "Authorize Troupe", how_to_finish)
                .field("Authorization link", link)
                .private()
                .with_event(event),
        );
    }

    let dm = OutgoingMessage::text(format!(
        "Your personal authorization link: {link}\n{how_to_finish}"
    ));
    match deps.platform.send_dm(user, dm).await {
        Ok(_) => Ok(respond(
            OutcomeClass::Success,
            "Check your DMs",
            "I sent you a personal authorization link by DM.",
        )
        .private()
        .with_event(event)),
        Err(PlatformError::DmClosed) => Ok(respond(
            OutcomeClass::Info,
            "Your DMs are closed",
            "I could not DM you the link. Allow direct messages from server members (Privacy Settings of this server), then run auth start again, or run it in a DM with the bot.",
        )
        .private()
        .with_event(event)),
        Err(other) => Err(other.into()),
    }
}

async fn auth_code(deps: &Deps, request: &CommandRequest) -> Res {
    // Everything after `code` is the pasted code (`|| abc ||` arrives as three words).
    let raw = request.args.words.get(1..).unwrap_or_default().join(" ");
    let code_text = strip_spoiler(&raw);
    if code_text.is_empty() {
        return Ok(respond(
            OutcomeClass::InvalidInput,
            "Code missing",
            format!(
                "Send the code you got after authorizing: {} auth code <code>.",
                prefix(deps)
            ),
        ));
    }
    let Some(provider) = deps.auth_provider.as_ref() else {
        return Ok(respond(
            OutcomeClass::Info,
            "No sign-in needed",
            "This bot uses a shared AI key, so there is no code to exchange.",
        ));
    };
    let issued = match provider.exchange_code(code_text).await {
        Ok(issued) => issued,
        Err(AuthProviderError::InvalidCode) => {
            return Ok(respond(
                OutcomeClass::InvalidInput,
                "Invalid or expired code",
                "That code is invalid or expired. Run auth start for a new link.",
            )
            .private());
        }
        Err(other) => return Err(other.into()),
    };
    let user = request.invoker.id;
    let now = deps.clock.now();
    let ttl = issued.expires_in.unwrap_or(deps.config.token_ttl);
    let auth = UserAuth::issue(user, issued.token, now, ttl);
    deps.auth.save_token(&auth).await?;
    let days = auth.days_left(now);
    Ok(respond(
        OutcomeClass::Success,
        "Authorized",
        format!(
            "You are authorized. Your token expires in {}.",
            code(&format!("{days} days"))
        ),
    )
    .private()
    .with_event(DomainEvent::TokenStored { user }))
}

async fn auth_status(deps: &Deps, request: &CommandRequest) -> Res {
    let now = deps.clock.now();
    let token = deps.auth.token(request.invoker.id).await?;
    let outcome = match token {
        None => respond(
            OutcomeClass::Success,
            "Authentication status",
            "You are not authenticated. Run auth start to connect your account.",
        )
        .field("Authenticated", "no"),
        Some(auth) if auth.is_expired(now) => respond(
            OutcomeClass::Success,
            "Authentication status",
            "Your token has expired. Run auth start to connect again.",
        )
        .field("Authenticated", "expired"),
        Some(auth) => {
            let mut text = "You are authenticated.".to_owned();
            if auth.needs_renewal_warning(now) {
                text.push_str(
                    " Warning: your token expires in less than 7 days; run auth start to renew it.",
                );
            }
            respond(OutcomeClass::Success, "Authentication status", text)
                .field("Authenticated", "yes")
                .field("Token age", humanize(auth.age(now)))
                .field("Days left", auth.days_left(now).to_string())
        }
    };
    Ok(outcome.private())
}

pub(crate) async fn verify(deps: &Deps, request: &CommandRequest) -> Res {
    let Location::Guild {
        age_restricted,
        visible_age_restricted,
        ..
    } = &request.location
    else {
        return Ok(respond(
            OutcomeClass::Denied,
            "Run it in a server",
            "Age verification must be run in a server channel marked age-restricted.",
        )
        .private());
    };
    let user = request.invoker.id;
    if deps.auth.verification(user).await?.is_some() {
        return Ok(respond(
            OutcomeClass::Info,
            "Already verified",
            "You are already age-verified.",
        )
        .private());
    }
    let verification = AgeVerification {
        user,
        verified_at: deps.clock.now(),
    };
    if *age_restricted {
        deps.auth.save_verification(&verification).await?;
        return Ok(respond(
            OutcomeClass::Success,
            "Verified",
            "You are now age-verified: personalities can talk to you.",
        )
        .private()
        .with_event(DomainEvent::UserVerified { user }));
    }
    if !visible_age_restricted.is_empty() {
        deps.auth.save_verification(&verification).await?;
        let channels = visible_age_restricted
            .iter()
            .take(LISTED_CHANNELS)
            .map(|(channel, _)| code(&format!("<#{channel}>")))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(respond(
            OutcomeClass::Success,
            "Verified",
            format!(
                "You are now age-verified, as you can see age-restricted channels here: {channels}."
            ),
        )
        .private()
        .with_event(DomainEvent::UserVerified { user }));
    }
    Ok(respond(
        OutcomeClass::Denied,
        "Cannot verify here",
        "To verify, run this command in a channel marked age-restricted (channel settings: Age-Restricted Channel), or ask a moderator for access to one.",
    )
    .private())
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_domain::auth::AccessToken;

    #[test]
    fn oauth_states_are_long_and_never_repeat() {
        let now = Timestamp::from_millis(5);
        let a = new_state(now);
        let b = new_state(now);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn an_access_token_is_never_part_of_a_failure_log_line() {
        let secret = AccessToken::parse("top-secret").unwrap();
        let failure = crate::support::Failure::AuthProvider(AuthProviderError::Unexpected(
            format!("provider echoed {}", secret.expose()),
        ));
        assert!(!failure.to_string().contains("top-secret"));
    }
}
