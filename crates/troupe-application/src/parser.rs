//! The prefix parser: message text → command name and arguments (commands.md §1).
//!
//! Rules, in order:
//! - The content is trimmed (Discord trims it too). It is a command when it is exactly the
//!   prefix (→ `help`) or starts with the prefix followed by whitespace; `!tzping` is not a
//!   command. The prefix matches case-insensitively (`!TZ ping` works). A blank prefix never
//!   matches.
//! - The first whitespace-separated word after the prefix is the command name or alias,
//!   matched case-insensitively; `invoked_as` is that word lower-cased. An unknown word gives
//!   [`Parsed::Unknown`] with the word as typed (at most 50 characters).
//! - The rest is split on whitespace. Double quotes keep spaces (`"angel dust"`); the
//!   typographic quotes phone keyboards insert (`“angel dust”`) work too. A quote may start
//!   mid-word (`name"d one"` → `named one`). Empty words (`""`) are dropped. There is no escape
//!   character. Argument case is kept.
//! - **An unterminated quote is an error** ([`Parsed::Invalid`]), not "take the rest": silently
//!   swallowing a `|` or the following words into one argument would create personalities and
//!   aliases the user did not mean.
//! - Only for commands whose catalog entry has a tail option (`add`'s prompt): the first `|`
//!   outside quotes ends the words; the text after it, trimmed and otherwise untouched (quotes
//!   included), is the `tail` (`None` when blank). For every other command `|` is an ordinary
//!   character.
//! - Only for commands with named options (`add`'s `model` and `avatar`): a word `name:value`
//!   whose name is such an option (any case) and that does not start with a quote goes into
//!   `options` (the last one wins; a blank value is dropped) — the same syntax Discord shows
//!   for slash options.
//!
//! Parsing is linear in the input, allocates only the result and never panics, for any input.

use crate::catalog::{self, CommandSpec};
use crate::command::CommandName;
use crate::model::Arguments;

/// The result of parsing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not addressed to the bot: no reply.
    NotACommand,
    /// A command to run.
    Command {
        command: CommandName,
        /// The name or alias typed, lower-cased (`help` for the bare prefix).
        invoked_as: String,
        args: Arguments,
    },
    /// The prefix followed by a word that is no command or alias (as typed, at most 50
    /// characters); reply with the name and a pointer to `help`.
    Unknown { name: String },
    /// A command whose arguments cannot be read; `reason` is a user-facing sentence.
    Invalid { reason: String },
}

/// Longest unknown command name echoed back, in characters.
const MAX_UNKNOWN_CHARS: usize = 50;

/// Parses `content` as a prefix command with `prefix` (e.g. `!tz`).
pub fn parse(content: &str, prefix: &str) -> Parsed {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return Parsed::NotACommand;
    }
    let content = content.trim();
    let Some(rest) = strip_prefix_ignore_case(content, prefix) else {
        return Parsed::NotACommand;
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Parsed::NotACommand;
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Parsed::Command {
            command: CommandName::Help,
            invoked_as: CommandName::Help.as_str().to_owned(),
            args: Arguments::default(),
        };
    }
    let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_end);
    let Some(command) = CommandName::resolve(name) else {
        return Parsed::Unknown {
            name: name.chars().take(MAX_UNKNOWN_CHARS).collect(),
        };
    };
    match arguments(catalog::spec(command), rest) {
        Ok(args) => Parsed::Command {
            command,
            invoked_as: name.to_lowercase(),
            args,
        },
        Err(Unclosed { at, open, close }) => {
            // `rest` is a suffix of `content`: the quote's position in the whole message.
            let offset = content.len() - rest.len() + at;
            let column = content[..offset].chars().count() + 1;
            Parsed::Invalid {
                reason: format!(
                    "Syntax error at character {column}: the quote opened with `{open}` is never closed. Close it with `{close}`, or leave quotes out."
                ),
            }
        }
    }
}

/// Whether `content` is addressed to the bot as a prefix command: exactly what [`parse`] does
/// not answer with [`Parsed::NotACommand`], without reading the arguments (adapters use it to
/// route a message before parsing it).
pub fn is_command(content: &str, prefix: &str) -> bool {
    let prefix = prefix.trim();
    !prefix.is_empty()
        && strip_prefix_ignore_case(content.trim(), prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// `content` without a leading `prefix` compared case-insensitively, char by char.
fn strip_prefix_ignore_case<'a>(content: &'a str, prefix: &str) -> Option<&'a str> {
    let mut chars = content.char_indices();
    for p in prefix.chars() {
        let (_, c) = chars.next()?;
        if c != p && !c.to_lowercase().eq(p.to_lowercase()) {
            return None;
        }
    }
    Some(chars.as_str())
}

/// The closing quote for an opening one, if `c` opens a quote.
fn closing_quote(c: char) -> Option<&'static [char]> {
    match c {
        '"' => Some(&['"']),
        '“' => Some(&['”', '"']),
        _ => None,
    }
}

/// One word being built.
#[derive(Default)]
struct Word {
    text: String,
    /// The word began with a quote (so `"model:x"` stays a plain word).
    starts_quoted: bool,
    /// Anything (even an empty quote) was seen.
    started: bool,
}

/// A quote opened at byte `at` of the argument text and never closed.
struct Unclosed {
    at: usize,
    open: char,
    close: char,
}

/// Splits the text after the command name into [`Arguments`] per `spec`.
fn arguments(spec: &CommandSpec, text: &str) -> Result<Arguments, Unclosed> {
    let split_tail = spec.has_tail();
    let mut args = Arguments::default();
    let mut word = Word::default();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            push_word(spec, &mut args, std::mem::take(&mut word));
        } else if c == '|' && split_tail {
            let tail = text[at + c.len_utf8()..].trim();
            args.tail = (!tail.is_empty()).then(|| tail.to_owned());
            break;
        } else if let Some(closers) = closing_quote(c) {
            if !word.started {
                word.starts_quoted = true;
            }
            word.started = true;
            let mut closed = false;
            for (_, q) in chars.by_ref() {
                if closers.contains(&q) {
                    closed = true;
                    break;
                }
                word.text.push(q);
            }
            if !closed {
                return Err(Unclosed {
                    at,
                    open: c,
                    close: closers[0],
                });
            }
        } else {
            word.started = true;
            word.text.push(c);
        }
    }
    push_word(spec, &mut args, word);
    Ok(args)
}

/// Adds a finished word to `args`: a named option, a positional word, or nothing when empty.
fn push_word(spec: &CommandSpec, args: &mut Arguments, word: Word) {
    if word.text.is_empty() {
        return;
    }
    if !word.starts_quoted
        && let Some((key, value)) = word.text.split_once(':')
        && let Some(option) = spec.named_option(key)
    {
        let value = value.trim();
        if !value.is_empty() {
            args.options
                .insert(option.name.to_owned(), value.to_owned());
        }
        return;
    }
    args.words.push(word.text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_comparison_handles_multibyte_characters_without_slicing_inside_them() {
        assert_eq!(strip_prefix_ignore_case("ÄBC rest", "äbc"), Some(" rest"));
        assert_eq!(strip_prefix_ignore_case("é", "!tz"), None);
        assert_eq!(strip_prefix_ignore_case("", "!tz"), None);
    }

    #[test]
    fn is_command_agrees_with_parse_on_what_is_addressed_to_the_bot() {
        for content in [
            "!tz ping",
            "!TZ ping",
            "  !Tz",
            "!tz",
            "!tzping",
            "!t",
            "hello !tz ping",
            "",
            "!tz\tstatus",
            "!tz nosuchcommand",
            "!tz add \"open",
        ] {
            assert_eq!(
                is_command(content, "!tz"),
                parse(content, "!tz") != Parsed::NotACommand,
                "{content:?}"
            );
        }
        assert!(!is_command("anything", "  "));
    }
}
