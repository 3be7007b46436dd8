//! The catalog says what commands.md §2 says: aliases, categories, who may run what and where,
//! help groups, and well-formed options.

use std::collections::HashSet;

use troupe_application::catalog::{self, Access, HelpGroup, OptionKind, Place, Slot};
use troupe_application::{Category, CommandName};

#[test]
fn the_catalog_has_one_entry_per_command_in_command_order() {
    let names: Vec<CommandName> = catalog::all().iter().map(|s| s.name).collect();
    assert_eq!(names, CommandName::ALL);
    for command in CommandName::ALL {
        assert_eq!(catalog::spec(command).name, command);
    }
}

#[test]
fn catalog_aliases_and_categories_equal_those_of_the_command_names() {
    for spec in catalog::all() {
        assert_eq!(spec.aliases, spec.name.aliases(), "{}", spec.name);
        assert_eq!(spec.category, spec.name.category(), "{}", spec.name);
    }
}

#[test]
fn access_place_and_help_group_follow_the_command_table_of_the_spec() {
    use Access::*;
    use Place::*;
    let table: &[(CommandName, Access, Place, HelpGroup)] = &[
        (CommandName::Ping, Anyone, Anywhere, HelpGroup::Utility),
        (CommandName::Status, Anyone, Anywhere, HelpGroup::Utility),
        (CommandName::Help, Anyone, Anywhere, HelpGroup::Utility),
        (
            CommandName::Notifications,
            Anyone,
            Anywhere,
            HelpGroup::Utility,
        ),
        (
            CommandName::Debug,
            AdministratorOrBotOwner,
            Anywhere,
            HelpGroup::Admin,
        ),
        (CommandName::Purgbot, Anyone, DmOnly, HelpGroup::Utility),
        (
            CommandName::Volumetest,
            BotOwner,
            Anywhere,
            HelpGroup::Owner,
        ),
        (
            CommandName::Auth,
            Anyone,
            Anywhere,
            HelpGroup::Authentication,
        ),
        (
            CommandName::Verify,
            Anyone,
            GuildOnly,
            HelpGroup::Authentication,
        ),
        (
            CommandName::Activate,
            ManageMessages,
            GuildAgeRestricted,
            HelpGroup::Conversation,
        ),
        (
            CommandName::Deactivate,
            ManageMessages,
            GuildOnly,
            HelpGroup::Conversation,
        ),
        (
            CommandName::Reset,
            Anyone,
            Anywhere,
            HelpGroup::Conversation,
        ),
        (
            CommandName::Autorespond,
            Anyone,
            Anywhere,
            HelpGroup::Conversation,
        ),
        (CommandName::Add, Anyone, Anywhere, HelpGroup::Personality),
        (
            CommandName::Remove,
            PersonalityOwner,
            Anywhere,
            HelpGroup::Personality,
        ),
        (CommandName::Info, Anyone, Anywhere, HelpGroup::Personality),
        (
            CommandName::Alias,
            PersonalityOwner,
            Anywhere,
            HelpGroup::Personality,
        ),
        (CommandName::List, Anyone, Anywhere, HelpGroup::Personality),
    ];
    assert_eq!(table.len(), CommandName::ALL.len());
    for (command, access, place, group) in table {
        let spec = catalog::spec(*command);
        assert_eq!(spec.access, *access, "{command}");
        assert_eq!(spec.place, *place, "{command}");
        assert_eq!(spec.help_group, *group, "{command}");
    }
}

#[test]
fn help_groups_other_than_admin_and_owner_match_the_category() {
    for spec in catalog::all() {
        let expected = match spec.category {
            Category::Utility => HelpGroup::Utility,
            Category::Authentication => HelpGroup::Authentication,
            Category::Conversation => HelpGroup::Conversation,
            Category::Personality => HelpGroup::Personality,
        };
        if !matches!(spec.help_group, HelpGroup::Admin | HelpGroup::Owner) {
            assert_eq!(spec.help_group, expected, "{}", spec.name);
        }
    }
}

#[test]
fn options_named_in_the_spec_exist_with_their_choices_and_slots() {
    /// (command, option, kind, required, slot, choices)
    type Case<'a> = (CommandName, &'a str, OptionKind, bool, Slot, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            CommandName::Notifications,
            "setting",
            OptionKind::String,
            false,
            Slot::Word,
            &["status", "on", "off", "level"],
        ),
        (
            CommandName::Notifications,
            "level",
            OptionKind::String,
            false,
            Slot::Word,
            &["major", "minor", "patch"],
        ),
        (
            CommandName::Debug,
            "subcommand",
            OptionKind::String,
            false,
            Slot::Word,
            &[
                "clearwebhooks",
                "unverify",
                "clearconversation",
                "clearauth",
                "clearmessages",
                "stats",
            ],
        ),
        (
            CommandName::Purgbot,
            "mode",
            OptionKind::String,
            false,
            Slot::Word,
            &["system", "all"],
        ),
        (
            CommandName::Auth,
            "subcommand",
            OptionKind::String,
            false,
            Slot::Word,
            &["start", "code", "status", "revoke", "cleanup"],
        ),
        (
            CommandName::Auth,
            "code",
            OptionKind::String,
            false,
            Slot::Word,
            &[],
        ),
        (
            CommandName::Autorespond,
            "setting",
            OptionKind::String,
            false,
            Slot::Word,
            &["on", "off", "status"],
        ),
        (
            CommandName::Add,
            "name",
            OptionKind::String,
            true,
            Slot::Word,
            &[],
        ),
        (
            CommandName::Add,
            "alias",
            OptionKind::String,
            false,
            Slot::Word,
            &[],
        ),
        (
            CommandName::Add,
            "prompt",
            OptionKind::String,
            false,
            Slot::Tail,
            &[],
        ),
        (
            CommandName::Add,
            "avatar",
            OptionKind::String,
            false,
            Slot::Named,
            &[],
        ),
        (
            CommandName::Add,
            "model",
            OptionKind::String,
            false,
            Slot::Named,
            &[],
        ),
        (
            CommandName::Activate,
            "personality",
            OptionKind::String,
            true,
            Slot::Rest,
            &[],
        ),
        (
            CommandName::Reset,
            "personality",
            OptionKind::String,
            true,
            Slot::Rest,
            &[],
        ),
        (
            CommandName::Remove,
            "personality",
            OptionKind::String,
            true,
            Slot::Rest,
            &[],
        ),
        (
            CommandName::Info,
            "personality",
            OptionKind::String,
            true,
            Slot::Rest,
            &[],
        ),
        (
            CommandName::Alias,
            "personality",
            OptionKind::String,
            true,
            Slot::Word,
            &[],
        ),
        (
            CommandName::Alias,
            "alias",
            OptionKind::String,
            true,
            Slot::Rest,
            &[],
        ),
        (
            CommandName::List,
            "page",
            OptionKind::Integer,
            false,
            Slot::Word,
            &[],
        ),
        (
            CommandName::Help,
            "command",
            OptionKind::String,
            false,
            Slot::Word,
            &[],
        ),
    ];
    for (command, name, kind, required, slot, choices) in cases {
        let option = catalog::spec(*command)
            .option(name)
            .unwrap_or_else(|| panic!("{command} has option {name}"));
        assert_eq!(option.kind, *kind, "{command} {name}");
        assert_eq!(option.required, *required, "{command} {name}");
        assert_eq!(option.slot, *slot, "{command} {name}");
        assert_eq!(option.choices, *choices, "{command} {name}");
    }
    let total: usize = catalog::all().iter().map(|s| s.options.len()).sum();
    assert_eq!(total, cases.len(), "every option is in the table above");
}

#[test]
fn options_are_laid_out_so_a_prefix_command_can_express_them() {
    for spec in catalog::all() {
        let name = spec.name;
        let names: HashSet<&str> = spec.options.iter().map(|o| o.name).collect();
        assert_eq!(names.len(), spec.options.len(), "{name}: unique names");
        // Positionals, then named options, then the tail.
        let rank = |slot| match slot {
            Slot::Word | Slot::Rest => 0,
            Slot::Named => 1,
            Slot::Tail => 2,
        };
        let ranks: Vec<u8> = spec.options.iter().map(|o| rank(o.slot)).collect();
        assert!(ranks.is_sorted(), "{name}: options in prefix order");
        let positionals: Vec<_> = spec
            .options
            .iter()
            .filter(|o| matches!(o.slot, Slot::Word | Slot::Rest))
            .collect();
        for (i, option) in positionals.iter().enumerate() {
            if option.slot == Slot::Rest {
                assert_eq!(
                    i + 1,
                    positionals.len(),
                    "{name}: rest is the last positional"
                );
            }
            if i > 0 && option.required {
                assert!(positionals[i - 1].required, "{name}: required words first");
            }
        }
        assert!(
            spec.options.iter().filter(|o| o.slot == Slot::Tail).count() <= 1,
            "{name}: one tail at most"
        );
        for option in spec.options {
            for choice in option.choices {
                assert_eq!(*choice, choice.to_lowercase(), "{name}: lower-case choices");
                assert!(
                    !choice.contains(char::is_whitespace),
                    "{name}: one-word choices"
                );
            }
        }
    }
}

#[test]
fn usages_start_with_the_command_name_and_every_command_has_an_example() {
    for spec in catalog::all() {
        let first = spec.usage.split_whitespace().next();
        assert_eq!(first, Some(spec.name.as_str()), "{}", spec.name);
        assert!(!spec.examples.is_empty(), "{}", spec.name);
        assert!(!spec.description.is_empty(), "{}", spec.name);
    }
}

#[test]
fn catalog_lookup_finds_names_and_aliases_in_any_case() {
    let cases = [
        ("ADD", Some(CommandName::Add)),
        ("Create", Some(CommandName::Add)),
        ("?", Some(CommandName::Help)),
        ("cleandm", Some(CommandName::Purgbot)),
        ("nope", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(catalog::find(raw).map(|s| s.name), expected, "{raw}");
    }
}
