//! Shared text rules for value objects: trimming, invisible and control characters.

/// True for characters that render as nothing or change rendering direction: zero-width
/// spaces and joiners, bidi controls, the BOM, soft hyphen, and other format characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Collapses runs of whitespace to one ASCII space and trims both ends.
pub(crate) fn collapse_spaces(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Letters of the Latin script (ASCII and Latin-1/Extended-A/B). Restricting identifiers to one
/// script keeps look-alike names (a Cyrillic `а` for a Latin `a`) from impersonating others.
pub(crate) fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (('\u{00C0}'..='\u{024F}').contains(&c) && c != '\u{00D7}' && c != '\u{00F7}')
}

/// Case-folded key used for case-insensitive equality and lookups.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}
