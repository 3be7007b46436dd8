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

/// Why the AI did not answer and what to do, in words for users (no internal details): one
/// short sentence pair per kind of failure, the advice never repeated.
pub(super) fn ai_reason(
    error: &AiError,
    per_user_auth: bool,
    prefix: &str,
    personality: &str,
) -> String {
    const LATER: &str = "Please try again in a moment";
    match error {
        AiError::Timeout => format!("the AI provider took too long to answer. {LATER}"),
        AiError::RateLimited { retry_after } => match retry_after {
            Some(wait) if wait.as_secs() > 0 && wait.as_secs() < 120 => format!(
                "the AI provider is receiving too many requests. Please try again in {} seconds",
                wait.as_secs()
            ),
            _ => "the AI provider is receiving too many requests. Please try again in a few minutes"
                .to_owned(),
        },
        AiError::Unavailable => format!("the AI provider is unavailable right now. {LATER}"),
        AiError::Unauthorized if per_user_auth => format!(
            "the AI provider refused your authentication. Run `{prefix} auth start` to renew it"
        ),
        AiError::Unauthorized => {
            "the AI provider refused the bot's credentials. The bot operator needs to fix the API key"
                .to_owned()
        }
        AiError::EmptyAnswer => format!("the AI provider gave an empty answer. {LATER}"),
        AiError::ContextTooLong => format!(
            "the conversation is too long for the model. Run `{prefix} reset {personality}` to start over"
        ),
        AiError::UnknownModel => {
            "the AI provider does not know this personality's model. The bot operator needs to configure a model it serves"
                .to_owned()
        }
        AiError::Rejected(status) => format!(
            "the AI provider refused the request (status {status}). Rephrasing may help; otherwise tell the bot operator"
        ),
        AiError::Unexpected(_) => format!("the AI provider gave an answer Troupe cannot read. {LATER}"),
    }
}

/// The clear bot message for a failed answer: the reason with its advice, then the reference.
pub(super) fn ai_failed(display_name: &str, reason: &str, reference: ReferenceId) -> String {
    format!(
        "**{}** could not answer: {reason}. If it keeps happening, tell the bot operator the reference `{reference}`.",
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
