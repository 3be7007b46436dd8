//! Small helpers every command file uses: the failure type, reply building and the markdown
//! rules of ADR 0002 (names in `**bold**`, values in `` `code` ``, nothing else marked).

use std::fmt;

use troupe_application::model::colour;
use troupe_application::{CommandOutcome, CommandRequest, OutcomeClass, Reply};
use troupe_domain::personality::Personality;
use troupe_ports::{
    AuthProviderError, EmbedField, PlatformError, ProfileError, StoreError, VolumeError,
};

use troupe_application::Deps;

/// A dependency failed: the command ends with an internal error and a logged reference.
#[derive(Debug)]
pub(crate) enum Failure {
    Store(StoreError),
    Profile(ProfileError),
    AuthProvider(AuthProviderError),
    Platform(PlatformError),
    Volume(VolumeError),
}

impl fmt::Display for Failure {
    /// What is logged. Never a secret: the provider's own error text (which might echo a code
    /// or a token) is reduced to its kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Profile(e) => write!(f, "profile source: {e}"),
            Self::AuthProvider(AuthProviderError::Unexpected(_)) => {
                f.write_str("authorization provider: unexpected error")
            }
            Self::AuthProvider(e) => write!(f, "authorization provider: {e}"),
            Self::Platform(e) => write!(f, "chat platform: {e}"),
            Self::Volume(e) => write!(f, "data volume: {e}"),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<ProfileError> for Failure {
    fn from(e: ProfileError) -> Self {
        Self::Profile(e)
    }
}

impl From<AuthProviderError> for Failure {
    fn from(e: AuthProviderError) -> Self {
        Self::AuthProvider(e)
    }
}

impl From<PlatformError> for Failure {
    fn from(e: PlatformError) -> Self {
        Self::Platform(e)
    }
}

impl From<VolumeError> for Failure {
    fn from(e: VolumeError) -> Self {
        Self::Volume(e)
    }
}

/// What every command function returns.
pub(crate) type Res = Result<CommandOutcome, Failure>;

/// An outcome with a titled reply; the colour follows the class.
pub(crate) fn respond(class: OutcomeClass, title: &str, text: impl Into<String>) -> CommandOutcome {
    let colour = match class {
        OutcomeClass::Success => colour::SUCCESS,
        OutcomeClass::Info | OutcomeClass::Ignored => colour::INFO,
        OutcomeClass::Denied | OutcomeClass::InvalidInput | OutcomeClass::Conflict => {
            colour::WARNING
        }
        OutcomeClass::NotFound | OutcomeClass::InternalError => colour::ERROR,
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

/// Builder-style additions to an outcome's reply.
pub(crate) trait Compose {
    /// Adds an embed field (values are compared whole by the shadow comparison).
    fn field(self, name: &str, value: impl Into<String>) -> Self;
    /// Marks the reply as visible to the invoker only.
    fn private(self) -> Self;
}

impl Compose for CommandOutcome {
    fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Some(reply) = self.reply.as_mut() {
            reply.fields.push(EmbedField {
                name: name.to_owned(),
                value: value.into(),
                inline: true,
            });
        }
        self
    }

    fn private(mut self) -> Self {
        if let Some(reply) = self.reply.as_mut() {
            reply.ephemeral = true;
        }
        self
    }
}

/// Longest piece of user input echoed back in a reply.
const ECHO_MAX: usize = 100;

/// `text` cut to [`ECHO_MAX`] characters, with an ellipsis when cut.
fn clip(text: &str) -> String {
    match text.char_indices().nth(ECHO_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A name as a key fact: `**name**`. Names are validated identifiers; any `*` is dropped anyway.
pub(crate) fn bold(name: &str) -> String {
    format!("**{}**", clip(&name.replace('*', "")))
}

/// A value as a key fact: `` `value` ``. Echoed input is made safe: backticks are dropped (a
/// code span cannot hold them), control characters become spaces, whitespace collapses, and
/// long input is clipped.
pub(crate) fn code(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter(|&c| c != '`')
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("`{}`", clip(&collapsed))
}

/// User-provided text outside a key fact: markdown characters escaped so that it can never
/// open a bold or code span, and long input clipped.
pub(crate) fn plain(text: &str) -> String {
    let mut out = String::new();
    for c in clip(text).chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '~' | '|' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The argument at `index`, if present.
pub(crate) fn word(request: &CommandRequest, index: usize) -> Option<&str> {
    request.args.words.get(index).map(String::as_str)
}

/// The first word, lower-cased (subcommands are matched case-insensitively), and as typed.
pub(crate) fn subcommand(request: &CommandRequest) -> Option<(String, &str)> {
    word(request, 0).map(|w| (w.trim().to_lowercase(), w))
}

/// All words joined by single spaces, trimmed: the personality argument of `activate`, `reset`,
/// `remove` and `info`. `None` when nothing is left.
pub(crate) fn rest(request: &CommandRequest) -> Option<String> {
    let joined = request
        .args
        .words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Whether the invoker is a bot owner: by the request, or by the configuration.
pub(crate) fn is_bot_owner(deps: &Deps, request: &CommandRequest) -> bool {
    request.invoker.is_bot_owner || deps.config.is_bot_owner(request.invoker.id)
}

/// Whether the invoker is a guild Administrator (never in DMs) or a bot owner.
pub(crate) fn is_admin_or_bot_owner(deps: &Deps, request: &CommandRequest) -> bool {
    (!request.location.is_dm() && request.invoker.permissions.administrator)
        || is_bot_owner(deps, request)
}

/// Finds a personality by name, alias or display name.
pub(crate) async fn find(deps: &Deps, query: &str) -> Result<Option<Personality>, Failure> {
    Ok(deps.personalities.lookup(query).await?)
}

/// `yes` / `no`.
pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `on` / `off`.
pub(crate) fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

/// The prefix for plain-text hints (`!tz`), escaped.
pub(crate) fn prefix(deps: &Deps) -> String {
    plain(&deps.config.prefix)
}

/// A personality's aliases as code spans separated by `, `, or `none`.
pub(crate) fn alias_list(personality: &Personality) -> String {
    if personality.aliases().is_empty() {
        "none".to_owned()
    } else {
        personality
            .aliases()
            .iter()
            .map(|a| code(a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_fact_helpers_never_let_input_break_out_of_its_span() {
        assert_eq!(code("a`b``c"), "`abc`");
        assert_eq!(code("new\nline\u{7}x"), "`new line x`");
        assert_eq!(bold("x**y"), "**xy**");
        assert_eq!(plain("**hi** `x`"), "\\*\\*hi\\*\\* \\`x\\`");
        let long = "é".repeat(4000);
        assert_eq!(code(&long).chars().count(), ECHO_MAX + 3);
        assert!(plain(&long).ends_with('…'));
    }
}
