//! What the bot says in the message flow when a personality does not answer normally: the DM
//! hint, refusals that say what to do, and AI errors with their reference id.

use troupe_ports::AiError;

use crate::model::ReferenceId;

/// A DM that matched nothing: how to start talking.
pub(super) fn dm_hint(prefix: &str, mention_char: char) -> String {
    format!(
        "To talk to a personality, mention it: `{mention_char}name hello`, or reply to one of its messages. \
         `{prefix} list` shows your personalities, `{prefix} add <name>` creates one, `{prefix} help` lists every command."
    )
}

/// Personalities answer only in age-restricted channels.
pub(super) fn age_restricted_channel() -> String {
    "Personalities only talk in age-restricted channels. Talk to them in a channel marked \
     age-restricted, or ask a moderator to mark this one (channel settings → Age-Restricted Channel)."
        .to_owned()
}

/// Personalities answer in DMs only to verified users.
pub(super) fn unverified_dm(prefix: &str) -> String {
    format!(
        "Personalities talk in direct messages only to age-verified users. Run `{prefix} verify` in an \
         age-restricted channel of a server we share (or talk to a personality there), then come back."
    )
}

/// The provider needs per-user authentication and the user has no token.
pub(super) fn not_authenticated(prefix: &str) -> String {
    format!(
        "You need to authenticate with the AI provider before talking to personalities: run `{prefix} auth start`."
    )
}

/// The user's token expired.
pub(super) fn auth_expired(prefix: &str) -> String {
    format!(
        "Your authentication with the AI provider has expired: run `{prefix} auth start` to renew it."
    )
}

/// Why the AI did not answer, in words for users (no internal details).
pub(super) fn ai_reason(error: &AiError, per_user_auth: bool, prefix: &str) -> String {
    match error {
        AiError::Timeout => "the AI provider took too long to answer".to_owned(),
        AiError::RateLimited { .. } => {
            "the AI provider is receiving too many requests; try again in a minute".to_owned()
        }
        AiError::Unavailable => "the AI provider is unavailable right now".to_owned(),
        AiError::Unauthorized if per_user_auth => format!(
            "the AI provider refused your authentication; run `{prefix} auth start` to renew it"
        ),
        AiError::Unauthorized => "the AI provider refused the bot's credentials".to_owned(),
        AiError::EmptyAnswer => "the AI provider gave an empty answer".to_owned(),
        AiError::Unexpected(_) => "the AI provider gave an answer Troupe cannot read".to_owned(),
    }
}

/// The clear bot message for a failed answer.
pub(super) fn ai_failed(display_name: &str, reason: &str, reference: ReferenceId) -> String {
    format!(
        "**{}** could not answer: {reason}. Please try again later; if it keeps happening, tell the bot operator the reference `{reference}`.",
        display_name.replace('*', "")
    )
}

/// The personality's own error message, with the reference.
pub(super) fn in_voice(error_message: &str, reference: ReferenceId) -> String {
    format!("{error_message} *(reference `{reference}`)*")
}

/// A dependency (store, platform) failed while answering.
pub(super) fn internal(reference: ReferenceId) -> String {
    format!(
        "Troupe could not answer this message. Please try again later; if it keeps happening, tell the bot operator the reference `{reference}`."
    )
}
