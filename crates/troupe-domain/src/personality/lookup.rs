//! Finding a personality from what a user typed.

use super::aggregate::Personality;
use crate::text::{collapse_spaces, fold};

/// How a query matched a personality, in precedence order (name beats alias beats display name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LookupMatch {
    Name,
    Alias,
    DisplayName,
}

impl LookupMatch {
    /// How `query` matches `personality`, if at all (case-insensitive; spaces collapsed).
    pub fn of(query: &str, personality: &Personality) -> Option<Self> {
        let key = fold(&collapse_spaces(query));
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

/// Candidate mention texts in `content`, longest first: for every `mention_char` that starts a
/// word, the following 1..=`max_words` words (trailing punctuation stripped). The caller looks
/// each up in order and takes the first hit, so the longest multi-word alias wins.
pub fn mention_candidates(content: &str, mention_char: char, max_words: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words: Vec<&str> = content.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let Some(first) = word.strip_prefix(mention_char) else {
            continue;
        };
        if first.is_empty() {
            continue;
        }
        let mut phrase = String::new();
        for (n, w) in std::iter::once(first)
            .chain(words[i + 1..].iter().copied())
            .take(max_words)
            .enumerate()
        {
            if n > 0 {
                phrase.push(' ');
            }
            phrase.push_str(w);
            let trimmed = phrase.trim_end_matches(['.', ',', '!', '?', ':', ';', ')', '"', '\'']);
            if !trimmed.is_empty() && !out.iter().any(|o| o == trimmed) {
                out.push(trimmed.to_owned());
            }
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.split(' ').count()));
    out
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
    fn mention_candidates_are_longest_first_and_strip_punctuation() {
        let got = mention_candidates("hey @angel dust, how are you?", '@', 3);
        assert_eq!(got, vec!["angel dust, how", "angel dust", "angel"]);
        assert_eq!(mention_candidates("@bob!", '@', 3), vec!["bob"]);
        assert!(mention_candidates("mail me at x@y.z", '@', 3).is_empty());
        assert!(mention_candidates("@ alone", '@', 3).is_empty());
        assert_eq!(mention_candidates("&bob hi", '&', 1), vec!["bob"]);
        let long = "@a ".repeat(5000);
        assert!(mention_candidates(&long, '@', 4).len() <= 5000 * 4);
    }
}
