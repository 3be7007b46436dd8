//! Helpers shared by the handlers: reply builders that follow the key-fact marking of ADR 0002
//! (names in `**bold**`, values in `` `code` ``, nothing else marked), the usual checks
//! (place, permission) and small conversions.

use troupe_domain::personality::{Actor, Alias, Personality, PersonalityName};
use troupe_ports::EmbedField;

use crate::model::colour;
use crate::{CommandOutcome, CommandRequest, OutcomeClass, Reply};

/// Longest echo of user input inside a code span, in characters.
pub(crate) const ECHO_MAX_CHARS: usize = 100;

/// A name as a key fact: `**name**`. Asterisks inside are dropped so the span stays intact.
pub(crate) fn bold(name: impl AsRef<str>) -> String {
    format!("**{}**", name.as_ref().replace('*', ""))
}

/// A value as a key fact: `` `value` ``. Echoed user input is made safe: backticks are
/// dropped, control characters and line breaks become spaces, whitespace collapses, and
/// anything beyond [`ECHO_MAX_CHARS`] characters is cut and ends with `…`.
pub(crate) fn code(value: impl AsRef<str>) -> String {
    let cleaned: String = value
        .as_ref()
        .chars()
        .filter(|&c| c != '`')
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = match collapsed.char_indices().nth(ECHO_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    };
    format!("`{shown}`")
}

/// Free text shown unmarked (display names): Discord markdown characters are backslash-escaped
/// so a display name can never create bold or code of its own.
pub(crate) fn plain(text: impl AsRef<str>) -> String {
    let mut out = String::with_capacity(text.as_ref().len());
    for c in text.as_ref().chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '~' | '|' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Aliases as code spans separated by `, `, or `none`.
pub(crate) fn alias_list(aliases: &[Alias]) -> String {
    if aliases.is_empty() {
        "none".to_owned()
    } else {
        aliases
            .iter()
            .map(|a| code(a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `yes` / `no`.
pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `on` / `off`.
pub(crate) fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

/// An outcome with a titled reply; the colour follows the class.
pub(crate) fn outcome(class: OutcomeClass, title: &str, text: impl Into<String>) -> CommandOutcome {
    let colour = match class {
        OutcomeClass::Success => colour::SUCCESS,
        OutcomeClass::Info | OutcomeClass::Ignored => colour::INFO,
        OutcomeClass::InternalError => colour::ERROR,
        OutcomeClass::Denied
        | OutcomeClass::InvalidInput
        | OutcomeClass::NotFound
        | OutcomeClass::Conflict => colour::WARNING,
    };
    CommandOutcome::new(
        class,
        Reply {
            title: Some(title.to_owned()),
            text: text.into(),
            colour,
            ..Reply::default()
        },
    )
}

/// Builder steps on an outcome's reply.
pub(crate) trait ReplyExt {
    /// Appends an embed field.
    fn field(self, name: &str, value: impl Into<String>) -> Self;
    /// Marks the reply as visible to the invoker only.
    fn ephemeral(self) -> Self;
    /// Sets the reply's thumbnail.
    fn thumbnail(self, url: Option<String>) -> Self;
}

impl ReplyExt for CommandOutcome {
    fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Some(reply) = &mut self.reply {
            reply.fields.push(EmbedField {
                name: name.to_owned(),
                value: value.into(),
                inline: true,
            });
        }
        self
    }

    fn ephemeral(mut self) -> Self {
        if let Some(reply) = &mut self.reply {
            reply.ephemeral = true;
        }
        self
    }

    fn thumbnail(mut self, url: Option<String>) -> Self {
        if let Some(reply) = &mut self.reply {
            reply.thumbnail = url;
        }
        self
    }
}

/// The invoker as a personality actor (bot owner by request flag or configuration).
pub(crate) fn actor(deps: &crate::Deps, request: &CommandRequest) -> Actor {
    Actor {
        user: request.invoker.id,
        is_bot_owner: is_bot_owner(deps, request),
    }
}

/// Whether the invoker is a bot owner.
pub(crate) fn is_bot_owner(deps: &crate::Deps, request: &CommandRequest) -> bool {
    request.invoker.is_bot_owner || deps.config.is_bot_owner(request.invoker.id)
}

/// Whether the invoker is a guild Administrator (false in DMs) or a bot owner.
pub(crate) fn is_admin_or_bot_owner(deps: &crate::Deps, request: &CommandRequest) -> bool {
    (!request.location.is_dm() && request.invoker.permissions.administrator)
        || is_bot_owner(deps, request)
}

/// `Denied` unless the invoker is a guild Administrator or a bot owner.
pub(crate) fn require_admin(
    deps: &crate::Deps,
    request: &CommandRequest,
) -> Option<CommandOutcome> {
    (!is_admin_or_bot_owner(deps, request)).then(|| {
        outcome(
            OutcomeClass::Denied,
            "Not allowed",
            format!(
                "You need the {} permission in this server, or to be a bot owner.",
                code("Administrator")
            ),
        )
    })
}

/// `Denied` in a DM: the command works in server channels only.
pub(crate) fn require_guild(request: &CommandRequest) -> Option<CommandOutcome> {
    request.location.is_dm().then(|| {
        outcome(
            OutcomeClass::Denied,
            "Server only",
            "This command works in a server channel, not in direct messages.",
        )
    })
}

/// `Denied` unless the invoker may manage messages in this channel.
pub(crate) fn require_manage_messages(request: &CommandRequest) -> Option<CommandOutcome> {
    (!request.invoker.permissions.can_manage_messages()).then(|| {
        outcome(
            OutcomeClass::Denied,
            "Not allowed",
            format!(
                "You need the {} permission in this channel.",
                code("Manage Messages")
            ),
        )
    })
}

/// `InvalidInput` for a command that needs a personality and got none.
pub(crate) fn missing_personality(deps: &crate::Deps, usage: &str) -> CommandOutcome {
    outcome(
        OutcomeClass::InvalidInput,
        "Which personality?",
        format!(
            "Name a personality, for example: {} {usage}",
            deps.config.prefix
        ),
    )
}

/// `NotFound` for a personality query that matched nothing; the query is echoed.
pub(crate) fn personality_not_found(query: &str) -> CommandOutcome {
    outcome(
        OutcomeClass::NotFound,
        "Personality not found",
        format!(
            "No personality is named {} (by name, alias or display name).",
            code(query)
        ),
    )
}

/// `Denied`: only the owner of the personality or a bot owner may change it.
pub(crate) fn not_owner(personality: &Personality) -> CommandOutcome {
    outcome(
        OutcomeClass::Denied,
        "Not allowed",
        format!(
            "Only the owner of {} or a bot owner may change it.",
            bold(personality.name().as_str())
        ),
    )
}

/// The first word of the arguments, lower-cased (a subcommand), if any.
pub(crate) fn subcommand(request: &CommandRequest) -> Option<String> {
    request.args.first().map(str::to_lowercase)
}

/// `YYYY-MM-DD` of a timestamp.
pub(crate) fn date(at: troupe_domain::Timestamp) -> String {
    let (y, m, d) = at.date();
    format!("{y:04}-{m:02}-{d:02}")
}

/// Latency as shown by `ping` and `status`: `` `N ms` `` in whole milliseconds, at least 1
/// (commands.md: never 0), or `` `measuring` `` before the first heartbeat ack.
pub(crate) fn latency(deps: &crate::Deps) -> String {
    match deps.platform.status().latency {
        Some(latency) => code(format!("{} ms", latency.as_millis().max(1))),
        None => code("measuring"),
    }
}

/// The personality an alias would clash with: the one holding it, or the one whose name it
/// equals (aliases may not equal another personality's name).
pub(crate) async fn alias_holder(
    deps: &crate::Deps,
    alias: &Alias,
) -> Result<Option<PersonalityName>, troupe_ports::StoreError> {
    if let Some(holder) = deps.personalities.alias_owner(alias).await? {
        return Ok(Some(holder));
    }
    match PersonalityName::parse(alias.as_str()) {
        Ok(name) => Ok(deps
            .personalities
            .get(&name)
            .await?
            .map(|p| p.name().clone())),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_never_break_on_user_input() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b``c"), "`abc`");
        assert_eq!(code("new\nline\u{7}x"), "`new line x`");
        let long = code("x".repeat(4000));
        assert_eq!(long.chars().count(), ECHO_MAX_CHARS + 3);
        assert!(long.ends_with("…`"));
    }

    #[test]
    fn plain_text_escapes_discord_markdown() {
        assert_eq!(
            plain("**Bold** `x` _i_"),
            "\\*\\*Bold\\*\\* \\`x\\` \\_i\\_"
        );
        assert_eq!(plain("Ángel 🌸"), "Ángel 🌸");
    }

    #[test]
    fn bold_names_cannot_close_their_own_span() {
        assert_eq!(bold("a**b"), "**ab**");
    }
}
