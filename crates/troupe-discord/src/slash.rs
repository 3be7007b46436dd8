//! Slash commands: the catalog's definitions as Discord commands, and an invocation's options
//! back into the catalog's `(name, value)` pairs.

use troupe_application::CommandName;
use troupe_application::catalog::slash::{SlashCommand, definitions};
use troupe_application::catalog::{OptionKind, Place};
use twilight_model::application::command::{
    Command, CommandOption, CommandOptionChoice, CommandOptionChoiceValue, CommandOptionType,
    CommandType,
};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::application::interaction::application_command::{
    CommandDataOption, CommandOptionValue,
};
use twilight_model::id::Id;

/// Every catalog command as a Discord chat-input command.
pub fn discord_commands() -> Vec<Command> {
    definitions().iter().map(to_discord).collect()
}

fn to_discord(command: &SlashCommand) -> Command {
    let contexts = match command.place {
        Place::Anywhere => vec![InteractionContextType::Guild, InteractionContextType::BotDm],
        Place::GuildOnly | Place::GuildAgeRestricted => vec![InteractionContextType::Guild],
        Place::DmOnly => vec![InteractionContextType::BotDm],
    };
    Command {
        application_id: None,
        contexts: Some(contexts),
        default_member_permissions: None,
        description: command.description.to_owned(),
        description_localizations: None,
        #[allow(deprecated)]
        dm_permission: None,
        guild_id: None,
        id: None,
        integration_types: None,
        kind: CommandType::ChatInput,
        name: command.name.to_owned(),
        name_localizations: None,
        nsfw: None,
        options: command
            .options
            .iter()
            .map(|o| CommandOption {
                autocomplete: None,
                channel_types: None,
                choices: (!o.choices.is_empty()).then(|| {
                    o.choices
                        .iter()
                        .map(|c| CommandOptionChoice {
                            name: (*c).to_owned(),
                            name_localizations: None,
                            value: CommandOptionChoiceValue::String((*c).to_owned()),
                        })
                        .collect()
                }),
                description: o.description.to_owned(),
                description_localizations: None,
                kind: match o.kind {
                    OptionKind::String => CommandOptionType::String,
                    OptionKind::Integer => CommandOptionType::Integer,
                    OptionKind::Boolean => CommandOptionType::Boolean,
                    OptionKind::User => CommandOptionType::User,
                    OptionKind::Channel => CommandOptionType::Channel,
                },
                max_length: None,
                max_value: None,
                min_length: None,
                min_value: None,
                name: o.name.to_owned(),
                name_localizations: None,
                options: None,
                file_types: None,
                required: Some(o.required),
            })
            .collect(),
        version: Id::new(1),
    }
}

/// The catalog command a slash invocation names, if any.
pub fn command_named(name: &str) -> Option<CommandName> {
    CommandName::ALL.into_iter().find(|c| c.as_str() == name)
}

/// Option values as text, the way the catalog's [`arguments`] reads them.
///
/// [`arguments`]: troupe_application::catalog::slash::arguments
pub fn option_values(options: &[CommandDataOption]) -> Vec<(String, String)> {
    options
        .iter()
        .filter_map(|o| {
            let value = match &o.value {
                CommandOptionValue::String(s) => s.clone(),
                CommandOptionValue::Integer(i) => i.to_string(),
                CommandOptionValue::Number(n) => n.to_string(),
                CommandOptionValue::Boolean(b) => if *b { "on" } else { "off" }.to_owned(),
                CommandOptionValue::User(id) => id.to_string(),
                CommandOptionValue::Channel(id) => id.to_string(),
                CommandOptionValue::Role(id) => id.to_string(),
                CommandOptionValue::Mentionable(id) => id.to_string(),
                _ => return None,
            };
            Some((o.name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_command_becomes_one_discord_command() {
        let commands = discord_commands();
        assert_eq!(commands.len(), 18);
        for command in &commands {
            assert!(command_named(&command.name).is_some(), "{}", command.name);
            assert!(!command.description.is_empty() && command.description.chars().count() <= 100);
        }
        let add = commands.iter().find(|c| c.name == "add").unwrap();
        assert!(add.options.iter().any(|o| o.name == "prompt"));
        assert_eq!(add.options[0].required, Some(true));
    }
}
