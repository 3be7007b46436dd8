//! The slash-command definitions respect Discord's limits, and slash invocations convert to the
//! arguments handlers expect.

use std::collections::HashSet;

use troupe_application::catalog::slash::{self, SlashOption};
use troupe_application::{Arguments, CommandName};

fn is_discord_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_discord_description(text: &str) -> bool {
    (1..=100).contains(&text.chars().count())
}

#[test]
fn there_is_one_slash_command_per_command_name_and_none_per_alias() {
    let definitions = slash::definitions();
    let names: Vec<&str> = definitions.iter().map(|d| d.name).collect();
    let expected: Vec<&str> = CommandName::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names, expected);
    for command in CommandName::ALL {
        for alias in command.aliases() {
            assert!(!names.contains(alias), "alias {alias} is no slash command");
        }
    }
}

#[test]
fn names_and_descriptions_stay_within_discord_limits() {
    for command in slash::definitions() {
        assert!(is_discord_name(command.name), "{}", command.name);
        assert!(
            is_discord_description(command.description),
            "{}: {} characters",
            command.name,
            command.description.chars().count()
        );
        assert!(command.options.len() <= 25, "{}", command.name);
        let names: HashSet<&str> = command.options.iter().map(|o| o.name).collect();
        assert_eq!(names.len(), command.options.len(), "{}", command.name);
        for option in &command.options {
            assert!(
                is_discord_name(option.name),
                "{} {}",
                command.name,
                option.name
            );
            assert!(
                is_discord_description(option.description),
                "{} {}: {} characters",
                command.name,
                option.name,
                option.description.chars().count()
            );
            assert!(
                option.choices.len() <= 25,
                "{} {}",
                command.name,
                option.name
            );
            for choice in &option.choices {
                assert!(
                    (1..=100).contains(&choice.chars().count()),
                    "{} {} {choice}",
                    command.name,
                    option.name
                );
            }
        }
    }
}

#[test]
fn required_options_come_before_optional_ones() {
    for command in slash::definitions() {
        let required: Vec<bool> = command
            .options
            .iter()
            .map(|o: &SlashOption| o.required)
            .collect();
        assert!(
            required.windows(2).all(|w| w[0] || !w[1]),
            "{}: {required:?}",
            command.name
        );
    }
}

#[test]
fn slash_values_convert_to_the_arguments_of_the_prefix_form() {
    struct Case {
        command: CommandName,
        values: &'static [(&'static str, &'static str)],
        words: &'static [&'static str],
        tail: Option<&'static str>,
        options: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            command: CommandName::Add,
            values: &[("name", "einstein")],
            words: &["einstein"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::Add,
            values: &[
                ("avatar", "https://x.example/a.png"),
                ("prompt", "You are Einstein."),
                ("alias", "albert e"),
                ("name", "einstein"),
                ("model", " gpt-4o "),
            ],
            words: &["einstein", "albert e"],
            tail: Some("You are Einstein."),
            options: &[("avatar", "https://x.example/a.png"), ("model", "gpt-4o")],
        },
        Case {
            command: CommandName::Info,
            values: &[("personality", "angel dust")],
            words: &["angel", "dust"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::Alias,
            values: &[("alias", "the angel"), ("personality", "angel dust")],
            words: &["angel dust", "the", "angel"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::Notifications,
            values: &[("level", "major"), ("setting", "level")],
            words: &["level", "major"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::Auth,
            values: &[("subcommand", "code"), ("code", "||abc||")],
            words: &["code", "||abc||"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::List,
            values: &[("page", "2")],
            words: &["2"],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::List,
            values: &[("page", "   ")],
            words: &[],
            tail: None,
            options: &[],
        },
        Case {
            command: CommandName::Ping,
            values: &[],
            words: &[],
            tail: None,
            options: &[],
        },
    ];
    for case in cases {
        let expected = Arguments {
            words: case.words.iter().map(|w| (*w).to_owned()).collect(),
            tail: case.tail.map(str::to_owned),
            options: case
                .options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        assert_eq!(
            slash::arguments(case.command, case.values),
            expected,
            "{} {:?}",
            case.command,
            case.values
        );
    }
}
