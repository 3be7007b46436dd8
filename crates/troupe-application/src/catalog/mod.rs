//! The command catalog: the single source of every command's name, aliases, category, usage,
//! options, access rule, place, description and examples. The prefix parser, the slash-command
//! definitions and `help` are generated from it.
//!
//! Each option also says *where it lives in a prefix command* ([`Slot`]): a single positional
//! word, all remaining words, the text after `|`, or a `name:value` word. The parser
//! ([`crate::parser`]) and the slash conversion ([`slash::arguments`]) both read the slot, so a
//! prefix command and the equivalent slash command give the same [`crate::Arguments`].

pub mod help;
pub mod slash;

use crate::command::{Category, CommandName};

/// The type of an option's value (Discord's option types, as plain data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKind {
    /// Free text.
    String,
    /// A whole number.
    Integer,
    /// True or false.
    Boolean,
    /// A user mention or id.
    User,
    /// A channel mention or id.
    Channel,
}

impl OptionKind {
    /// Lower-case name shown in `help`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "text",
            Self::Integer => "number",
            Self::Boolean => "yes/no",
            Self::User => "user",
            Self::Channel => "channel",
        }
    }
}

/// Where an option's value sits in a prefix command, and so how a slash value maps onto
/// [`crate::Arguments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// One positional word of `words` (quoted in a prefix command when it has spaces).
    Word,
    /// All remaining positional words (`!tz info angel dust`); always the last positional.
    Rest,
    /// The text after the first unquoted `|` (`tail`).
    Tail,
    /// A `name:value` word in a prefix command; `options[name]` in [`crate::Arguments`].
    Named,
}

/// One option of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Lower-case option name (also the slash option name).
    pub name: &'static str,
    /// The value type.
    pub kind: OptionKind,
    /// Whether the command needs it (handlers still check; the flag drives slash and help).
    pub required: bool,
    /// One line, at most 100 characters.
    pub description: &'static str,
    /// The only accepted values, when the option is a fixed choice (empty: free value).
    pub choices: &'static [&'static str],
    /// Where the value sits in a prefix command.
    pub slot: Slot,
}

/// Who may run a command (the handlers enforce it; the catalog documents it and drives `help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Everyone.
    Anyone,
    /// Members with the Manage Messages permission (Administrator implies it).
    ManageMessages,
    /// Guild administrators.
    Administrator,
    /// The owner of the named personality, or a bot owner.
    PersonalityOwner,
    /// The bot owners from the configuration.
    BotOwner,
    /// Guild administrators and the bot owners.
    AdministratorOrBotOwner,
}

impl Access {
    /// How `help` describes the rule.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Anyone => "anyone",
            Self::ManageMessages => "members with Manage Messages",
            Self::Administrator => "server administrators",
            Self::PersonalityOwner => "the personality's owner or the bot owner",
            Self::BotOwner => "the bot owner",
            Self::AdministratorOrBotOwner => "server administrators and the bot owner",
        }
    }
}

/// Where a command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// Servers and DMs.
    Anywhere,
    /// Server channels only.
    GuildOnly,
    /// Direct messages only.
    DmOnly,
    /// Server channels marked age-restricted (when the age gate is on).
    GuildAgeRestricted,
}

impl Place {
    /// How `help` describes the rule.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Anywhere => "anywhere",
            Self::GuildOnly => "server channels only",
            Self::DmOnly => "direct messages only",
            Self::GuildAgeRestricted => "age-restricted server channels only",
        }
    }
}

/// The group a command is listed under in `help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HelpGroup {
    Personality,
    Conversation,
    Authentication,
    Utility,
    /// Shown to guild administrators and bot owners only.
    Admin,
    /// Shown to bot owners only.
    Owner,
}

impl HelpGroup {
    /// Every group, in the order `help` lists them.
    pub const ALL: [Self; 6] = [
        Self::Personality,
        Self::Conversation,
        Self::Authentication,
        Self::Utility,
        Self::Admin,
        Self::Owner,
    ];

    /// The group's title: exactly the embed field name of `help`.
    pub fn title(self) -> &'static str {
        match self {
            Self::Personality => "Personality",
            Self::Conversation => "Conversation",
            Self::Authentication => "Authentication",
            Self::Utility => "Utility",
            Self::Admin => "Admin",
            Self::Owner => "Owner",
        }
    }
}

/// Everything known about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    pub name: CommandName,
    /// Other names that invoke it in a prefix command (equal to [`CommandName::aliases`]).
    pub aliases: &'static [&'static str],
    pub category: Category,
    /// Usage without the prefix, e.g. `info <personality>`.
    pub usage: &'static str,
    /// One line, at most 100 characters (also the slash description).
    pub description: &'static str,
    /// In prefix order: positional words first, then `name:value` options, then the tail.
    pub options: &'static [OptionSpec],
    pub access: Access,
    pub place: Place,
    pub help_group: HelpGroup,
    /// Invocations without the prefix, e.g. `info einstein`.
    pub examples: &'static [&'static str],
}

impl CommandSpec {
    /// The option called `name`, if any.
    pub fn option(&self, name: &str) -> Option<&'static OptionSpec> {
        self.options.iter().find(|o| o.name == name)
    }

    /// Whether a prefix command of this kind splits a tail off at `|`.
    pub fn has_tail(&self) -> bool {
        self.options.iter().any(|o| o.slot == Slot::Tail)
    }

    /// The option with [`Slot::Named`] whose name equals `key` case-insensitively.
    pub fn named_option(&self, key: &str) -> Option<&'static OptionSpec> {
        self.options
            .iter()
            .find(|o| o.slot == Slot::Named && o.name.eq_ignore_ascii_case(key))
    }
}

/// The spec of `command`.
pub fn spec(command: CommandName) -> &'static CommandSpec {
    // The table is in `CommandName::ALL` order; `catalog_table_is_in_command_order` proves it.
    &CATALOG[command as usize]
}

/// Every command, in [`CommandName::ALL`] order.
pub fn all() -> &'static [CommandSpec] {
    CATALOG
}

/// The spec of the command named `raw` (name or alias, case-insensitive).
pub fn find(raw: &str) -> Option<&'static CommandSpec> {
    CommandName::resolve(raw).map(spec)
}

const fn opt(
    name: &'static str,
    kind: OptionKind,
    required: bool,
    slot: Slot,
    description: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        required,
        description,
        choices: &[],
        slot,
    }
}

const fn choice(
    name: &'static str,
    choices: &'static [&'static str],
    description: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind: OptionKind::String,
        required: false,
        description,
        choices,
        slot: Slot::Word,
    }
}

const PERSONALITY_REST: OptionSpec = opt(
    "personality",
    OptionKind::String,
    true,
    Slot::Rest,
    "Name, alias or display name of the personality",
);

static CATALOG: &[CommandSpec] = &[
    CommandSpec {
        name: CommandName::Ping,
        aliases: &[],
        category: Category::Utility,
        usage: "ping",
        description: "Check that the bot is up and see the gateway latency.",
        options: &[],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Utility,
        examples: &["ping"],
    },
    CommandSpec {
        name: CommandName::Status,
        aliases: &[],
        category: Category::Utility,
        usage: "status",
        description: "Show uptime, latency and your own settings at a glance.",
        options: &[],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Utility,
        examples: &["status"],
    },
    CommandSpec {
        name: CommandName::Help,
        aliases: &["h", "?"],
        category: Category::Utility,
        usage: "help [command]",
        description: "List the commands, or show how to use one.",
        options: &[opt(
            "command",
            OptionKind::String,
            false,
            Slot::Word,
            "A command name or alias",
        )],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Utility,
        examples: &["help", "help add"],
    },
    CommandSpec {
        name: CommandName::Notifications,
        aliases: &["notif", "notify"],
        category: Category::Utility,
        usage: "notifications [status|on|off|level <major|minor|patch>]",
        description: "Choose whether and how often you get release-note DMs.",
        options: &[
            choice(
                "setting",
                &["status", "on", "off", "level"],
                "Show, switch on or off, or set the level (default: status)",
            ),
            choice(
                "level",
                &["major", "minor", "patch"],
                "With level: the smallest kind of release you hear about",
            ),
        ],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Utility,
        examples: &[
            "notifications",
            "notifications off",
            "notifications level major",
        ],
    },
    CommandSpec {
        name: CommandName::Debug,
        aliases: &[],
        category: Category::Utility,
        usage: "debug <subcommand>",
        description: "Maintenance tools for server administrators and the bot owner.",
        options: &[choice(
            "subcommand",
            &[
                "clearwebhooks",
                "unverify",
                "clearconversation",
                "clearauth",
                "clearmessages",
                "stats",
            ],
            "What to do (none: list the subcommands)",
        )],
        access: Access::AdministratorOrBotOwner,
        place: Place::Anywhere,
        help_group: HelpGroup::Admin,
        examples: &["debug", "debug stats", "debug clearwebhooks"],
    },
    CommandSpec {
        name: CommandName::Purgbot,
        aliases: &["purgebot", "clearbot", "cleandm"],
        category: Category::Utility,
        usage: "purgbot [system|all]",
        description: "Delete the bot's messages in this DM: system messages, or everything.",
        options: &[choice(
            "mode",
            &["system", "all"],
            "system (default) keeps personality messages; all deletes them too",
        )],
        access: Access::Anyone,
        place: Place::DmOnly,
        help_group: HelpGroup::Utility,
        examples: &["purgbot", "purgbot all"],
    },
    CommandSpec {
        name: CommandName::Volumetest,
        aliases: &[],
        category: Category::Utility,
        usage: "volumetest",
        description: "Check that the data directory is writable and survives restarts.",
        options: &[],
        access: Access::BotOwner,
        place: Place::Anywhere,
        help_group: HelpGroup::Owner,
        examples: &["volumetest"],
    },
    CommandSpec {
        name: CommandName::Auth,
        aliases: &[],
        category: Category::Authentication,
        usage: "auth [start|code <code>|status|revoke|cleanup]",
        description: "Connect your account to the AI provider and manage your token.",
        options: &[
            choice(
                "subcommand",
                &["start", "code", "status", "revoke", "cleanup"],
                "What to do; cleanup is for server administrators and the bot owner",
            ),
            opt(
                "code",
                OptionKind::String,
                false,
                Slot::Word,
                "With code: the authorization code (send it in a DM only)",
            ),
        ],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Authentication,
        examples: &[
            "auth start",
            "auth code abc123",
            "auth status",
            "auth revoke",
        ],
    },
    CommandSpec {
        name: CommandName::Verify,
        aliases: &["nsfw"],
        category: Category::Authentication,
        usage: "verify",
        description: "Confirm your age so personalities may talk to you (in an age-restricted channel).",
        options: &[],
        access: Access::Anyone,
        place: Place::GuildOnly,
        help_group: HelpGroup::Authentication,
        examples: &["verify"],
    },
    CommandSpec {
        name: CommandName::Activate,
        aliases: &["act"],
        category: Category::Conversation,
        usage: "activate <personality>",
        description: "Make a personality answer every message in this channel.",
        options: &[PERSONALITY_REST],
        access: Access::ManageMessages,
        place: Place::GuildAgeRestricted,
        help_group: HelpGroup::Conversation,
        examples: &["activate einstein", "activate angel dust"],
    },
    CommandSpec {
        name: CommandName::Deactivate,
        aliases: &["deact"],
        category: Category::Conversation,
        usage: "deactivate",
        description: "Stop the personality that is active in this channel.",
        options: &[],
        access: Access::ManageMessages,
        place: Place::GuildOnly,
        help_group: HelpGroup::Conversation,
        examples: &["deactivate"],
    },
    CommandSpec {
        name: CommandName::Reset,
        aliases: &[],
        category: Category::Conversation,
        usage: "reset <personality>",
        description: "Forget your conversation with a personality in this channel.",
        options: &[PERSONALITY_REST],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Conversation,
        examples: &["reset einstein"],
    },
    CommandSpec {
        name: CommandName::Autorespond,
        aliases: &["auto", "ar"],
        category: Category::Conversation,
        usage: "autorespond [on|off|status]",
        description: "Keep talking to a personality without mentioning it every time.",
        options: &[choice(
            "setting",
            &["on", "off", "status"],
            "Switch on or off, or show the setting (default: status)",
        )],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Conversation,
        examples: &["autorespond", "autorespond on"],
    },
    CommandSpec {
        name: CommandName::Add,
        aliases: &["create", "new"],
        category: Category::Personality,
        usage: "add <name> [alias] [model:<model>] [avatar:<url>] [| prompt…]",
        description: "Create a personality that you own.",
        options: &[
            opt(
                "name",
                OptionKind::String,
                true,
                Slot::Word,
                "Unique name: 2–50 letters, digits, spaces, - _ .",
            ),
            opt(
                "alias",
                OptionKind::String,
                false,
                Slot::Word,
                "Another name to call it by (quote it if it has spaces)",
            ),
            opt(
                "model",
                OptionKind::String,
                false,
                Slot::Named,
                "AI model to use (default: the bot's model)",
            ),
            opt(
                "avatar",
                OptionKind::String,
                false,
                Slot::Named,
                "Avatar image URL",
            ),
            opt(
                "prompt",
                OptionKind::String,
                false,
                Slot::Tail,
                "System prompt: who the personality is (after |)",
            ),
        ],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Personality,
        examples: &[
            "add einstein",
            "add einstein \"albert e\" | You are Albert Einstein, the physicist.",
            "add einstein model:gpt-4o avatar:https://example.com/einstein.png",
        ],
    },
    CommandSpec {
        name: CommandName::Remove,
        aliases: &["delete"],
        category: Category::Personality,
        usage: "remove <personality>",
        description: "Delete a personality you own, with its aliases and history.",
        options: &[PERSONALITY_REST],
        access: Access::PersonalityOwner,
        place: Place::Anywhere,
        help_group: HelpGroup::Personality,
        examples: &["remove einstein"],
    },
    CommandSpec {
        name: CommandName::Info,
        aliases: &[],
        category: Category::Personality,
        usage: "info <personality>",
        description: "Show a personality's details.",
        options: &[PERSONALITY_REST],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Personality,
        examples: &["info einstein", "info angel dust"],
    },
    CommandSpec {
        name: CommandName::Alias,
        aliases: &[],
        category: Category::Personality,
        usage: "alias <personality> <alias…>",
        description: "Give a personality you own another name to call it by.",
        options: &[
            opt(
                "personality",
                OptionKind::String,
                true,
                Slot::Word,
                "The personality (quote it if it has spaces)",
            ),
            opt(
                "alias",
                OptionKind::String,
                true,
                Slot::Rest,
                "The new alias; may have spaces",
            ),
        ],
        access: Access::PersonalityOwner,
        place: Place::Anywhere,
        help_group: HelpGroup::Personality,
        examples: &["alias einstein albert", "alias \"angel dust\" angel"],
    },
    CommandSpec {
        name: CommandName::List,
        aliases: &[],
        category: Category::Personality,
        usage: "list [page]",
        description: "List your personalities, 10 per page.",
        options: &[opt(
            "page",
            OptionKind::Integer,
            false,
            Slot::Word,
            "Page number (default: 1)",
        )],
        access: Access::Anyone,
        place: Place::Anywhere,
        help_group: HelpGroup::Personality,
        examples: &["list", "list 2"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_table_is_in_command_order() {
        assert_eq!(CATALOG.len(), CommandName::ALL.len());
        for (i, command) in CommandName::ALL.into_iter().enumerate() {
            assert_eq!(command as usize, i, "{command}");
            assert_eq!(CATALOG[i].name, command, "row {i}");
            assert_eq!(spec(command).name, command);
        }
    }
}
