//! Value objects of a personality, each parsed once and valid forever.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::text::{collapse_spaces, fold, is_invisible, is_latin_letter};

/// Names no personality may take (case-insensitive): they collide with roles, mentions or the
/// bot itself.
pub const RESERVED_NAMES: &[&str] = &[
    "system",
    "bot",
    "admin",
    "owner",
    "moderator",
    "mod",
    "help",
    "everyone",
    "here",
];

/// Why a text is not a valid personality value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} cannot be empty")]
    Empty { what: &'static str },
    #[error("{what} must be at least {min} characters")]
    TooShort { what: &'static str, min: usize },
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} may only contain letters, digits, spaces, '-', '_' and '.' (found {found:?})")]
    InvalidCharacter { what: &'static str, found: char },
    /// A model id allows other characters than names (and no spaces).
    #[error(
        "a model id may only contain ASCII letters, digits and . _ - : / @ (no spaces; found {found:?})"
    )]
    InvalidModelCharacter { found: char },
    #[error("{what} contains an invisible or control character")]
    Invisible { what: &'static str },
    #[error("'{0}' is a reserved name")]
    Reserved(String),
    #[error("{what} must be an http(s) URL")]
    NotAUrl { what: &'static str },
}

fn check_identifier(
    raw: &str,
    what: &'static str,
    min: usize,
    max: usize,
) -> Result<String, NameError> {
    if raw
        .chars()
        .any(|c| is_invisible(c) || (c.is_control() && !c.is_whitespace()))
    {
        return Err(NameError::Invisible { what });
    }
    let value = collapse_spaces(raw);
    let len = value.chars().count();
    if len == 0 {
        return Err(NameError::Empty { what });
    }
    if len < min {
        return Err(NameError::TooShort { what, min });
    }
    if len > max {
        return Err(NameError::TooLong { what, max });
    }
    if let Some(found) = value.chars().find(|&c| {
        !(is_latin_letter(c) || c.is_ascii_digit() || matches!(c, ' ' | '-' | '_' | '.'))
    }) {
        return Err(NameError::InvalidCharacter { what, found });
    }
    let key = fold(&value);
    if RESERVED_NAMES.contains(&key.as_str()) {
        return Err(NameError::Reserved(value));
    }
    Ok(value)
}

macro_rules! folded_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            value: String,
            key: String,
        }

        impl $name {
            /// The text as written (spaces collapsed).
            pub fn as_str(&self) -> &str {
                &self.value
            }

            /// The lower-cased key used for equality and lookups.
            pub fn key(&self) -> &str {
                &self.key
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.key == other.key
            }
        }
        impl Eq for $name {}
        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.key.hash(state);
            }
        }
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.key.cmp(&other.key)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.value)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.value)
            }
        }
    };
}

folded_text!(
    /// A personality's unique name: 2–50 characters of Latin letters, digits, space, `-`, `_`,
    /// `.`; not reserved; compared case-insensitively.
    PersonalityName
);
folded_text!(
    /// An alternative name: 1–50 characters with the same alphabet as names, may contain spaces
    /// (`angel dust`); compared case-insensitively.
    Alias
);

impl PersonalityName {
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let value = check_identifier(raw, "a personality name", Self::MIN_LEN, Self::MAX_LEN)?;
        Ok(Self {
            key: fold(&value),
            value,
        })
    }
}

impl Alias {
    pub const MIN_LEN: usize = 1;
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let value = check_identifier(raw, "an alias", Self::MIN_LEN, Self::MAX_LEN)?;
        Ok(Self {
            key: fold(&value),
            value,
        })
    }

    /// True when this alias reads the same as `name` (case-insensitive).
    pub fn equals_name(&self, name: &PersonalityName) -> bool {
        self.key == name.key()
    }
}

folded_text!(
    /// The name a personality shows in Discord: 1–80 printable characters, any script; no
    /// control or invisible characters.
    DisplayName
);

impl DisplayName {
    pub const MAX_LEN: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let what = "a display name";
        if raw
            .chars()
            .any(|c| is_invisible(c) || (c.is_control() && !c.is_whitespace()))
        {
            return Err(NameError::Invisible { what });
        }
        let value = collapse_spaces(raw);
        match value.chars().count() {
            0 => Err(NameError::Empty { what }),
            n if n > Self::MAX_LEN => Err(NameError::TooLong {
                what,
                max: Self::MAX_LEN,
            }),
            _ => Ok(Self {
                key: fold(&value),
                value,
            }),
        }
    }

    /// The display name for a locally defined personality: its name.
    pub fn from_name(name: &PersonalityName) -> Self {
        Self {
            value: name.as_str().to_owned(),
            key: name.key().to_owned(),
        }
    }
}

fn check_free_text(raw: &str, what: &'static str, max: usize) -> Result<String, NameError> {
    if raw
        .chars()
        .any(|c| is_invisible(c) && c != '\u{200D}' || (c.is_control() && c != '\n' && c != '\t'))
    {
        return Err(NameError::Invisible { what });
    }
    let value = raw.trim();
    match value.chars().count() {
        0 => Err(NameError::Empty { what }),
        n if n > max => Err(NameError::TooLong { what, max }),
        _ => Ok(value.to_owned()),
    }
}

/// The system prompt: 1–4,000 characters; newlines and tabs allowed, other control characters not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt(String);

impl Prompt {
    pub const MAX_LEN: usize = 4000;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_free_text(raw, "a prompt", Self::MAX_LEN).map(Self)
    }

    /// The default prompt of a locally defined personality: `You are <name>.`
    pub fn default_for(name: &PersonalityName) -> Self {
        Self(format!("You are {name}."))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The message a personality says when the AI fails: 1–500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage(String);

impl ErrorMessage {
    pub const MAX_LEN: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_free_text(raw, "an error message", Self::MAX_LEN).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AI model identifier: 1–100 characters of ASCII letters, digits and `.` `_` `-` `:` `/` `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(String);

impl ModelId {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let what = "a model id";
        let value = raw.trim();
        if value.is_empty() {
            return Err(NameError::Empty { what });
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                what,
                max: Self::MAX_LEN,
            });
        }
        if let Some(found) = value.chars().find(|&c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@'))
        }) {
            return Err(NameError::InvalidModelCharacter { found });
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An avatar image URL: `http://` or `https://`, a host, at most 2,048 characters, no spaces
/// or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let what = "an avatar URL";
        let value = raw.trim();
        if value.len() > Self::MAX_LEN {
            return Err(NameError::TooLong {
                what,
                max: Self::MAX_LEN,
            });
        }
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or(NameError::NotAUrl { what })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let valid =
            !host.is_empty() && value.chars().all(|c| c.is_ascii_graphic()) && !host.contains('@');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(NameError::NotAUrl { what })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personality_names_follow_the_registry_rules() {
        let ok = [
            ("einstein", "einstein"),
            ("Angel Dust", "Angel Dust"),
            ("  padded  ", "padded"),
            ("two   spaces", "two spaces"),
            ("a.b-c_d", "a.b-c_d"),
            ("Zoë", "Zoë"),
            ("ab", "ab"),
            ("R2D2", "R2D2"),
        ];
        for (raw, shown) in ok {
            assert_eq!(
                PersonalityName::parse(raw).unwrap().as_str(),
                shown,
                "{raw:?}"
            );
        }
        let fifty = "a".repeat(50);
        assert!(PersonalityName::parse(&fifty).is_ok());

        let bad: &[(&str, NameError)] = &[
            (
                "",
                NameError::Empty {
                    what: "a personality name",
                },
            ),
            (
                "   ",
                NameError::Empty {
                    what: "a personality name",
                },
            ),
            (
                "a",
                NameError::TooShort {
                    what: "a personality name",
                    min: 2,
                },
            ),
            (
                "a!",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '!',
                },
            ),
            (
                "<@123>",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '<',
                },
            ),
            (
                "robert'); drop",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '\'',
                },
            ),
            (
                "ein\u{200b}stein",
                NameError::Invisible {
                    what: "a personality name",
                },
            ),
            (
                "bell\u{7}",
                NameError::Invisible {
                    what: "a personality name",
                },
            ),
            (
                "rtl\u{202e}x",
                NameError::Invisible {
                    what: "a personality name",
                },
            ),
            // Cyrillic 'а' looks like Latin 'a': a different script, refused.
            (
                "\u{0430}dmin",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '\u{0430}',
                },
            ),
            (
                "ＡＢＣ",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: 'Ａ',
                },
            ),
            (
                "😀😀",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '😀',
                },
            ),
        ];
        for (raw, err) in bad {
            assert_eq!(PersonalityName::parse(raw).unwrap_err(), *err, "{raw:?}");
        }
        assert_eq!(
            PersonalityName::parse(&"a".repeat(51)).unwrap_err(),
            NameError::TooLong {
                what: "a personality name",
                max: 50
            }
        );
        assert_eq!(
            PersonalityName::parse(&"x".repeat(10_000)).unwrap_err(),
            NameError::TooLong {
                what: "a personality name",
                max: 50
            }
        );
    }

    #[test]
    fn reserved_names_are_refused_in_any_case() {
        for name in RESERVED_NAMES {
            for variant in [name.to_string(), name.to_uppercase(), format!("  {name} ")] {
                assert!(
                    matches!(
                        PersonalityName::parse(&variant),
                        Err(NameError::Reserved(_))
                    ),
                    "{variant:?}"
                );
                assert!(
                    matches!(Alias::parse(&variant), Err(NameError::Reserved(_))),
                    "{variant:?}"
                );
            }
        }
        assert!(PersonalityName::parse("helper").is_ok());
    }

    #[test]
    fn names_and_aliases_compare_case_insensitively() {
        assert_eq!(
            PersonalityName::parse("Einstein").unwrap(),
            PersonalityName::parse("EINSTEIN").unwrap()
        );
        assert_eq!(
            Alias::parse("Angel  DUST").unwrap(),
            Alias::parse("angel dust").unwrap()
        );
        assert_eq!(Alias::parse("Angel DUST").unwrap().key(), "angel dust");
        assert_eq!(Alias::parse("Angel DUST").unwrap().as_str(), "Angel DUST");
        let name = PersonalityName::parse("Lilith").unwrap();
        assert!(Alias::parse("LILITH").unwrap().equals_name(&name));
        assert!(!Alias::parse("lil").unwrap().equals_name(&name));
    }

    #[test]
    fn aliases_may_be_one_character_and_multi_word() {
        assert_eq!(Alias::parse("x").unwrap().as_str(), "x");
        assert_eq!(Alias::parse("albert e").unwrap().as_str(), "albert e");
        assert!(Alias::parse(&"a".repeat(51)).is_err());
        assert!(Alias::parse("").is_err());
        assert!(
            Alias::parse("tab\tbed").is_ok(),
            "whitespace collapses to one space"
        );
        assert_eq!(Alias::parse("tab\tbed").unwrap().as_str(), "tab bed");
        assert!(Alias::parse("zero\u{feff}width").is_err());
    }

    #[test]
    fn display_names_accept_any_script_but_no_invisible_characters() {
        assert_eq!(
            DisplayName::parse(" Ángel 🌸 ").unwrap().as_str(),
            "Ángel 🌸"
        );
        assert_eq!(DisplayName::parse("Лилит").unwrap().key(), "лилит");
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse("\u{200b}").is_err());
        assert!(
            DisplayName::parse("new\nline").is_ok(),
            "newline collapses to a space"
        );
        assert!(DisplayName::parse("nul\0").is_err());
        assert!(DisplayName::parse(&"d".repeat(80)).is_ok());
        assert!(DisplayName::parse(&"d".repeat(81)).is_err());
        assert!(DisplayName::parse(&"d".repeat(10_000)).is_err());
    }

    #[test]
    fn prompts_keep_newlines_and_refuse_other_control_characters() {
        assert_eq!(
            Prompt::parse("  You are X.\nBe kind.\t ").unwrap().as_str(),
            "You are X.\nBe kind."
        );
        assert!(Prompt::parse("").is_err());
        assert!(Prompt::parse("esc\u{1b}[31m").is_err());
        assert!(Prompt::parse(&"p".repeat(4000)).is_ok());
        assert!(Prompt::parse(&"p".repeat(10_000)).is_err());
        let name = PersonalityName::parse("einstein").unwrap();
        assert_eq!(Prompt::default_for(&name).as_str(), "You are einstein.");
        assert!(ErrorMessage::parse("Oops, my brain hurts").is_ok());
        assert!(ErrorMessage::parse(&"e".repeat(501)).is_err());
    }

    #[test]
    fn model_ids_and_avatar_urls_are_checked() {
        for ok in ["gpt-4o-mini", "meta-llama/Llama-3.1-8B", "claude:3@latest"] {
            assert!(ModelId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "é", &"m".repeat(101)] {
            assert!(ModelId::parse(bad).is_err(), "{bad}");
        }
        for ok in ["https://cdn.example/a.png", "http://127.0.0.1:8080/x?y=1"] {
            assert!(AvatarUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x",
            "https://",
            "javascript:alert(1)",
            "https://a b",
            "https://user@evil",
            "https://x/\u{202e}",
        ] {
            assert!(AvatarUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(AvatarUrl::parse(&format!("https://x/{}", "a".repeat(10_000))).is_err());
    }

    #[test]
    fn a_refused_model_id_lists_exactly_what_is_allowed() {
        for ok in [
            "gpt-4o-mini",
            "openai/gpt-4o",
            "llama3:8b",
            "claude@2024",
            "a.b_c",
        ] {
            assert!(ModelId::parse(ok).is_ok(), "{ok}");
        }
        let error = ModelId::parse("bad model").unwrap_err().to_string();
        assert!(error.contains("no spaces"), "{error}");
        assert!(
            !error.contains("spaces,"),
            "spaces are not listed as allowed: {error}"
        );
        assert!(error.contains(". _ - : / @"), "{error}");
    }
}
