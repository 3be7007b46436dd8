//! `help`, rendered from the catalog. Both command systems (new and legacy) call [`render`], so
//! their help replies are identical by construction.
//!
//! Key facts follow ADR 0002: command names, aliases, usages, option names, choices and examples
//! are in `code` spans; nothing is bold.

use std::fmt::Write as _;
use std::sync::OnceLock;

use troupe_ports::EmbedField;

use crate::catalog::{self, CommandSpec, HelpGroup};
use crate::command::CommandName;
use crate::model::{Invoker, OutcomeClass, Reply, colour};

/// Who asks for help: decides whether the `Admin` and `Owner` groups are shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelpAudience {
    /// The caller has the Administrator permission in this guild (false in DMs).
    pub is_admin: bool,
    /// The caller is a configured bot owner.
    pub is_bot_owner: bool,
}

impl HelpAudience {
    /// The audience of `invoker`.
    pub fn of(invoker: &Invoker) -> Self {
        Self {
            is_admin: invoker.permissions.administrator,
            is_bot_owner: invoker.is_bot_owner,
        }
    }

    /// Whether this audience sees `group`: `Admin` for administrators and bot owners, `Owner`
    /// for bot owners, the rest for everyone.
    pub fn sees(self, group: HelpGroup) -> bool {
        match group {
            HelpGroup::Admin => self.is_admin || self.is_bot_owner,
            HelpGroup::Owner => self.is_bot_owner,
            _ => true,
        }
    }
}

/// Longest user-typed name echoed back in a reply, in characters.
const MAX_ECHO_CHARS: usize = 50;

/// The help reply for `query` (`None` or blank: the overview; otherwise a command name or alias,
/// case-insensitive, an optional leading `/` allowed), shown to `audience`, with usages and
/// examples written with `prefix`.
///
/// | query | class | reply |
/// |---|---|---|
/// | none | `Success` | one field per group the audience sees (`Personality`, `Conversation`, `Authentication`, `Utility`, `Admin`, `Owner`), one line per command: name and aliases in code spans, description |
/// | name or alias | `Success` | fields `Usage`, `Aliases`, `Options`, `Examples` |
/// | unknown | `NotFound` | the name in a code span |
/// | command of a group the audience does not see | `Denied` | the name in a code span |
pub fn render(query: Option<&str>, audience: HelpAudience, prefix: &str) -> (OutcomeClass, Reply) {
    let prefix = prefix.trim();
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let Some(query) = query else {
        return (OutcomeClass::Success, overview(audience, prefix));
    };
    let name = query.strip_prefix('/').unwrap_or(query);
    match catalog::find(name) {
        None => (OutcomeClass::NotFound, unknown(query, prefix)),
        Some(spec) if !audience.sees(spec.help_group) => (OutcomeClass::Denied, restricted(spec)),
        Some(spec) => (OutcomeClass::Success, detail(spec, prefix)),
    }
}

/// The overview line of one command: `` `name` (`alias`, …) — description ``.
pub fn line(spec: &CommandSpec) -> String {
    let mut line = format!("`{}`", spec.name);
    if !spec.aliases.is_empty() {
        let _ = write!(line, " ({})", code_list(spec.aliases));
    }
    let _ = write!(line, " — {}", spec.description);
    line
}

/// Each group's overview field value (its commands' [`line`]s), in [`HelpGroup::ALL`]'s order:
/// the catalog is static, so they are written once per process, not per `help`.
fn group_lines() -> &'static [String; HelpGroup::ALL.len()] {
    static LINES: OnceLock<[String; HelpGroup::ALL.len()]> = OnceLock::new();
    LINES.get_or_init(|| {
        HelpGroup::ALL.map(|group| {
            catalog::all()
                .iter()
                .filter(|spec| spec.help_group == group)
                .map(line)
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
}

fn overview(audience: HelpAudience, prefix: &str) -> Reply {
    let fields = HelpGroup::ALL
        .into_iter()
        .zip(group_lines())
        .filter(|(group, _)| audience.sees(*group))
        .map(|(group, lines)| EmbedField {
            name: group.title().to_owned(),
            value: lines.clone(),
            inline: false,
        })
        .collect();
    Reply {
        title: Some("Troupe commands".into()),
        text: format!(
            "Run `{prefix} {help} <command>` for usage, options and examples. Every command is also a slash command.",
            help = CommandName::Help
        ),
        fields,
        colour: colour::INFO,
        ..Reply::default()
    }
}

fn detail(spec: &CommandSpec, prefix: &str) -> Reply {
    let aliases = if spec.aliases.is_empty() {
        "none".to_owned()
    } else {
        code_list(spec.aliases)
    };
    let options = if spec.options.is_empty() {
        "none".to_owned()
    } else {
        spec.options
            .iter()
            .map(|o| {
                let mut line = format!(
                    "`{}` — {}, {}: {}",
                    o.name,
                    if o.required { "required" } else { "optional" },
                    o.kind.as_str(),
                    o.description
                );
                if !o.choices.is_empty() {
                    let _ = write!(line, " (one of {})", code_list(o.choices));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let examples = spec
        .examples
        .iter()
        .map(|e| format!("`{prefix} {e}`"))
        .collect::<Vec<_>>()
        .join("\n");
    let field = |name: &str, value: String| EmbedField {
        name: name.to_owned(),
        value,
        inline: false,
    };
    Reply {
        title: Some(format!("Help: {}", spec.name)),
        text: format!(
            "{} Who may run it: {}. Where: {}. Also available as the slash command /{}.",
            spec.description,
            spec.access.describe(),
            spec.place.describe(),
            spec.name
        ),
        fields: vec![
            field("Usage", format!("`{prefix} {}`", spec.usage)),
            field("Aliases", aliases),
            field("Options", options),
            field("Examples", examples),
        ],
        colour: colour::INFO,
        ..Reply::default()
    }
}

fn unknown(query: &str, prefix: &str) -> Reply {
    Reply {
        title: Some("Unknown command".into()),
        text: format!(
            "There is no command `{}`. Run `{prefix} {}` to see every command.",
            echo(query),
            CommandName::Help
        ),
        colour: colour::WARNING,
        ..Reply::default()
    }
}

fn restricted(spec: &CommandSpec) -> Reply {
    Reply {
        title: Some("Restricted command".into()),
        text: format!(
            "`{}` is restricted to {}.",
            spec.name,
            spec.access.describe()
        ),
        colour: colour::ERROR,
        ..Reply::default()
    }
}

/// `` `a`, `b` ``.
fn code_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// User text made safe for a code span: no backticks or line breaks, at most
/// [`MAX_ECHO_CHARS`] characters.
fn echo(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(MAX_ECHO_CHARS)
        .collect();
    if raw.chars().count() > MAX_ECHO_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_names_cannot_break_out_of_their_code_span() {
        assert_eq!(echo("a`b\nc"), "a'b c");
        assert_eq!(echo(&"x".repeat(60)), format!("{}…", "x".repeat(50)));
    }
}
