//! The catalog proof: the slash-command definitions and the prefix parser cover exactly the same
//! commands, aliases and options, and `help` lists every command. If either side drifts from the
//! catalog (a command, alias or option added to one only, a slot handled differently), a test
//! here fails.

use std::collections::BTreeSet;

use proptest::prelude::*;
use troupe_application::catalog::help::{HelpAudience, render};
use troupe_application::catalog::slash::{self, SlashCommand};
use troupe_application::catalog::{self, Slot};
use troupe_application::parser::{Parsed, parse};
use troupe_application::{Arguments, CommandName};

const PREFIX: &str = "!tz";

fn parsed_args(content: &str) -> (CommandName, Arguments) {
    match parse(content, PREFIX) {
        Parsed::Command { command, args, .. } => (command, args),
        other => panic!("{content:?} parsed as {other:?}"),
    }
}

fn definition(command: CommandName) -> SlashCommand {
    slash::definitions()
        .into_iter()
        .find(|d| d.name == command.as_str())
        .unwrap_or_else(|| panic!("slash command {command}"))
}

#[test]
fn slash_commands_and_parser_commands_are_the_same_set() {
    let slash: BTreeSet<&str> = slash::definitions().iter().map(|d| d.name).collect();
    let parser: BTreeSet<&str> = CommandName::ALL
        .into_iter()
        .map(|c| parsed_args(&format!("!tz {c}")).0.as_str())
        .collect();
    assert_eq!(slash, parser);
    assert_eq!(slash.len(), CommandName::ALL.len());
}

#[test]
fn the_parser_resolves_exactly_the_catalog_aliases() {
    for spec in catalog::all() {
        for alias in spec.aliases {
            assert_eq!(parsed_args(&format!("!tz {alias}")).0, spec.name, "{alias}");
        }
    }
    // Any other word is unknown: the names and aliases are all there is.
    let known: BTreeSet<&str> = catalog::all()
        .iter()
        .flat_map(|s| std::iter::once(s.name.as_str()).chain(s.aliases.iter().copied()))
        .collect();
    for word in ["pong", "stat", "helps", "alia", "lists", "deactivat", "nsf"] {
        assert!(!known.contains(word));
        assert!(
            matches!(
                parse(&format!("!tz {word}"), PREFIX),
                Parsed::Unknown { .. }
            ),
            "{word}"
        );
    }
}

#[test]
fn the_parser_splits_a_tail_exactly_for_commands_with_a_tail_slash_option() {
    for command in CommandName::ALL {
        let has_tail_option = catalog::spec(command).options.iter().any(|o| {
            o.slot == Slot::Tail && definition(command).options.iter().any(|s| s.name == o.name)
        });
        let (_, args) = parsed_args(&format!("!tz {command} x | y z"));
        assert_eq!(args.tail.is_some(), has_tail_option, "{command}");
    }
}

#[test]
fn the_parser_reads_named_options_exactly_for_named_slash_options() {
    for command in CommandName::ALL {
        let spec = catalog::spec(command);
        for option in definition(command).options {
            let (_, args) = parsed_args(&format!("!tz {command} {}:value", option.name));
            let named = spec.option(option.name).map(|o| o.slot) == Some(Slot::Named);
            assert_eq!(
                args.options.contains_key(option.name),
                named,
                "{command} {}",
                option.name
            );
            assert_eq!(
                args.options.len(),
                usize::from(named),
                "{command} {}",
                option.name
            );
        }
    }
}

#[test]
fn help_lists_every_command_of_the_catalog() {
    let all = HelpAudience {
        is_admin: true,
        is_bot_owner: true,
    };
    let (_, reply) = render(None, all, PREFIX);
    let listed: BTreeSet<String> = reply
        .fields
        .iter()
        .flat_map(|f| f.value.lines())
        .filter_map(|l| l.strip_prefix('`')?.split('`').next().map(str::to_owned))
        .collect();
    let catalog: BTreeSet<String> = catalog::all().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(listed, catalog);
}

/// Renders the prefix command equivalent to a slash invocation, from the catalog's slots.
fn prefix_form(command: CommandName, values: &[(&'static str, String)]) -> String {
    let spec = catalog::spec(command);
    let mut content = format!("{PREFIX} {command}");
    let mut tail = None;
    for option in spec.options {
        let Some((_, value)) = values.iter().find(|(name, _)| *name == option.name) else {
            continue;
        };
        match option.slot {
            Slot::Word => content.push_str(&format!(" \"{value}\"")),
            Slot::Rest => content.push_str(&format!(" {value}")),
            Slot::Named => content.push_str(&format!(" {}:\"{value}\"", option.name)),
            Slot::Tail => tail = Some(value.clone()),
        }
    }
    if let Some(tail) = tail {
        content.push_str(&format!(" | {tail}"));
    }
    content
}

/// A slash invocation: a command and values for a random subset of its options. Values have
/// no double quotes (a prefix argument cannot contain its own quote); tails may hold anything.
fn invocation() -> impl Strategy<Value = (CommandName, Vec<(&'static str, String)>)> {
    (0..CommandName::ALL.len()).prop_flat_map(|i| {
        let command = CommandName::ALL[i];
        let options = catalog::spec(command).options;
        let values: Vec<_> = options
            .iter()
            .map(|o| {
                let value = if o.slot == Slot::Tail {
                    "[^\\s][^\u{0}]{0,60}[^\\s]".boxed()
                } else {
                    "[A-Za-z0-9é🦀|:.#<>@_-]{1,10}( [A-Za-z0-9é🦀|:.#<>@_-]{1,10}){0,3}".boxed()
                };
                prop::option::of(value).prop_map(move |v| v.map(|v| (o.name, v)))
            })
            .collect();
        (Just(command), values).prop_map(|(command, values)| {
            (command, values.into_iter().flatten().collect::<Vec<_>>())
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_slash_invocation_and_its_prefix_form_give_the_same_arguments(
        (command, values) in invocation()
    ) {
        let content = prefix_form(command, &values);
        let pairs: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (parsed_command, parsed) = parsed_args(&content);
        prop_assert_eq!(parsed_command, command);
        prop_assert_eq!(parsed, slash::arguments(command, &pairs), "{}", content);
    }
}
