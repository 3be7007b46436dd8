//! Finding a personality from what a user typed.

use super::aggregate::Personality;
use std::collections::HashSet;

use unicode_normalization::char::is_combining_mark;

use crate::text::{is_direction_mark, lookup_key};

/// How a query matched a personality, in precedence order (name beats alias beats display name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LookupMatch {
    Name,
    Alias,
    DisplayName,
}

impl LookupMatch {
    /// How `query` matches `personality`, if at all (by [`lookup_key`]: case-folded, NFKC,
    /// spaces collapsed, direction marks ignored).
    pub fn of(query: &str, personality: &Personality) -> Option<Self> {
        let key = lookup_key(query);
        if key.is_empty() {
            None
        } else if personality.name().key() == key {
            Some(Self::Name)
        } else if personality.aliases().iter().any(|a| a.key() == key) {
            Some(Self::Alias)
        } else if personality.display_name().key() == key {
            Some(Self::DisplayName)
        } else {
            None
        }
    }
}

/// The lookup precedence as a pure function: the personality whose name equals `query`, else
/// the one with that alias, else the first whose display name equals it (all case-insensitive).
pub fn resolve<'a, I>(query: &str, personalities: I) -> Option<&'a Personality>
where
    I: IntoIterator<Item = &'a Personality>,
{
    personalities
        .into_iter()
        .filter_map(|p| LookupMatch::of(query, p).map(|m| (m, p)))
        .min_by_key(|(m, _)| *m)
        .map(|(_, p)| p)
}

/// Longest mention text looked at after the mention character, in characters: a name or
/// alias is at most 50 characters after NFKC; twice that leaves room for decomposed accents.
const MAX_MENTION_CHARS: usize = 100;

/// A character that can be part of a name or alias as typed: letters, digits, marks, `-`, `_`,
/// `.` (spaces separate words), and the direction marks right-to-left text carries.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric()
        || is_combining_mark(c)
        || matches!(c, '-' | '_' | '.')
        || is_direction_mark(c)
}

/// Candidate mention texts in `content`, most words first: for every `mention_char` that does
/// not follow a letter, digit, mark or another mention character (so `x@y.z` is not a mention, while
/// `(@einstein)`, `"@einstein"` and `**@einstein**` are), the following 1..=`max_words` words
/// of name characters (any script), each also without a trailing `.`, `-` or `_`. A phrase
/// ends at any other punctuation or a line break. The caller looks each up in order and takes
/// the first hit, so the longest multi-word alias wins.
///
/// Linear in the length of `content`: each mention reads at most [`MAX_MENTION_CHARS`]
/// characters, and candidates are bucketed by word count instead of sorted.
pub fn mention_candidates(content: &str, mention_char: char, max_words: usize) -> Vec<String> {
    let max_words = max_words.max(1);
    let mut by_words: Vec<Vec<String>> = vec![Vec::new(); max_words];
    let mut seen: HashSet<String> = HashSet::new();
    let mut previous: Option<char> = None;
    for (at, c) in content.char_indices() {
        let starts = c == mention_char
            && previous
                .is_none_or(|p| p != mention_char && !p.is_alphanumeric() && !is_combining_mark(p));
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &content[at + c.len_utf8()..];
        let mut words = 0;
        let mut in_word = false;
        let mut end = 0;
        for (i, ch) in rest.char_indices().take(MAX_MENTION_CHARS) {
            if is_name_char(ch) {
                in_word = true;
                end = i + ch.len_utf8();
                continue;
            }
            if in_word {
                in_word = false;
                words += 1;
                push_phrase(&rest[..end], words, &mut by_words, &mut seen);
                if words == max_words {
                    break;
                }
            }
            if !matches!(ch, ' ' | '\t') || end == 0 {
                break;
            }
        }
        if in_word && words < max_words {
            push_phrase(&rest[..end], words + 1, &mut by_words, &mut seen);
        }
    }
    by_words.into_iter().rev().flatten().collect()
}

/// Records `phrase` (and the phrase without a trailing `.`, `-` or `_`) as a candidate of
/// `words` words, once.
fn push_phrase(
    phrase: &str,
    words: usize,
    by_words: &mut [Vec<String>],
    seen: &mut HashSet<String>,
) {
    let trimmed = phrase.trim_end_matches(['.', '-', '_']);
    for candidate in [phrase, trimmed] {
        if !candidate.is_empty() && seen.insert(candidate.to_owned()) {
            by_words[words - 1].push(candidate.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::personality::{Actor, Alias, DisplayName, PersonalityName, Profile};
    use crate::time::Timestamp;

    fn make(name: &str, display: &str, aliases: &[&str]) -> Personality {
        let n = PersonalityName::parse(name).unwrap();
        let mut profile = Profile::local(&n, None);
        profile.display_name = DisplayName::parse(display).unwrap();
        let owner = UserId::new(1).unwrap();
        let mut p = Personality::create(n, owner, profile, Timestamp::EPOCH).0;
        for a in aliases {
            p.add_alias(
                Actor {
                    user: owner,
                    is_bot_owner: false,
                },
                Alias::parse(a).unwrap(),
                Timestamp::EPOCH,
            )
            .unwrap();
        }
        p
    }

    #[test]
    fn lookup_prefers_name_then_alias_then_display_name() {
        let all = [
            make("bob", "Robert", &["rob"]),
            make("rob", "Bobby", &["bobby b"]),
            make("bobby", "Rob", &[]),
        ];
        let cases = [
            ("rob", "rob"), // name beats bob's alias and bobby's display name
            ("ROB", "rob"),
            ("bobby b", "rob"), // alias
            ("Bobby", "bobby"), // name beats rob's display name
            ("robert", "bob"),  // display name
            ("  Bobby   B ", "rob"),
        ];
        for (query, expected) in cases {
            assert_eq!(
                resolve(query, &all).map(|p| p.name().as_str()),
                Some(expected),
                "{query:?}"
            );
        }
        for miss in ["", "   ", "nobody", "ro", "\u{200b}rob"] {
            assert!(resolve(miss, &all).is_none(), "{miss:?}");
        }
    }

    #[test]
    fn mention_candidates_are_longest_first_and_stop_at_punctuation() {
        let got = mention_candidates("hey @angel dust, how are you?", '@', 3);
        assert_eq!(got, vec!["angel dust", "angel"]);
        let got = mention_candidates("@angel dust is here", '@', 3);
        assert_eq!(got, vec!["angel dust is", "angel dust", "angel"]);
        assert_eq!(mention_candidates("@bob!", '@', 3), vec!["bob"]);
        assert_eq!(
            mention_candidates("ask @Dr. who", '@', 1),
            vec!["Dr.", "Dr"]
        );
        assert!(mention_candidates("mail me at x@y.z", '@', 3).is_empty());
        assert!(mention_candidates("@ alone", '@', 3).is_empty());
        assert!(mention_candidates("@@bob", '@', 3).is_empty());
        assert_eq!(mention_candidates("&bob hi", '&', 1), vec!["bob"]);
        assert_eq!(
            mention_candidates("@bob\nsecond line", '@', 3),
            vec!["bob"],
            "a line break ends the phrase"
        );
    }

    /// Issue 15: mentions after punctuation got no answer.
    #[test]
    fn mentions_after_any_punctuation_are_found() {
        for content in [
            "(@einstein) hi",
            "\"@einstein\" hi",
            "**@einstein** hi",
            "*@einstein* hi",
            "__@einstein__ hi",
            "'@einstein', hi",
            "«@einstein» hi",
            "hi,@einstein",
            "[@einstein] hi",
            "> @einstein hi",
            "`@einstein` hi",
        ] {
            let got = mention_candidates(content, '@', 1);
            assert!(got.iter().any(|c| c == "einstein"), "{content:?}: {got:?}");
        }
    }

    #[test]
    fn mentions_of_names_in_every_script_are_found() {
        let all = [
            make("שלום", "שלום", &[]),
            make("Σωκράτης", "Σωκράτης", &[]),
            make("孔子", "孔子", &["孔夫子"]),
            make("Лилит", "Лилит", &[]),
            make("سلام", "سلام", &[]),
        ];
        let cases = [
            ("\u{200F}@שלום\u{200F} מה נשמע", "שלום"),
            ("(@ΣΩΚΡΆΤΗΣ) γεια", "Σωκράτης"),
            ("「@孔夫子」你好", "孔子"),
            ("**@лилит** привет", "Лилит"),
            ("مرحبا @سلام!", "سلام"),
        ];
        for (content, expected) in cases {
            let found = mention_candidates(content, '@', 3)
                .iter()
                .find_map(|c| resolve(c, &all))
                .map(|p| p.name().as_str().to_owned());
            assert_eq!(found.as_deref(), Some(expected), "{content:?}");
        }
    }

    #[test]
    fn mention_candidates_take_linear_time_on_hostile_input() {
        // Each of these is 200,000 characters; quadratic work would take minutes.
        let n = 200_000;
        let inputs = [
            "@".repeat(n),
            "@a ".repeat(n / 3),
            format!("@{}", "a".repeat(n)),
            format!("{} {}", "@x".repeat(n / 4), "b ".repeat(n / 4)),
            "(@a) ".repeat(n / 5),
        ];
        for input in &inputs {
            let got = mention_candidates(input, '@', 4);
            // The output is linear too: short candidates, at most two per word of a mention.
            assert!(got.iter().all(|c| c.chars().count() <= MAX_MENTION_CHARS));
            let total: usize = got.iter().map(String::len).sum();
            assert!(total <= input.len() * 8, "{total} for {}", input.len());
        }
    }
}
