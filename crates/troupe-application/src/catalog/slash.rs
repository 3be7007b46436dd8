//! Slash-command definitions generated from the catalog, as plain data the Discord adapter turns
//! into Discord's format, and the conversion of a slash invocation into [`Arguments`].
//!
//! **One top-level slash command per command name** (`/ping`, `/add`, `/info` …), not one `/tz`
//! command with subcommands: Discord users expect to type the command itself and see its options
//! straight away, each command gets its own description and option hints in Discord's picker,
//! and 18 commands are far below Discord's limit of 100 global commands. Aliases are not slash
//! commands (they would only clutter the picker); they resolve in the prefix parser.
//!
//! [`arguments`] gives exactly the [`Arguments`] the prefix parser gives for the same input, so
//! handlers never know which way a command came in.

use crate::catalog::{self, Access, OptionKind, Place, Slot};
use crate::command::CommandName;
use crate::model::Arguments;

/// One slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// 1–32 lower-case characters; the command's canonical name.
    pub name: &'static str,
    /// 1–100 characters.
    pub description: &'static str,
    /// Required options first.
    pub options: Vec<SlashOption>,
    /// Where the command may run (the adapter may map it to Discord's contexts).
    pub place: Place,
    /// Who may run it (enforced by the handlers; informational for the adapter).
    pub access: Access,
}

/// One option of a slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashOption {
    /// 1–32 lower-case characters.
    pub name: &'static str,
    /// 1–100 characters.
    pub description: &'static str,
    pub kind: OptionKind,
    pub required: bool,
    /// The only accepted values (empty: free value).
    pub choices: Vec<&'static str>,
}

/// The slash commands, one per catalog entry, in catalog order.
pub fn definitions() -> Vec<SlashCommand> {
    catalog::all()
        .iter()
        .map(|spec| SlashCommand {
            name: spec.name.as_str(),
            description: spec.description,
            options: spec
                .options
                .iter()
                .map(|o| SlashOption {
                    name: o.name,
                    description: o.description,
                    kind: o.kind,
                    required: o.required,
                    choices: o.choices.to_vec(),
                })
                .collect(),
            place: spec.place,
            access: spec.access,
        })
        .collect()
}

/// The [`Arguments`] of a slash invocation of `command` with the given `(option name, value)`
/// pairs — exactly what the prefix parser gives for the equivalent prefix command.
///
/// Options are taken in catalog order, whatever the order of `values`: a [`Slot::Word`] value
/// becomes one word (as a quoted prefix argument would), a [`Slot::Rest`] value is split on
/// whitespace (as unquoted prefix words are), a [`Slot::Tail`] value becomes the tail and a
/// [`Slot::Named`] value goes into `options`. Values are trimmed; an empty value counts as
/// absent. An absent optional word does not leave a gap: later words move up, as they would in a
/// prefix command. Names the catalog does not know are ignored (Discord only sends the options
/// we registered); when a name repeats, the first value counts.
pub fn arguments(command: CommandName, values: &[(&str, &str)]) -> Arguments {
    let mut args = Arguments::default();
    for option in catalog::spec(command).options {
        let Some(value) = values
            .iter()
            .find(|(name, _)| *name == option.name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
        else {
            continue;
        };
        match option.slot {
            Slot::Word => args.words.push(value.to_owned()),
            Slot::Rest => args
                .words
                .extend(value.split_whitespace().map(str::to_owned)),
            Slot::Tail => args.tail = Some(value.to_owned()),
            Slot::Named => {
                args.options
                    .insert(option.name.to_owned(), value.to_owned());
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_options_map_onto_words_tail_and_named_options() {
        let args = arguments(
            CommandName::Add,
            &[
                ("prompt", " You are Einstein. "),
                ("model", "gpt-4o"),
                ("alias", "albert e"),
                ("name", "einstein"),
                ("avatar", ""),
            ],
        );
        assert_eq!(args.words, ["einstein", "albert e"]);
        assert_eq!(args.tail.as_deref(), Some("You are Einstein."));
        assert_eq!(args.options.len(), 1);
        assert_eq!(args.options["model"], "gpt-4o");
    }

    #[test]
    fn a_rest_value_splits_into_words_like_unquoted_prefix_words() {
        let args = arguments(CommandName::Info, &[("personality", "  angel   dust ")]);
        assert_eq!(args.words, ["angel", "dust"]);
        assert_eq!(args.joined(), "angel dust");
    }

    #[test]
    fn unknown_option_names_are_ignored() {
        let args = arguments(CommandName::Ping, &[("foo", "bar")]);
        assert_eq!(args, Arguments::default());
    }
}
