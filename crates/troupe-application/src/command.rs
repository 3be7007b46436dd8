//! The 18 commands and their categories: the routing unit of the two command systems.

use std::fmt;

/// A command category; a category flag decides which system serves its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Utility,
    Authentication,
    Conversation,
    Personality,
}

impl Category {
    pub const ALL: [Self; 4] = [
        Self::Utility,
        Self::Authentication,
        Self::Conversation,
        Self::Personality,
    ];

    /// Lower-case name, as used in flag names (`ddd.commands.<category>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utility => "utility",
            Self::Authentication => "authentication",
            Self::Conversation => "conversation",
            Self::Personality => "personality",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the 18 commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandName {
    Ping,
    Status,
    Help,
    Notifications,
    Debug,
    Purgbot,
    Volumetest,
    Auth,
    Verify,
    Activate,
    Deactivate,
    Reset,
    Autorespond,
    Add,
    Remove,
    Info,
    Alias,
    List,
}

impl CommandName {
    pub const ALL: [Self; 18] = [
        Self::Ping,
        Self::Status,
        Self::Help,
        Self::Notifications,
        Self::Debug,
        Self::Purgbot,
        Self::Volumetest,
        Self::Auth,
        Self::Verify,
        Self::Activate,
        Self::Deactivate,
        Self::Reset,
        Self::Autorespond,
        Self::Add,
        Self::Remove,
        Self::Info,
        Self::Alias,
        Self::List,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::Status => "status",
            Self::Help => "help",
            Self::Notifications => "notifications",
            Self::Debug => "debug",
            Self::Purgbot => "purgbot",
            Self::Volumetest => "volumetest",
            Self::Auth => "auth",
            Self::Verify => "verify",
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Reset => "reset",
            Self::Autorespond => "autorespond",
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Info => "info",
            Self::Alias => "alias",
            Self::List => "list",
        }
    }

    /// Other names that invoke this command.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Help => &["h", "?"],
            Self::Notifications => &["notif", "notify"],
            Self::Purgbot => &["purgebot", "clearbot", "cleandm"],
            Self::Verify => &["nsfw"],
            Self::Activate => &["act"],
            Self::Deactivate => &["deact"],
            Self::Autorespond => &["auto", "ar"],
            Self::Add => &["create", "new"],
            Self::Remove => &["delete"],
            _ => &[],
        }
    }

    /// The category that decides which command system serves this command.
    pub fn category(self) -> Category {
        match self {
            Self::Ping
            | Self::Status
            | Self::Help
            | Self::Notifications
            | Self::Debug
            | Self::Purgbot
            | Self::Volumetest => Category::Utility,
            Self::Auth | Self::Verify => Category::Authentication,
            Self::Activate | Self::Deactivate | Self::Reset | Self::Autorespond => {
                Category::Conversation
            }
            Self::Add | Self::Remove | Self::Info | Self::Alias | Self::List => {
                Category::Personality
            }
        }
    }

    /// Resolves a name or alias, case-insensitively.
    pub fn resolve(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|c| {
            c.as_str().eq_ignore_ascii_case(raw)
                || c.aliases().iter().any(|a| a.eq_ignore_ascii_case(raw))
        })
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_resolves_to_its_command_in_any_case() {
        for command in CommandName::ALL {
            assert_eq!(CommandName::resolve(command.as_str()), Some(command));
            assert_eq!(
                CommandName::resolve(&command.as_str().to_uppercase()),
                Some(command)
            );
            for alias in command.aliases() {
                assert_eq!(CommandName::resolve(alias), Some(command), "{alias}");
            }
        }
        assert_eq!(CommandName::resolve("nope"), None);
        assert_eq!(CommandName::resolve(""), None);
    }

    #[test]
    fn categories_hold_the_commands_of_the_spec() {
        let count = |cat| {
            CommandName::ALL
                .iter()
                .filter(|c| c.category() == cat)
                .count()
        };
        assert_eq!(count(Category::Utility), 7);
        assert_eq!(count(Category::Authentication), 2);
        assert_eq!(count(Category::Conversation), 4);
        assert_eq!(count(Category::Personality), 5);
    }
}
