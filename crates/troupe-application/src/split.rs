//! Splitting long text into chat-sized chunks (commands.md §3): on paragraph, then line, then
//! sentence, then word boundaries, with code fences kept balanced across chunks. Pure and
//! platform-neutral: the limit is a parameter (Discord's is [`DISCORD_MESSAGE_LIMIT`]).

/// Discord's message content limit, in Unicode scalar values.
pub const DISCORD_MESSAGE_LIMIT: usize = 2000;

/// Splits `text` into chunks of at most `limit` characters (Unicode scalar values), in order.
///
/// Breaks are chosen at the last paragraph break (`\n\n`) that fits, else the last line break,
/// else the last sentence end (`. `, `! `, `? `), else the last space, else a hard cut. When a
/// chunk ends inside a ```` ``` ```` code fence, the chunk is closed with ```` ``` ```` and the
/// next one reopens the fence with the same language tag, so every chunk renders on its own.
/// Empty or whitespace-only input gives no chunk. A `limit` below 16 is raised to 16 (room for
/// the fence markers).
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut chunks = Vec::new();
    let mut rest: String = text.trim_end().to_owned();
    let mut reopen: Option<String> = None;
    while !rest.trim().is_empty() {
        let body = match reopen.take() {
            Some(fence) => format!("{fence}\n{rest}"),
            None => rest.clone(),
        };
        if body.chars().count() <= limit && open_fence(&body).is_none() {
            chunks.push(body);
            break;
        }
        if body.chars().count() <= limit {
            // Fits, but leaves a fence open (unbalanced input): close it.
            let closed = close_with_fence(&body);
            if closed.chars().count() <= limit {
                chunks.push(closed);
                break;
            }
        }
        // Reserve room for a closing fence ("\n```").
        let budget = limit - 4;
        let cut = choose_cut(&body, budget);
        let (head, tail) = body.split_at(cut);
        let head = head.trim_end();
        let mut chunk = head.to_owned();
        if let Some(fence) = open_fence(head) {
            chunk = close_with_fence(&chunk);
            reopen = Some(fence);
        }
        if !chunk.trim().is_empty() {
            chunks.push(chunk);
        }
        rest = tail.trim_start_matches([' ', '\n']).to_owned();
        if rest.trim().is_empty() {
            break;
        }
    }
    chunks
}

fn close_with_fence(chunk: &str) -> String {
    if chunk.ends_with('\n') {
        format!("{chunk}```")
    } else {
        format!("{chunk}\n```")
    }
}

/// The opening line (```` ```lang ````) of a fence left open at the end of `text`, if any.
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    let mut search = text;
    while let Some(pos) = search.find("```") {
        let after = &search[pos + 3..];
        match open {
            Some(_) => open = None,
            None => {
                let lang: String = after
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '`')
                    .collect();
                open = Some(format!("```{lang}"));
            }
        }
        search = after;
    }
    open
}

/// A byte index (on a char boundary) at which to cut `text` so the head has at most `budget`
/// characters, preferring paragraph, line, sentence, then word boundaries.
fn choose_cut(text: &str, budget: usize) -> usize {
    let hard = text
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(i, _)| i);
    let window = &text[..hard];
    // Only accept a boundary in the second half of the window, so chunks are not tiny.
    let min = window.len() / 2;
    let candidates: [&dyn Fn(&str) -> Option<usize>; 4] = [
        &|w| w.rfind("\n\n").map(|i| i + 1),
        &|w| w.rfind('\n').map(|i| i + 1),
        &|w| {
            [". ", "! ", "? "]
                .iter()
                .filter_map(|p| w.rfind(p).map(|i| i + 1))
                .max()
        },
        &|w| w.rfind(' ').map(|i| i + 1),
    ];
    for find in candidates {
        if let Some(i) = find(window)
            && i > min
        {
            return i;
        }
    }
    if hard == 0 {
        // Budget of zero characters cannot happen (limit ≥ 16); cut after one char anyway.
        text.char_indices().nth(1).map_or(text.len(), |(i, _)| i)
    } else {
        hard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences_balanced(chunk: &str) -> bool {
        chunk.matches("```").count() % 2 == 0
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split_message("hello", 2000), ["hello"]);
        assert!(split_message("  \n ", 2000).is_empty());
    }

    #[test]
    fn long_text_splits_on_paragraphs_first() {
        let para = "word ".repeat(300);
        let text = format!("{}\n\n{}", para.trim(), para.trim());
        let chunks = split_message(&text, 2000);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], para.trim());
    }

    #[test]
    fn every_chunk_fits_and_nothing_is_lost() {
        let text = "Sentence number one is here. ".repeat(200);
        let chunks = split_message(&text, 2000);
        assert!(chunks.iter().all(|c| c.chars().count() <= 2000));
        let joined: String = chunks.join(" ");
        assert_eq!(
            joined.split_whitespace().count(),
            text.split_whitespace().count()
        );
    }

    #[test]
    fn code_fences_stay_balanced_across_chunks() {
        let code: String = (0..300).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("Here:\n```rust\n{code}```\nDone.");
        let chunks = split_message(&text, 2000);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.chars().count() <= 2000, "{}", chunk.len());
            assert!(fences_balanced(chunk), "unbalanced: {chunk}");
        }
        assert!(chunks[1].starts_with("```rust\n"));
    }

    #[test]
    fn text_without_spaces_is_cut_hard_on_char_boundaries() {
        let text = "é".repeat(4500);
        let chunks = split_message(&text, 2000);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.iter().map(|c| c.chars().count()).sum::<usize>(), 4500);
    }
}
