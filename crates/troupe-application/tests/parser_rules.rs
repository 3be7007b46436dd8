//! The prefix parser's rules (commands.md §1), table by table, and a property test that no input
//! panics and that a generated command round-trips.

use std::collections::BTreeMap;

use proptest::prelude::*;
use troupe_application::parser::{Parsed, parse};
use troupe_application::{Arguments, CommandName};

const PREFIX: &str = "!tz";

fn command(command: CommandName, invoked_as: &str, words: &[&str]) -> Parsed {
    Parsed::Command {
        command,
        invoked_as: invoked_as.to_owned(),
        args: Arguments {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            ..Arguments::default()
        },
    }
}

#[test]
fn messages_are_commands_only_when_the_prefix_stands_alone_or_is_followed_by_whitespace() {
    let cases: &[(&str, Parsed)] = &[
        ("!tz", command(CommandName::Help, "help", &[])),
        ("  !tz  ", command(CommandName::Help, "help", &[])),
        ("!TZ", command(CommandName::Help, "help", &[])),
        ("!tz ping", command(CommandName::Ping, "ping", &[])),
        ("!Tz ping", command(CommandName::Ping, "ping", &[])),
        ("!tz\nping", command(CommandName::Ping, "ping", &[])),
        ("!tz\tping", command(CommandName::Ping, "ping", &[])),
        ("!tz\u{3000}ping", command(CommandName::Ping, "ping", &[])),
        ("!tzping", Parsed::NotACommand),
        ("!tz-ping", Parsed::NotACommand),
        ("!t ping", Parsed::NotACommand),
        ("hello !tz ping", Parsed::NotACommand),
        ("", Parsed::NotACommand),
        ("   ", Parsed::NotACommand),
        ("ping", Parsed::NotACommand),
    ];
    for (content, expected) in cases {
        assert_eq!(parse(content, PREFIX), *expected, "{content:?}");
    }
}

#[test]
fn a_blank_prefix_matches_nothing_and_a_configured_prefix_is_trimmed() {
    assert_eq!(parse("ping", ""), Parsed::NotACommand);
    assert_eq!(parse(" ping", "  "), Parsed::NotACommand);
    assert_eq!(
        parse("?bot ping", " ?bot "),
        command(CommandName::Ping, "ping", &[])
    );
    assert_eq!(
        parse("ÄRGER ping", "ärger"),
        command(CommandName::Ping, "ping", &[])
    );
}

#[test]
fn names_and_aliases_match_in_any_case_and_invoked_as_is_the_lower_cased_word() {
    let cases: &[(&str, CommandName, &str)] = &[
        ("!tz PING", CommandName::Ping, "ping"),
        ("!tz h", CommandName::Help, "h"),
        ("!tz ?", CommandName::Help, "?"),
        ("!tz Notif", CommandName::Notifications, "notif"),
        ("!tz NOTIFY", CommandName::Notifications, "notify"),
        ("!tz purgebot", CommandName::Purgbot, "purgebot"),
        ("!tz ClearBot", CommandName::Purgbot, "clearbot"),
        ("!tz cleandm", CommandName::Purgbot, "cleandm"),
        ("!tz nsfw", CommandName::Verify, "nsfw"),
        ("!tz ACT", CommandName::Activate, "act"),
        ("!tz deact", CommandName::Deactivate, "deact"),
        ("!tz auto", CommandName::Autorespond, "auto"),
        ("!tz Ar", CommandName::Autorespond, "ar"),
        ("!tz create", CommandName::Add, "create"),
        ("!tz new", CommandName::Add, "new"),
        ("!tz delete", CommandName::Remove, "delete"),
    ];
    for (content, expected, invoked_as) in cases {
        assert_eq!(
            parse(content, PREFIX),
            command(*expected, invoked_as, &[]),
            "{content}"
        );
    }
}

#[test]
fn unknown_commands_name_the_word_as_typed_capped_at_fifty_characters() {
    assert_eq!(
        parse("!tz Frobnicate now", PREFIX),
        Parsed::Unknown {
            name: "Frobnicate".into()
        }
    );
    let long = "x".repeat(300);
    assert_eq!(
        parse(&format!("!tz {long}"), PREFIX),
        Parsed::Unknown {
            name: "x".repeat(50)
        }
    );
}

#[test]
fn arguments_split_on_whitespace_keep_their_case_and_quotes_keep_spaces() {
    let cases: &[(&str, &[&str])] = &[
        ("!tz info Angel Dust", &["Angel", "Dust"]),
        ("!tz info   angel \n dust  ", &["angel", "dust"]),
        ("!tz info \"Angel Dust\"", &["Angel Dust"]),
        ("!tz info “angel dust”", &["angel dust"]),
        ("!tz info “angel dust\"", &["angel dust"]),
        (
            "!tz alias \"angel dust\" the  angel",
            &["angel dust", "the", "angel"],
        ),
        ("!tz info a\"b c\"d", &["ab cd"]),
        ("!tz info \"\" x \"\"", &["x"]),
        ("!tz info don't", &["don't"]),
        ("!tz info a|b", &["a|b"]),
        ("!tz reset x | y", &["x", "|", "y"]),
        ("!tz info model:x", &["model:x"]),
        ("!tz info 🦀 ünïcödé", &["🦀", "ünïcödé"]),
    ];
    for (content, words) in cases {
        let Parsed::Command { args, .. } = parse(content, PREFIX) else {
            panic!("{content:?} is a command");
        };
        assert_eq!(args.words, *words, "{content:?}");
        assert_eq!(args.tail, None, "{content:?}");
        assert!(args.options.is_empty(), "{content:?}");
    }
}

#[test]
fn add_splits_the_prompt_off_at_the_first_unquoted_bar_and_reads_named_options() {
    /// (content, words, tail, named options)
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
    );
    let cases: &[Case] = &[
        ("!tz add einstein", &["einstein"], None, &[]),
        (
            "!tz add einstein \"albert e\" | You are Albert Einstein…",
            &["einstein", "albert e"],
            Some("You are Albert Einstein…"),
            &[],
        ),
        (
            "!tz add einstein|You are \"Al\" | really",
            &["einstein"],
            Some("You are \"Al\" | really"),
            &[],
        ),
        ("!tz add \"a | b\" c", &["a | b", "c"], None, &[]),
        ("!tz add einstein |   ", &["einstein"], None, &[]),
        (
            "!tz add einstein Model:gpt-4o avatar:https://x.example/a.png",
            &["einstein"],
            None,
            &[("avatar", "https://x.example/a.png"), ("model", "gpt-4o")],
        ),
        (
            "!tz add einstein model:\"gpt 4\" model:gpt-5",
            &["einstein"],
            None,
            &[("model", "gpt-5")],
        ),
        (
            "!tz add einstein \"model:not an option\" model:",
            &["einstein", "model:not an option"],
            None,
            &[],
        ),
        ("!tz add re:zero", &["re:zero"], None, &[]),
    ];
    for (content, words, tail, options) in cases {
        let Parsed::Command { command, args, .. } = parse(content, PREFIX) else {
            panic!("{content:?} is a command");
        };
        assert_eq!(command, CommandName::Add);
        let expected_options: BTreeMap<String, String> = options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(args.words, *words, "{content:?}");
        assert_eq!(args.tail.as_deref(), *tail, "{content:?}");
        assert_eq!(args.options, expected_options, "{content:?}");
    }
}

#[test]
fn an_unterminated_quote_is_invalid_with_a_reason_that_says_how_to_fix_it() {
    for (content, column) in [
        ("!tz info \"angel dust", 10),
        ("!tz add einstein \"albert | You are", 18),
        ("!tz alias x “angel", 13),
        ("  !tz alias ש “angel", 13),
    ] {
        let Parsed::Invalid { reason } = parse(content, PREFIX) else {
            panic!("{content:?} is invalid");
        };
        assert!(reason.contains("never closed"), "{reason}");
        assert!(
            reason.starts_with(&format!("Syntax error at character {column}:")),
            "{content:?}: {reason}"
        );
    }
    // A quote inside the prompt is not an argument quote.
    assert!(matches!(
        parse("!tz add einstein | say \"hi", PREFIX),
        Parsed::Command { .. }
    ));
}

/// Words the round-trip generator may use: no quotes, bars, colons or whitespace inside.
fn plain_word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9éß🦀._-]{1,12}"
}

fn quoted_word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9éß🦀._-]{1,8}( [A-Za-z0-9éß🦀._-]{1,8}){0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_input_up_to_4000_characters_panics(content in "(?s).{0,4000}") {
        let parsed = parse(&content, PREFIX);
        if let Parsed::Invalid { reason } = parsed {
            prop_assert!(!reason.is_empty());
        }
    }

    #[test]
    fn no_prefixed_input_up_to_4000_characters_panics(
        name in prop::sample::select(vec!["add", "info", "alias", "help", "x"]),
        rest in "[\"“”| a-z:\\n\u{0}-\u{7f}\u{80}-\u{10ffff}]{0,4000}",
    ) {
        let _ = parse(&format!("!tz {name} {rest}"), PREFIX);
    }

    #[test]
    fn a_generated_command_round_trips_through_the_parser(
        index in 0..CommandName::ALL.len(),
        use_alias in any::<bool>(),
        upper in any::<bool>(),
        words in prop::collection::vec(prop_oneof![plain_word(), quoted_word()], 0..5),
        spacing in prop::sample::select(vec![" ", "  ", "\n", "\t "]),
    ) {
        let command = CommandName::ALL[index];
        let typed = match command.aliases().first() {
            Some(alias) if use_alias => (*alias).to_owned(),
            _ => command.as_str().to_owned(),
        };
        let typed = if upper { typed.to_uppercase() } else { typed };
        let mut content = format!("!tz{spacing}{typed}");
        for word in &words {
            content.push_str(spacing);
            if word.contains(' ') {
                content.push('"');
                content.push_str(word);
                content.push('"');
            } else {
                content.push_str(word);
            }
        }
        prop_assert_eq!(
            parse(&content, PREFIX),
            Parsed::Command {
                command,
                invoked_as: typed.to_lowercase(),
                args: Arguments { words, ..Arguments::default() },
            }
        );
    }
}
