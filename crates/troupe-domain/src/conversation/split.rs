//! Splitting a long reply into messages the chat platform accepts (commands.md §3), the one
//! splitter every destination uses.
//!
//! A [`Layout`] says what surrounds each chunk at its destination (the `**Name:** ` prefix of a
//! personality's DM, nothing for a webhook) and the longest message; the prefix and the fences
//! added to keep code blocks balanced are counted *before* the text is cut, so a chunk never has
//! to be cut again. Every chunk is at most `max` UTF-16 code units (Discord's count) and so at
//! most `max` characters. The text is cut on a paragraph, then a line, then a sentence, then a
//! word boundary; short markdown spans (bold, italic, strike, spoiler, inline code, links) are
//! never cut when another boundary exists; a word longer than a message is cut only where no
//! boundary leaves a reasonable chunk (never a chunk of just "See" before a long URL). Code
//! fences are closed at the end of a chunk and reopened with their language at the start of the
//! next; no chunk is empty or only markup (an answer that is one long code block does not start
//! with an empty block).

use std::ops::Range;

/// Longest message content, as Discord counts it (UTF-16 code units; never more characters).
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Smallest `max` a layout accepts: a fence, an opener and some text always fit.
const MIN_MAX: usize = 64;
/// The closing fence appended to a chunk that ends inside a code block.
const CLOSE_FENCE: &str = "\n```";
/// Longest reopening fence line (```` ``` ```` and a language tag) carried to the next chunk.
const MAX_OPENER_CHARS: usize = 24;
/// Longest markdown span (in bytes) kept whole: longer spans are cut like plain text.
const SHORT_SPAN: usize = 400;

/// What surrounds each chunk at its destination, and the longest message there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
    max: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self::plain()
    }
}

impl Layout {
    /// Chunks sent as they are (a webhook message, a console line): at most
    /// [`MAX_MESSAGE_CHARS`] each.
    pub fn plain() -> Self {
        Self {
            prefix: String::new(),
            max: MAX_MESSAGE_CHARS,
        }
    }

    /// A personality's message in a DM: every chunk starts with `**Name:** `.
    pub fn dm(display_name: &str) -> Self {
        Self::plain().with_prefix(&format!("**{}:** ", display_name.trim()))
    }

    /// The layout of a personality's message: [`Layout::dm`] in DMs, [`Layout::plain`] in guilds.
    pub fn personality(is_dm: bool, display_name: &str) -> Self {
        if is_dm {
            Self::dm(display_name)
        } else {
            Self::plain()
        }
    }

    /// The same layout with `prefix` before every chunk (cut to a quarter of the message, so
    /// text always fits).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        take_units(prefix, self.max / 4).clone_into(&mut self.prefix);
        self
    }

    /// The same layout with at most `max` UTF-16 units a message (at least 64).
    pub fn with_max(mut self, max: usize) -> Self {
        self.max = max.max(MIN_MAX);
        let prefix = std::mem::take(&mut self.prefix);
        self.with_prefix(&prefix)
    }

    /// The prefix every chunk starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The longest message, in UTF-16 units.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The messages to send for `text`, each with the prefix; none for a blank text.
    pub fn split(&self, text: &str) -> Vec<String> {
        self.render(text, true)
    }

    /// The chunks of `text` *without* the prefix, each sized so that the prefix still fits: what
    /// a caller hands to a destination that adds the prefix itself.
    pub fn split_bodies(&self, text: &str) -> Vec<String> {
        self.render(text, false)
    }

    fn render(&self, text: &str, with_prefix: bool) -> Vec<String> {
        plan(text, self)
            .into_iter()
            .map(|piece| {
                let mut out = String::new();
                if with_prefix {
                    out.push_str(&self.prefix);
                }
                if piece.fence_line_after_prefix {
                    out.push('\n');
                }
                if let Some(opener) = &piece.reopen {
                    out.push_str(opener);
                    out.push('\n');
                }
                out.push_str(&text[piece.range.clone()]);
                if piece.close {
                    out.push_str(CLOSE_FENCE);
                }
                out
            })
            .collect()
    }
}

/// Splits `text` into chunks of at most `max` UTF-16 units with no prefix (`max` below 64 is
/// treated as 64): [`Layout::plain`] with that maximum.
pub fn split_reply(text: &str, max: usize) -> Vec<String> {
    Layout::plain().with_max(max).split(text)
}

/// One chunk: the reopened fence (if it starts inside a code block), the range of the original
/// text it carries, and whether a closing fence is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    /// A newline after the prefix, so a chunk starting with a fence has it on its own line.
    fence_line_after_prefix: bool,
    reopen: Option<String>,
    range: Range<usize>,
    close: bool,
}

fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Whether `s` is at most `max` UTF-16 units (stops counting past `max`).
fn fits(s: &str, max: usize) -> bool {
    let mut used = 0;
    s.chars().all(|c| {
        used += c.len_utf16();
        used <= max
    })
}

/// The longest start of `s` of at most `max` UTF-16 units.
fn take_units(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// A fenced code block of the text: its opener line `[start, open_end)`, the language opener
/// to repeat, and its closing line `[close_start, close_end)` when it is closed.
#[derive(Debug, Clone)]
struct Block {
    open_start: usize,
    open_end: usize,
    opener: String,
    close: Option<Range<usize>>,
}

impl Block {
    /// The end of the block's inside: where its closing fence starts (or the text's end).
    fn inside_end(&self, len: usize) -> usize {
        self.close.as_ref().map_or(len, |c| c.start)
    }
}

/// What the splitter knows about the text: its code blocks and protected spans, both sorted.
struct Markup {
    blocks: Vec<Block>,
    /// Fence lines (trimmed), sorted: a cut never falls inside one.
    fence_lines: Vec<Range<usize>>,
    /// Disjoint, sorted ranges of short markdown spans: a cut strictly inside one is avoided.
    spans: Vec<Range<usize>>,
    len: usize,
}

/// True when `trimmed` (a trimmed line) is a fence: starts with three backticks and has no
/// other backtick run later (```` ```code``` ```` on one line is inline code).
fn is_fence_line(trimmed: &str) -> bool {
    trimmed.starts_with("```") && !trimmed.trim_start_matches('`').contains("```")
}

impl Markup {
    fn scan(text: &str) -> Self {
        let mut blocks: Vec<Block> = Vec::new();
        let mut fence_lines = Vec::new();
        let mut spans = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let content = line.trim_end();
            let trimmed = content.trim_start();
            let lead = content.len() - trimmed.len();
            let inside = blocks.last().is_some_and(|b| b.close.is_none());
            if is_fence_line(trimmed) {
                let range = start + lead..start + content.len();
                fence_lines.push(range.clone());
                if inside {
                    if let Some(block) = blocks.last_mut() {
                        block.close = Some(range);
                    }
                } else {
                    let language: String = trimmed
                        .trim_start_matches('`')
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || matches!(c, '+' | '-' | '_' | '#'))
                        .take(MAX_OPENER_CHARS - 3)
                        .collect();
                    blocks.push(Block {
                        open_start: range.start,
                        open_end: range.end,
                        opener: format!("```{language}"),
                        close: None,
                    });
                }
            } else if !inside {
                inline_spans(content, start, &mut spans);
            }
        }
        spans.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::new();
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start < last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        Self {
            blocks,
            fence_lines,
            spans: merged,
            len: text.len(),
        }
    }

    /// The block whose inside (after its opener line, before its closing line) contains `pos`.
    fn block_at(&self, pos: usize) -> Option<&Block> {
        let i = self.blocks.partition_point(|b| b.open_end <= pos);
        let block = self.blocks.get(i.checked_sub(1)?)?;
        (pos < block.inside_end(self.len)).then_some(block)
    }

    fn in_span(&self, pos: usize) -> bool {
        let i = self.spans.partition_point(|r| r.start < pos);
        i > 0 && pos < self.spans[i - 1].end
    }

    /// The fence line containing `pos` (inclusive of its end), if any.
    fn fence_line_at(&self, pos: usize) -> Option<&Range<usize>> {
        let i = self.fence_lines.partition_point(|r| r.start <= pos);
        let line = self.fence_lines.get(i.checked_sub(1)?)?;
        (pos <= line.end).then_some(line)
    }

    /// True when a chunk's text ending at `end` (trimmed) ends with an opener line: the block
    /// would be empty in that chunk.
    fn ends_with_opener(&self, end: usize) -> bool {
        self.fence_line_at(end)
            .is_some_and(|line| line.end == end && self.blocks.iter().any(|b| b.open_end == end))
    }
}

/// Records the short markdown spans of one line (outside code blocks) as byte ranges of the
/// text (`base` is the line's offset): inline code, `**`, `__`, `~~`, `||`, `*`, `_` pairs and
/// `[text](url)` links. Each search is bounded by [`SHORT_SPAN`], so the scan is linear.
fn inline_spans(line: &str, base: usize, spans: &mut Vec<Range<usize>>) {
    let bytes = line.as_bytes();
    // Closing delimiters already paired: they do not open another span.
    let mut closers: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &line[i..];
        if let Some(at) = closers.iter().position(|&(c, _)| c == i) {
            let (closer, len) = closers.swap_remove(at);
            i = closer + len;
            continue;
        }
        if rest.starts_with('`') {
            let run = rest.len() - rest.trim_start_matches('`').len();
            let delimiter = &rest[..run];
            if let Some(end) = floor_window(line, i + run).find(delimiter) {
                let end = i + run + end + run;
                spans.push(base + i..base + end);
                i = end;
                continue;
            }
            i += run;
            continue;
        }
        let pair = ["**", "__", "~~", "||"]
            .into_iter()
            .find(|d| rest.starts_with(d));
        if let Some(d) = pair {
            if let Some(end) = floor_window(line, i + 2).find(d) {
                spans.push(base + i..base + i + 2 + end + 2);
                closers.push((i + 2 + end, 2));
            }
            i += 2;
            continue;
        }
        match bytes[i] {
            b @ (b'*' | b'_') => {
                let after = &line[i + 1..];
                if after.starts_with(|c: char| !c.is_whitespace())
                    && let Some(end) = floor_window(line, i + 1).find(b as char)
                    && end > 0
                    && !after[..end].ends_with(char::is_whitespace)
                {
                    spans.push(base + i..base + i + 1 + end + 1);
                    closers.push((i + 1 + end, 1));
                }
                i += 1;
            }
            b'[' => {
                if let Some(mid) = floor_window(line, i).find("](")
                    && let Some(close) = floor_window(line, i + mid + 2).find(')')
                {
                    spans.push(base + i..base + i + mid + 2 + close + 1);
                }
                i += 1;
            }
            _ => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
}

/// `line[from..]` cut to at most [`SHORT_SPAN`] bytes, at a character boundary.
fn floor_window(line: &str, from: usize) -> &str {
    let mut end = line.len().min(from + SHORT_SPAN);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[from..end]
}

/// The boundary kinds, best first. A paragraph, line or sentence boundary is taken when it
/// leaves at least half a message; a word boundary when it leaves at least a tenth.
#[derive(Clone, Copy)]
enum Rank {
    Paragraph = 0,
    Line = 1,
    Sentence = 2,
    Word = 3,
}

fn plan(text: &str, layout: &Layout) -> Vec<Piece> {
    let text = text.trim_end();
    let markup = Markup::scan(text);
    let mut pieces = Vec::new();
    let mut pos = 0;
    let prefix_units = units(&layout.prefix);
    loop {
        // Skip the whitespace at the cut (inside code only blank lines, to keep indentation),
        // and a closing fence whose block the previous chunk closed already.
        let open = markup.block_at(pos);
        let skipped = if open.is_some() {
            text[pos..].trim_start_matches(['\n', '\r'])
        } else {
            text[pos..].trim_start()
        };
        pos = text.len() - skipped.len();
        if pos >= text.len() {
            break;
        }
        if open.is_none()
            && let Some(block) = markup
                .blocks
                .iter()
                .find(|b| b.close.as_ref().is_some_and(|c| c.start == pos) && b.open_start < pos)
            && pieces
                .last()
                .is_some_and(|p: &Piece| p.close && p.range.end <= block.inside_end(text.len()))
        {
            pos = block.close.as_ref().map_or(pos, |c| c.end);
            continue;
        }
        let open = markup.block_at(pos);
        let reopen = open.map(|b| b.opener.clone());
        let fence_line_after_prefix = prefix_units > 0
            && (reopen.is_some() || markup.fence_line_at(pos).is_some_and(|l| l.start == pos));
        let head = prefix_units
            + usize::from(fence_line_after_prefix)
            + reopen.as_ref().map_or(0, |o| units(o) + 1);
        if fits(&text[pos..], layout.max - head) {
            pieces.push(Piece {
                fence_line_after_prefix,
                reopen,
                range: pos..text.len(),
                close: false,
            });
            break;
        }
        let budget = layout.max - head - CLOSE_FENCE.len();
        let mut end = cut(text, pos, budget, &markup);
        // A cut just before a block's closing fence takes the fence along when it fits.
        if let Some(block) = markup.block_at(end)
            && let Some(close) = &block.close
            && text[end..close.start].trim().is_empty()
            && fits(&text[pos..close.end], layout.max - head)
        {
            end = close.end;
        }
        let close = markup.block_at(end).is_some();
        pieces.push(Piece {
            fence_line_after_prefix,
            reopen,
            range: pos..end,
            close,
        });
        pos = end;
    }
    pieces
}

/// Where the chunk starting at `pos` ends (exclusive; trailing whitespace trimmed) when at most
/// `budget` UTF-16 units of text fit, at the best boundary.
fn cut(text: &str, pos: usize, budget: usize, markup: &Markup) -> usize {
    let mut used = 0;
    let mut window_end = text.len();
    for (i, c) in text[pos..].char_indices() {
        used += c.len_utf16();
        if used > budget {
            window_end = pos + i;
            break;
        }
    }
    if window_end == pos {
        // Cannot happen with budget >= 2; still, always make progress by one character.
        window_end = pos + text[pos..].chars().next().map_or(0, char::len_utf8);
    }
    let window = &text[pos..window_end];
    let half = budget / 2;
    let tenth = budget / 10;

    // Scanning the window backwards, the latest acceptable boundary of each rank.
    let mut best: [Option<usize>; 4] = [None; 4];
    let mut blank_after = false;
    let mut newline_after = false;
    let mut consumed = units(window);
    for (i, c) in window.char_indices().rev() {
        consumed -= c.len_utf16();
        let at = pos + i;
        if c.is_whitespace() {
            let acceptable = |min: usize| consumed >= min && acceptable_cut(text, pos, at, markup);
            let ranks: &[(Rank, usize)] = if c == '\n' {
                if newline_after && blank_after {
                    &[
                        (Rank::Paragraph, half),
                        (Rank::Line, half),
                        (Rank::Word, tenth),
                    ]
                } else {
                    &[(Rank::Line, half), (Rank::Word, tenth)]
                }
            } else {
                &[(Rank::Word, tenth)]
            };
            for &(rank, min) in ranks {
                if best[rank as usize].is_none() && acceptable(min) {
                    best[rank as usize] = Some(at);
                }
            }
            if c == ' '
                && best[Rank::Sentence as usize].is_none()
                && window[..i].ends_with(['.', '!', '?'])
                && acceptable(half)
            {
                best[Rank::Sentence as usize] = Some(at);
            }
            if c == '\n' {
                newline_after = true;
                blank_after = true;
            }
        } else {
            blank_after = false;
        }
        if best[Rank::Paragraph as usize].is_some() {
            break;
        }
    }
    if let Some(at) = best.into_iter().flatten().next() {
        return pos + text[pos..at].trim_end().len();
    }
    // No boundary leaves a reasonable chunk: a hard cut, moved before a fence line it would cut.
    match markup.fence_line_at(window_end) {
        Some(line) if line.start > pos && line.start < window_end => {
            let end = pos + text[pos..line.start].trim_end().len();
            if end > pos { end } else { window_end }
        }
        _ => window_end,
    }
}

/// A whitespace boundary at `at` is acceptable when the chunk before it has text, it is not
/// inside a short markdown span or a fence line, and the chunk does not end with an opening
/// fence (an empty code block).
fn acceptable_cut(text: &str, pos: usize, at: usize, markup: &Markup) -> bool {
    let body = text[pos..at].trim_end();
    if body.is_empty() || markup.in_span(at) {
        return false;
    }
    if markup
        .fence_line_at(at)
        .is_some_and(|line| line.start < at && at < line.end)
    {
        return false;
    }
    let end = pos + body.len();
    !markup.ends_with_opener(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences_balanced(chunk: &str) -> bool {
        chunk.lines().filter(|l| is_fence_line(l.trim())).count() % 2 == 0
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
        assert!(chunks.iter().all(|c| units(c) <= 2000));
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn emoji_count_as_two_units_so_chunks_fit_discord() {
        let text = "😀".repeat(1500);
        let chunks = split_reply(&text, 2000);
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|c| units(c) <= 2000), "UTF-16 units");
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
            assert!(units(chunk) <= 2000, "chunk {i} has {}", units(chunk));
            assert!(fences_balanced(chunk), "chunk {i}: {chunk}");
            if i > 0 && i + 1 < chunks.len() {
                assert!(chunk.starts_with("```rust\n"), "chunk {i} reopens");
            }
        }
        assert_eq!(letters(&chunks.join("\n")), letters(&text));
    }

    /// Issue 15: a DM reply of 2,000 characters became 1,995 + a prefix-less 20-character
    /// fragment, because the prefix was added after splitting.
    #[test]
    fn a_two_thousand_character_dm_answer_is_split_with_the_prefix_in_the_budget() {
        let mut text = String::new();
        let mut n = 0;
        while units(&text) < 1980 {
            text.push_str(&format!("Sentence number {n} is here. "));
            n += 1;
        }
        let text: String = text.chars().take(2000).collect();
        let layout = Layout::dm("Einstein");
        let chunks = layout.split(&text);
        assert_eq!(chunks.len(), 2, "{chunks:#?}");
        for chunk in &chunks {
            assert!(chunk.starts_with("**Einstein:** "), "{chunk:?}");
            assert!(units(chunk) <= 2000);
        }
        assert!(
            units(&chunks[0]) > 1000,
            "the first chunk is full: {}",
            units(&chunks[0])
        );
        // The bodies handed to a destination that adds the prefix itself fit with it.
        for body in layout.split_bodies(&text) {
            assert!(units(layout.prefix()) + units(&body) <= 2000);
            assert_eq!(
                layout.split(&body).len(),
                1,
                "no second cut at the destination"
            );
        }
    }

    /// Issue 15: a DM message that was only `**name:** ```` ` and a 30-character tail after a
    /// code block cut twice.
    #[test]
    fn a_long_code_answer_in_a_dm_never_sends_a_prefix_with_only_a_fence() {
        let mut code = String::new();
        for i in 0..60 {
            code.push_str(&format!(
                "def function_number_{i}(x):\n    return x * {i}\n"
            ));
        }
        let text = format!("```python\n{code}```");
        let chunks = Layout::dm("einstein").split(&text);
        assert!(chunks.len() >= 2);
        for (i, chunk) in chunks.iter().enumerate() {
            assert!(units(chunk) <= 2000);
            assert!(fences_balanced(chunk), "chunk {i}: {chunk}");
            let body = chunk.trim_start_matches("**einstein:** \n");
            assert!(body.starts_with("```python\ndef"), "chunk {i}: {body:.40}");
            assert!(letters(body).len() > 100, "chunk {i} is not markup only");
        }
    }

    /// Issue 15: an answer that is one long fenced block started with an empty ```` ``` ````
    /// block of its own.
    #[test]
    fn one_long_fenced_block_does_not_start_with_an_empty_block() {
        let code = (0..400).fold(String::new(), |mut out, i| {
            out.push_str(&format!("line {i}\n"));
            out
        });
        let text = format!("```\n{code}```");
        let chunks = split_reply(&text, 2000);
        for chunk in &chunks {
            assert_ne!(letters(chunk), "", "{chunk:?}");
            assert!(!chunk.starts_with("```\n```"), "{chunk:.20}");
            assert!(fences_balanced(chunk));
        }
        let last = chunks.last().unwrap();
        assert!(
            last.ends_with("line 399\n```"),
            "the original fence closes: {last:?}"
        );
    }

    #[test]
    fn short_markdown_spans_are_not_cut_when_another_boundary_exists() {
        for span in [
            "**bold words here**",
            "*italic words here*",
            "`inline code here`",
            "[a link text](https://example.com/x)",
            "~~struck words~~",
            "||a spoiler here||",
        ] {
            for shift in 0..30 {
                let text = format!("{} {span} tail words follow", "w".repeat(100 + shift));
                for chunk in split_reply(&text, 130) {
                    let opened = chunk.matches(&span[..2]).count();
                    assert!(
                        chunk.contains(span) || opened == 0,
                        "{span} cut at shift {shift}: {chunk:?}"
                    );
                }
            }
        }
    }

    /// Issue 15: a URL longer than a message left a first message of just "See".
    #[test]
    fn an_over_long_url_is_cut_only_where_it_must_be() {
        let url = format!("https://example.com/{}", "a".repeat(2500));
        let text = format!("See {url} for more.");
        let chunks = split_reply(&text, 2000);
        assert!(chunks[0].starts_with("See https://"), "{:.20}", chunks[0]);
        assert_eq!(units(&chunks[0]), 2000 - CLOSE_FENCE.len());
        assert_eq!(chunks.concat().replace(' ', ""), text.replace(' ', ""));
        // A URL that fits a message alone is never cut.
        let fits = format!("https://example.com/{}", "b".repeat(1500));
        let text = format!("{} {fits} after", "word ".repeat(100));
        let chunks = split_reply(&text, 2000);
        assert!(chunks.iter().any(|c| c.contains(&fits)), "{chunks:#?}");
    }

    #[test]
    fn six_thousand_characters_become_ordered_chunks_within_the_limit() {
        let mut text = String::new();
        let mut n = 0;
        while units(&text) < 6000 {
            text.push_str(&format!("Sentence number {n} is here. "));
            if n % 7 == 6 {
                text.push_str("\n\n```\ncode block line\n```\n\n");
            }
            n += 1;
        }
        let chunks = split_reply(&text, MAX_MESSAGE_CHARS);
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| units(c) <= MAX_MESSAGE_CHARS));
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
            "**".repeat(3000),
            "*a ".repeat(3000),
            "[x](".repeat(2000),
            "`".repeat(5000),
        ];
        for (i, text) in samples.iter().enumerate() {
            for max in [0, 64, 100, 2000] {
                for layout in [
                    Layout::plain().with_max(max),
                    Layout::dm("Ünïcode 名前 😀").with_max(max),
                ] {
                    let chunks = layout.split(text);
                    let limit = max.max(64);
                    assert!(
                        chunks.iter().all(|c| units(c) <= limit && !c.is_empty()),
                        "sample {i} max {max}"
                    );
                }
            }
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// A markdown block: prose with inline spans, a list, or a fenced code block.
        fn word() -> impl Strategy<Value = String> {
            prop_oneof![
                60 => "[a-zA-Z]{1,12}",
                10 => "[éßøñ]{1,6}",
                10 => "[日本語で]{1,5}",
                10 => "[😀🎉]{1,3}",
                10 => "[a-z]{1,8}[.,!?]",
                10 => "[a-z]{1,8}".prop_map(|w| format!("**{w} {w}**")),
                10 => "[a-z]{1,8}".prop_map(|w| format!("*{w} {w}*")),
                10 => "[a-z]{1,8}".prop_map(|w| format!("`{w} {w}`")),
                10 => "[a-z]{1,8}".prop_map(|w| format!("[{w} {w}](https://e.x/{w})")),
                1 => prop::sample::select(vec![1500usize, 1990, 2600])
                    .prop_map(|n| format!("https://e.x/{}", "u".repeat(n))),
            ]
        }

        fn block() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => prop::collection::vec(word(), 1..250).prop_map(|w| w.join(" ")),
                1 => prop::collection::vec(word(), 1..40)
                    .prop_map(|w| w.iter().map(|x| ["- ", x, "\n"].concat()).collect::<String>()),
                2 => ("(rust|python|)", prop::collection::vec("[a-z0-9=;+][ a-z0-9=;+]{0,70}", 1..120))
                    .prop_map(|(lang, lines)| format!("```{lang}\n{}\n```", lines.join("\n"))),
            ]
        }

        fn markdown() -> impl Strategy<Value = String> {
            prop::collection::vec(block(), 1..7).prop_map(|b| b.join("\n\n"))
        }

        /// Independent fence count: each fence line toggles; a chunk is balanced when even.
        fn balanced(chunk: &str) -> bool {
            chunk
                .lines()
                .filter(|l| {
                    let t = l.trim();
                    t.starts_with("```") && !t.trim_start_matches('`').contains('`')
                })
                .count()
                % 2
                == 0
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            #[test]
            fn chunks_fit_keep_the_content_balance_fences_and_are_never_tiny(
                text in markdown(),
                dm in any::<bool>(),
            ) {
                let layout = Layout::personality(dm, "Marie Curie");
                let text = text.trim_end().to_owned();
                let pieces = plan(&text, &layout);
                let chunks = layout.split(&text);
                prop_assert_eq!(pieces.len(), chunks.len());
                let mut at = 0;
                for (i, (piece, chunk)) in pieces.iter().zip(&chunks).enumerate() {
                    let last = i + 1 == chunks.len();
                    prop_assert!(units(chunk) <= MAX_MESSAGE_CHARS, "chunk {} has {} units", i, units(chunk));
                    prop_assert!(chunk.chars().count() <= MAX_MESSAGE_CHARS);
                    prop_assert!(chunk.starts_with(layout.prefix()));
                    prop_assert!(balanced(chunk), "chunk {} unbalanced: {:?}", i, chunk);
                    // Content: the pieces are the text in order; between them only whitespace
                    // or a closing fence the splitter had closed already.
                    let gap = &text[at..piece.range.start];
                    prop_assert!(
                        gap.lines().all(|l| l.trim().is_empty() || l.trim() == "```"),
                        "gap before chunk {}: {:?}", i, gap
                    );
                    let body = &text[piece.range.clone()];
                    prop_assert!(!body.trim().is_empty(), "chunk {} is empty", i);
                    prop_assert!(
                        body.lines().any(|l| !l.trim().is_empty() && !l.trim().starts_with("```")),
                        "chunk {} is markup only: {:?}", i, body
                    );
                    // Spans are never cut: their delimiters pair up inside each chunk.
                    let prose: String = body
                        .lines()
                        .filter(|l| !l.trim().starts_with("```"))
                        .collect();
                    prop_assert!(prose.matches('*').count().is_multiple_of(2), "chunk {} cuts a span", i);
                    prop_assert!(prose.matches('`').count().is_multiple_of(2), "chunk {} cuts code", i);
                    prop_assert_eq!(prose.matches('[').count(), prose.matches(')').count());
                    if !last {
                        prop_assert!(units(body) >= 150, "chunk {} is tiny: {:?}", i, body);
                    }
                    at = piece.range.end;
                }
                prop_assert!(text[at..].trim().is_empty());
            }
        }
    }
}
