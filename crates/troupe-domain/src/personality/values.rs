//! Value objects of a personality, each parsed once and valid forever.

use std::fmt;
use std::hash::{Hash, Hasher};

use unicode_normalization::char::is_combining_mark;
use unicode_script::{Script, UnicodeScript};
use unicode_security::{GeneralSecurityProfile, MixedScript, skeleton};

use crate::text::{
    collapse_spaces, fold, is_direction_control, is_invisible, nfkc, strip_direction_marks,
};

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

/// What personality names and aliases may contain, as error messages say it.
pub const IDENTIFIER_ALPHABET: &str = "letters, digits, marks of one script; space - _ .";

/// What a model id may contain, as error messages say it.
const MODEL_ID_ALPHABET: &str = "ASCII letters, digits and . _ - : / @";

/// Why a text is not a valid personality value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} cannot be empty")]
    Empty { what: &'static str },
    #[error("{what} must be at least {min} characters")]
    TooShort { what: &'static str, min: usize },
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} cannot contain '{found}' (allowed: {allowed})")]
    InvalidCharacter {
        what: &'static str,
        found: char,
        allowed: &'static str,
    },
    #[error("{what} contains an invisible or control character")]
    Invisible { what: &'static str },
    #[error(
        "{what} contains a text-direction control ({code}); type it without one",
        code = format!("U+{:04X}", u32::from(*found))
    )]
    DirectionControl { what: &'static str, found: char },
    #[error("{what} mixes letters of different scripts ({scripts}); use one script")]
    MixedScripts { what: &'static str, scripts: String },
    #[error("{what} in {script} looks like the Latin '{latin}'; write it in Latin letters")]
    LooksLatin {
        what: &'static str,
        script: String,
        latin: String,
    },
    #[error("'{0}' is a reserved name")]
    Reserved(String),
    #[error("{what} must be an http(s) URL")]
    NotAUrl { what: &'static str },
}

/// Most combining marks in a row after a letter (vowel points and accents stack two or three
/// deep; more is decoration that hides what a name says).
const MAX_MARKS_IN_A_ROW: usize = 4;

/// A character of a name or alias: ASCII letters, digits, space, `-`, `_`, `.`; beyond ASCII,
/// letters and digits that Unicode's identifier profile (UTS #39) allows — every script in
/// current use; no emoji, symbols, punctuation, or historic and look-alike-prone letters — and
/// combining marks (accents, vowel points) after them.
fn is_identifier_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')
    } else {
        (c.is_alphanumeric() && c.identifier_allowed()) || is_combining_mark(c)
    }
}

/// The first character breaking the alphabet: a disallowed character, or a mark that follows
/// no letter or stacks too deep.
fn first_invalid(value: &str) -> Option<char> {
    let mut marks = 0;
    let mut after_letter = false;
    for c in value.chars() {
        if !is_identifier_char(c) {
            return Some(c);
        }
        if is_combining_mark(c) {
            marks += 1;
            if !after_letter || marks > MAX_MARKS_IN_A_ROW {
                return Some(c);
            }
        } else {
            marks = 0;
            after_letter = c.is_alphanumeric();
        }
    }
    None
}

/// The scripts of `value`'s letters, in order of appearance ("Latin and Cyrillic").
fn script_names(value: &str) -> String {
    let mut seen: Vec<Script> = Vec::new();
    for script in value.chars().map(|c| c.script()) {
        if !matches!(script, Script::Common | Script::Inherited | Script::Unknown)
            && !seen.contains(&script)
        {
            seen.push(script);
        }
    }
    let names: Vec<&str> = seen.iter().map(|s| s.full_name()).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn check_identifier(
    raw: &str,
    what: &'static str,
    min: usize,
    max: usize,
) -> Result<String, NameError> {
    let raw = strip_direction_marks(raw);
    if let Some(found) = raw.chars().find(|&c| is_direction_control(c)) {
        return Err(NameError::DirectionControl { what, found });
    }
    if raw
        .chars()
        .any(|c| is_invisible(c) || (c.is_control() && !c.is_whitespace()))
    {
        return Err(NameError::Invisible { what });
    }
    // Bounded before normalising, so a huge input costs nothing.
    if raw.chars().count() > max.saturating_mul(4).max(256) {
        return Err(NameError::TooLong { what, max });
    }
    let value = collapse_spaces(&nfkc(&raw));
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
    if let Some(found) = first_invalid(&value) {
        return Err(NameError::InvalidCharacter {
            what,
            found,
            allowed: IDENTIFIER_ALPHABET,
        });
    }
    if !value.as_str().is_single_script() {
        return Err(NameError::MixedScripts {
            what,
            scripts: script_names(&value),
        });
    }
    let key = fold(&value);
    // A whole name in another script made only of letters that look Latin (Cyrillic `сор`
    // for `cop`) imitates a Latin name: its skeleton (UTS #39) is plain ASCII.
    let scripts = script_names(&value);
    if !value.is_ascii() && !scripts.is_empty() && !scripts.contains("Latin") {
        for form in [&value, &key] {
            let latin: String = skeleton(form).collect();
            if latin.is_ascii() && latin.chars().any(|c| c.is_ascii_alphabetic()) {
                return Err(NameError::LooksLatin {
                    what,
                    script: scripts,
                    latin,
                });
            }
        }
    }
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
    /// A personality's unique name: 2–50 characters (after NFKC) of letters and digits of one
    /// script with their marks, space, `-`, `_`, `.`; not reserved, not a look-alike of a Latin
    /// name; compared by its case-folded key (ADR 0001).
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
        let raw = strip_direction_marks(raw);
        if let Some(found) = raw.chars().find(|&c| is_direction_control(c)) {
            return Err(NameError::DirectionControl { what, found });
        }
        if raw
            .chars()
            .any(|c| is_invisible(c) || (c.is_control() && !c.is_whitespace()))
        {
            return Err(NameError::Invisible { what });
        }
        let value = collapse_spaces(&raw);
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
            return Err(NameError::InvalidCharacter {
                what,
                found,
                allowed: MODEL_ID_ALPHABET,
            });
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
            ("ＡＢＣ", "ABC"),
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
                    allowed: IDENTIFIER_ALPHABET,
                },
            ),
            (
                "<@123>",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '<',
                    allowed: IDENTIFIER_ALPHABET,
                },
            ),
            (
                "robert'); drop",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '\'',
                    allowed: IDENTIFIER_ALPHABET,
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
                NameError::DirectionControl {
                    what: "a personality name",
                    found: '\u{202e}',
                },
            ),
            // Cyrillic 'а' looks like Latin 'a': mixing scripts is refused.
            (
                "\u{0430}dmin",
                NameError::MixedScripts {
                    what: "a personality name",
                    scripts: "Cyrillic and Latin".to_owned(),
                },
            ),
            (
                "😀😀",
                NameError::InvalidCharacter {
                    what: "a personality name",
                    found: '😀',
                    allowed: IDENTIFIER_ALPHABET,
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
    fn names_in_every_script_are_accepted_with_case_folded_keys() {
        let ok = [
            ("שלום", "שלום"),
            ("\u{200F}שלום\u{200F}", "שלום"), // RTL marks from an RTL keyboard are dropped
            ("מֹשֶׁה", "מֹשֶׁה"),                   // Hebrew with vowel points (marks)
            ("سلام", "سلام"),
            ("Σωκράτης", "σωκράτησ"), // final sigma folds
            ("Лилит", "лилит"),
            ("孔子", "孔子"),
            ("アインシュタイン", "アインシュタイン"),
            ("ひらがなと漢字", "ひらがなと漢字"), // Japanese mixes Han and kana: one writing system
            ("한국어", "한국어"),
            ("Ünïcödé", "ünïcödé"),
            ("Zoe\u{0308}", "zoë"), // decomposed accent: NFKC composes it
            ("अर्जुन", "अर्जुन"),
            ("Мария 2", "мария 2"),
        ];
        for (raw, key) in ok {
            let name = PersonalityName::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(name.key(), key, "{raw:?}");
            let alias = Alias::parse(raw).unwrap_or_else(|e| panic!("alias {raw:?}: {e}"));
            assert_eq!(alias.key(), key, "alias {raw:?}");
        }
        assert_eq!(
            PersonalityName::parse("ΣΩΚΡΑΤΗΣ").unwrap(),
            PersonalityName::parse("σωκρατης").unwrap(),
            "case-insensitive in Greek, final sigma included"
        );
        assert_eq!(
            Alias::parse("ЛИЛИТ").unwrap(),
            Alias::parse("лилит").unwrap()
        );
        assert_eq!(
            PersonalityName::parse("ＥＩＮＳＴＥＩＮ").unwrap(),
            PersonalityName::parse("einstein").unwrap(),
            "full-width letters are the same name"
        );
    }

    #[test]
    fn emoji_only_names_are_refused_with_what_is_allowed() {
        let err = PersonalityName::parse("🎭🎭").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a personality name cannot contain '🎭' (allowed: letters, digits, marks of one \
             script; space - _ .)"
        );
        let err = Alias::parse("שלום 🎭").unwrap_err();
        assert!(
            matches!(err, NameError::InvalidCharacter { found: '🎭', .. }),
            "{err}"
        );
    }

    #[test]
    fn look_alike_names_are_refused() {
        // `раypal`: Cyrillic р and а, then Latin: mixed scripts, with the scripts named.
        let err = PersonalityName::parse("\u{0440}\u{0430}ypal").unwrap_err();
        assert_eq!(
            err,
            NameError::MixedScripts {
                what: "a personality name",
                scripts: "Cyrillic and Latin".to_owned()
            }
        );
        assert!(
            err.to_string()
                .contains("different scripts (Cyrillic and Latin)")
        );
        assert!(
            PersonalityName::parse("раураӏ")
                .unwrap_err()
                .to_string()
                .ends_with("in Cyrillic looks like the Latin 'paypal'; write it in Latin letters")
        );
        // Entirely Cyrillic, but every letter looks Latin: it would pass for `paypal`.
        let err =
            PersonalityName::parse("\u{0440}\u{0430}\u{0443}\u{0440}\u{0430}\u{04CF}").unwrap_err();
        assert_eq!(
            err,
            NameError::LooksLatin {
                what: "a personality name",
                script: "Cyrillic".to_owned(),
                latin: "paypal".to_owned()
            },
            "{err}"
        );
        let err = Alias::parse("\u{0441}\u{043E}\u{0440}").unwrap_err(); // Cyrillic "сор"
        assert!(matches!(err, NameError::LooksLatin { .. }), "{err}");
        // Greek capitals that are all Latin look-alikes.
        assert!(matches!(
            PersonalityName::parse("ΑΒΕ"),
            Err(NameError::LooksLatin { .. })
        ));
        // Names with letters of their own script are not look-alikes.
        assert!(PersonalityName::parse("Лилит").is_ok());
        assert!(PersonalityName::parse("paypal").is_ok());
        // Full-width reserved names are reserved names.
        assert!(matches!(
            PersonalityName::parse("ＡＤＭＩＮ"),
            Err(NameError::Reserved(_))
        ));
    }

    #[test]
    fn direction_controls_are_refused_clearly_and_marks_removed() {
        let err = PersonalityName::parse("\u{202B}שלום").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a personality name contains a text-direction control (U+202B); type it without one"
        );
        assert!(matches!(
            Alias::parse("ab\u{2066}c"),
            Err(NameError::DirectionControl { .. })
        ));
        assert_eq!(Alias::parse("\u{200E}abc\u{200F}").unwrap().as_str(), "abc");
        assert_eq!(
            DisplayName::parse("\u{200F}שלום עולם\u{200F}")
                .unwrap()
                .as_str(),
            "שלום עולם"
        );
        // An RTL display name can become its auto-alias.
        let display = DisplayName::parse("\u{200F}שלום עולם").unwrap();
        assert_eq!(Alias::parse(display.key()).unwrap().key(), "שלום עולם");
    }

    #[test]
    fn name_errors_fit_a_reply_with_the_key_fact_first() {
        // Replies echo an error in a code span of at most 100 characters (ADR 0002).
        for raw in [
            "robert'); drop",
            "😀😀",
            "\u{202E}ab",
            "\u{0440}\u{0430}ypal",
            "\u{0440}\u{0430}\u{0443}\u{0440}\u{0430}\u{04CF}",
            "ein\u{200b}stein",
            "a",
            "Admin",
        ] {
            let shown = PersonalityName::parse(raw).unwrap_err().to_string();
            assert!(
                shown.chars().count() <= 100,
                "{}: {shown}",
                shown.chars().count()
            );
        }
    }

    #[test]
    fn model_id_errors_list_what_model_ids_allow() {
        let err = ModelId::parse("has space").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a model id cannot contain ' ' (allowed: ASCII letters, digits and . _ - : / @)"
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
}
