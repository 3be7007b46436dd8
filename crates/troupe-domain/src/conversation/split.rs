//! Splitting a long reply into messages the chat platform accepts (commands.md §3): at most
//! [`MAX_MESSAGE_CHARS`] characters each, cut on a paragraph, then a line, then a sentence, then
//! a word boundary, with code fences closed at the end of a chunk and reopened (same language)
//! at the start of the next, in order.

/// Longest message content, in characters (Unicode scalar values), as Discord counts them.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// The closing fence appended to a chunk that ends inside a code block.
const CLOSE_FENCE: &str = "\n```";
/// Longest reopening fence line (```` ``` ```` and a language tag) carried to the next chunk.
const MAX_OPENER_CHARS: usize = 24;

/// Splits `text` into chunks of at most `max` characters (`max` below 64 is treated as 64, so a
/// fence always fits). Chunks are non-empty and in order; joined, they give back the text up
/// to the whitespace at the cuts and the fences added to keep every chunk's code blocks
/// balanced. An empty or blank text gives no chunk.
pub fn split_reply(text: &str, max: usize) -> Vec<String> {
    let max = max.max(64);
    let mut chunks = Vec::new();
    let mut rest = text.trim_end();
    let mut open: Option<String> = None;
    loop {
        rest = if open.is_some() {
            rest.trim_start_matches(['\n', '\r'])
        } else {
            rest.trim_start()
        };
        if rest.trim().is_empty() {
            break;
        }
        let prefix = open.as_ref().map(|o| format!("{o}\n")).unwrap_or_default();
        let prefix_len = prefix.chars().count();
        if prefix_len + rest.chars().count() <= max {
            chunks.push(format!("{prefix}{rest}"));
            break;
        }
        let budget = max - prefix_len - CLOSE_FENCE.len();
        let (body, next) = cut(rest, budget);
        let state = fence_state(body, open.clone());
        let mut chunk = prefix;
        chunk.push_str(body);
        if state.is_some() {
            chunk.push_str(CLOSE_FENCE);
        }
        chunks.push(chunk);
        open = state;
        rest = next;
    }
    chunks
}

/// Cuts `rest` (longer than `budget` characters) into a non-empty body of at most `budget`
/// characters and what follows, at the best boundary.
fn cut(rest: &str, budget: usize) -> (&str, &str) {
    let window_end = rest
        .char_indices()
        .nth(budget)
        .map_or(rest.len(), |(i, _)| i);
    let window = &rest[..window_end];
    let half = window.len() / 2;
    let at_least_half = |pos: &usize| *pos >= half && *pos > 0;

    let boundary = window
        .rfind("\n\n")
        .filter(at_least_half)
        .map(|pos| (pos, skip_newlines(rest, pos)))
        .or_else(|| {
            window
                .rfind('\n')
                .filter(at_least_half)
                .map(|pos| (pos, pos + 1))
        })
        .or_else(|| sentence_end(window).filter(|(pos, _)| at_least_half(pos)))
        .or_else(|| {
            window
                .rfind(char::is_whitespace)
                .filter(|pos| *pos > 0)
                .map(|pos| (pos, skip_spaces(rest, pos)))
        });
    match boundary {
        Some((end, next)) if !rest[..end].trim().is_empty() => {
            (rest[..end].trim_end(), &rest[next..])
        }
        _ => (window, &rest[window_end..]),
    }
}

/// The position after the last sentence end (`.`, `!` or `?` followed by a space) in `window`,
/// and where the next sentence starts.
fn sentence_end(window: &str) -> Option<(usize, usize)> {
    let bytes = window.as_bytes();
    (1..bytes.len())
        .rev()
        .find(|&i| bytes[i] == b' ' && matches!(bytes[i - 1], b'.' | b'!' | b'?'))
        .map(|i| (i, skip_spaces(window, i)))
}

fn skip_newlines(text: &str, from: usize) -> usize {
    from + text[from..].len() - text[from..].trim_start_matches(['\n', '\r']).len()
}

fn skip_spaces(text: &str, from: usize) -> usize {
    from + text[from..].len() - text[from..].trim_start_matches([' ', '\t']).len()
}

/// The fence still open at the end of `body`, starting from `open`: every line whose trimmed
/// start is ```` ``` ```` opens a block (remembering its opener line, cut to a sane length) or
/// closes the open one.
fn fence_state(body: &str, mut open: Option<String>) -> Option<String> {
    for line in body.lines() {
        let trimmed = line.trim();
        if !trimmed.starts_with("```") {
            continue;
        }
        open = if open.is_some() {
            None
        } else {
            let language: String = trimmed
                .trim_start_matches('`')
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '+' | '-' | '_' | '#'))
                .take(MAX_OPENER_CHARS - 3)
                .collect();
            Some(format!("```{language}"))
        };
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    fn fences_balanced(chunk: &str) -> bool {
        chunk
            .lines()
            .filter(|l| l.trim().starts_with("```"))
            .count()
            % 2
            == 0
    }

    /// The text without whitespace and fence lines, to compare content across a split.
    fn letters(s: &str) -> String {
        s.lines()
            .filter(|l| !l.trim().starts_with("```"))
            .flat_map(str::chars)
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    #[test]
    fn short_replies_are_one_chunk_and_blank_replies_none() {
        assert_eq!(split_reply("hello", 2000), vec!["hello"]);
        assert_eq!(split_reply("  hi there \n", 2000), vec!["hi there"]);
        assert!(split_reply("", 2000).is_empty());
        assert!(split_reply(" \n\t ", 2000).is_empty());
        let exact = "é".repeat(2000);
        assert_eq!(split_reply(&exact, 2000), vec![exact.clone()]);
    }

    #[test]
    fn paragraphs_are_preferred_over_lines_sentences_and_words() {
        let para = format!("{}\n\n{}", "a".repeat(120), "b".repeat(60));
        assert_eq!(
            split_reply(&para, 150),
            vec!["a".repeat(120), "b".repeat(60)]
        );
        let lines = format!("{} x\n{}", "a".repeat(100), "b".repeat(60));
        assert_eq!(
            split_reply(&lines, 150),
            vec![format!("{} x", "a".repeat(100)), "b".repeat(60)]
        );
        let sentences = format!("{}. {} {}", "a".repeat(100), "b".repeat(30), "c".repeat(30));
        assert_eq!(
            split_reply(&sentences, 150),
            vec![
                format!("{}.", "a".repeat(100)),
                format!("{} {}", "b".repeat(30), "c".repeat(30))
            ]
        );
        let words = format!("{} {}", "a".repeat(100), "b".repeat(60));
        assert_eq!(
            split_reply(&words, 150),
            vec!["a".repeat(100), "b".repeat(60)]
        );
    }

    #[test]
    fn text_without_any_boundary_is_cut_hard_at_a_character_boundary() {
        let text = "é".repeat(5000);
        let chunks = split_reply(&text, 2000);
        assert!(chunks.iter().all(|c| chars(c) <= 2000));
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn code_fences_are_closed_and_reopened_with_their_language() {
        let mut code = String::new();
        for i in 0..300 {
            code.push_str(&format!("let x{i} = {i};\n"));
        }
        let text = format!("Here:\n```rust\n{code}```\nDone.");
        let chunks = split_reply(&text, 2000);
        assert!(chunks.len() >= 3, "{}", chunks.len());
        for (i, chunk) in chunks.iter().enumerate() {
            assert!(chars(chunk) <= 2000, "chunk {i} has {}", chars(chunk));
            assert!(fences_balanced(chunk), "chunk {i}: {chunk}");
            if i > 0 && i + 1 < chunks.len() {
                assert!(chunk.starts_with("```rust\n"), "chunk {i} reopens");
            }
        }
        assert_eq!(letters(&chunks.join("\n")), letters(&text));
    }

    #[test]
    fn six_thousand_characters_become_ordered_chunks_within_the_limit() {
        let mut text = String::new();
        let mut n = 0;
        while chars(&text) < 6000 {
            text.push_str(&format!("Sentence number {n} is here. "));
            if n % 7 == 6 {
                text.push_str("\n\n```\ncode block line\n```\n\n");
            }
            n += 1;
        }
        let chunks = split_reply(&text, MAX_MESSAGE_CHARS);
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| chars(c) <= MAX_MESSAGE_CHARS));
        assert!(chunks.iter().all(|c| fences_balanced(c)));
        assert_eq!(
            letters(&chunks.join("\n")),
            letters(&text),
            "order and content kept"
        );
    }

    #[test]
    fn every_chunk_fits_whatever_the_text() {
        let samples = [
            "```".repeat(3000),
            "``` \n".repeat(900),
            format!("```{}\n{}", "x".repeat(500), "y ".repeat(3000)),
            "\n".repeat(5000),
            "a\n\n".repeat(2000),
            "word. ".repeat(1000),
        ];
        for (i, text) in samples.iter().enumerate() {
            for max in [0, 64, 100, 2000] {
                let chunks = split_reply(text, max);
                let limit = max.max(64);
                assert!(
                    chunks.iter().all(|c| chars(c) <= limit && !c.is_empty()),
                    "sample {i} max {max}"
                );
            }
        }
    }
}
