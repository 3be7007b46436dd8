//! Outcome comparison between the two command systems (docs/adr/0002): class, events,
//! follow-ups, ephemerality and the reply's key facts, after normalising ids, URLs and times.

use crate::model::{CommandOutcome, FollowUp, OutcomeClass};

/// Fields whose values legitimately differ between systems or runs.
const IGNORED_FIELDS: &[&str] = &["uptime", "command system"];

/// What is compared of an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub class: OutcomeClass,
    pub events: Vec<String>,
    pub follow_ups: Vec<String>,
    pub ephemeral: Option<bool>,
    /// (field name, normalised value), in order.
    pub fields: Vec<(String, String)>,
    /// Normalised `**bold**` and `` `code` `` spans of the reply text, in order.
    pub spans: Vec<String>,
}

/// Extracts the key facts of an outcome. Internal errors compare by class only (their
/// reference ids are random by design).
pub fn key_facts(outcome: &CommandOutcome) -> KeyFacts {
    let mut facts = KeyFacts {
        class: outcome.class,
        events: outcome.events.iter().map(|e| format!("{e:?}")).collect(),
        follow_ups: outcome.follow_ups.iter().map(follow_up_key).collect(),
        ephemeral: outcome.reply.as_ref().map(|r| r.ephemeral),
        fields: Vec::new(),
        spans: Vec::new(),
    };
    if outcome.class == OutcomeClass::InternalError {
        facts.follow_ups.clear();
        facts.ephemeral = None;
        return facts;
    }
    if let Some(reply) = &outcome.reply {
        facts.fields = reply
            .fields
            .iter()
            .filter(|f| !IGNORED_FIELDS.contains(&f.name.trim().to_lowercase().as_str()))
            .map(|f| (f.name.trim().to_owned(), normalise_value(&f.value)))
            .collect();
        facts.spans = spans(&reply.text)
            .into_iter()
            .map(|s| normalise(&s))
            .collect();
    }
    facts
}

fn follow_up_key(f: &FollowUp) -> String {
    match f {
        FollowUp::SendDm { user, message } => format!("dm:{user}:{}", normalise(&message.content)),
        FollowUp::DeleteInvokingMessage => "delete-invoking".into(),
        FollowUp::DeleteReplyAfter(d) => format!("delete-reply-after:{}s", d.as_secs()),
    }
}

/// The differences between two outcomes; empty when they match.
pub fn differences(authoritative: &CommandOutcome, candidate: &CommandOutcome) -> Vec<String> {
    let (a, b) = (key_facts(authoritative), key_facts(candidate));
    let mut out = Vec::new();
    if a.class != b.class {
        out.push(format!(
            "class: {} vs {}",
            a.class.as_str(),
            b.class.as_str()
        ));
    }
    if a.events != b.events {
        out.push(format!("events: {:?} vs {:?}", a.events, b.events));
    }
    if a.follow_ups != b.follow_ups {
        out.push(format!(
            "follow-ups: {:?} vs {:?}",
            a.follow_ups, b.follow_ups
        ));
    }
    if a.ephemeral != b.ephemeral {
        out.push(format!("ephemeral: {:?} vs {:?}", a.ephemeral, b.ephemeral));
    }
    if a.fields != b.fields {
        out.push(format!("fields: {:?} vs {:?}", a.fields, b.fields));
    }
    if a.spans != b.spans {
        out.push(format!("key facts: {:?} vs {:?}", a.spans, b.spans));
    }
    out
}

/// `**bold**` and `` `code` `` spans of a text, in order.
pub fn spans(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let bold = rest.find("**");
        let code = rest.find('`');
        let (start, delim) = match (bold, code) {
            (Some(b), Some(c)) if b < c => (b, "**"),
            (Some(b), None) => (b, "**"),
            (_, Some(c)) => (c, "`"),
            (None, None) => break,
        };
        let after = &rest[start + delim.len()..];
        match after.find(delim) {
            Some(end) => {
                let inner = after[..end].trim();
                if !inner.is_empty() {
                    out.push(inner.to_owned());
                }
                rest = &after[end + delim.len()..];
            }
            None => break,
        }
    }
    out
}

fn normalise_value(value: &str) -> String {
    let plain: String = value.chars().filter(|c| *c != '`' && *c != '*').collect();
    normalise(&plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Replaces URLs with `<url>`, runs of 15+ digits (snowflakes) with `<id>`, and ISO dates
/// (with an optional time) with `<time>`.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
        if rest.starts_with("https://") || rest.starts_with("http://") {
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], ')' | '>' | '`' | '*')
            {
                i += 1;
            }
            out.push_str("<url>");
            continue;
        }
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits = i - start;
            if digits == 4 && is_date_at(&chars, start) {
                i = start + 10;
                if i < chars.len() && chars[i] == 'T' {
                    while i < chars.len()
                        && (chars[i].is_ascii_alphanumeric()
                            || matches!(chars[i], ':' | '+' | '-')
                            || (chars[i] == '.'
                                && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
                    {
                        i += 1;
                    }
                }
                out.push_str("<time>");
            } else if digits >= 15 {
                out.push_str("<id>");
            } else {
                out.extend(&chars[start..i]);
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn is_date_at(chars: &[char], start: usize) -> bool {
    let d = |k: usize| chars.get(start + k).is_some_and(char::is_ascii_digit);
    let c = |k: usize, ch: char| chars.get(start + k) == Some(&ch);
    c(4, '-') && d(5) && d(6) && c(7, '-') && d(8) && d(9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reply;
    use troupe_ports::EmbedField;

    fn outcome(class: OutcomeClass, text: &str, fields: &[(&str, &str)]) -> CommandOutcome {
        let reply = Reply {
            text: text.into(),
            fields: fields
                .iter()
                .map(|(n, v)| EmbedField {
                    name: (*n).into(),
                    value: (*v).into(),
                    inline: false,
                })
                .collect(),
            ..Reply::default()
        };
        CommandOutcome::new(class, reply)
    }

    #[test]
    fn spans_are_the_bold_and_code_parts_in_order() {
        assert_eq!(
            spans("Added **einstein** with alias `albert e` and `ae`."),
            ["einstein", "albert e", "ae"]
        );
        assert_eq!(spans("no facts"), Vec::<String>::new());
        assert_eq!(spans("unclosed **bold"), Vec::<String>::new());
        assert_eq!(spans("`a**b`"), ["a**b"]);
    }

    #[test]
    fn ids_urls_and_times_are_normalised() {
        let cases = [
            ("owner <@123456789012345678>", "owner <@<id>>"),
            ("see https://x.example/a?b=1 now", "see <url> now"),
            ("created 2025-06-14", "created <time>"),
            ("at 2025-06-14T10:30:00Z.", "at <time>."),
            ("page 2 of 3", "page 2 of 3"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise(raw), expected, "{raw}");
        }
    }

    #[test]
    fn wording_may_differ_but_facts_may_not() {
        let a = outcome(
            OutcomeClass::Success,
            "Removed **einstein**. This cannot be undone.",
            &[],
        );
        let b = outcome(OutcomeClass::Success, "**einstein** is gone for good.", &[]);
        assert!(differences(&a, &b).is_empty());
        let c = outcome(OutcomeClass::Success, "Removed **newton**.", &[]);
        assert_eq!(differences(&a, &c).len(), 1);
        let d = outcome(OutcomeClass::NotFound, "Removed **einstein**.", &[]);
        assert!(differences(&a, &d)[0].starts_with("class"));
    }

    #[test]
    fn fields_compare_by_name_and_plain_value_ignoring_uptime_and_system() {
        let a = outcome(
            OutcomeClass::Success,
            "",
            &[
                ("Latency", "`42 ms`"),
                ("Uptime", "3h"),
                ("Command system", "`legacy`"),
            ],
        );
        let b = outcome(
            OutcomeClass::Success,
            "",
            &[
                ("Latency", "42 ms"),
                ("Uptime", "4h"),
                ("Command system", "`ddd`"),
            ],
        );
        assert!(differences(&a, &b).is_empty());
        let c = outcome(OutcomeClass::Success, "", &[("Latency", "43 ms")]);
        assert!(!differences(&a, &c).is_empty());
    }
}
