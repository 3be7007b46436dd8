//! Shared text rules for value objects: trimming, invisible and control characters, Unicode
//! normalisation and case folding (ADR 0001).

use unicode_normalization::UnicodeNormalization;

/// True for characters that render as nothing or change rendering direction: zero-width
/// spaces and joiners, bidi controls, the BOM, soft hyphen, and other format characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// The implicit direction marks (left-to-right, right-to-left, Arabic letter mark) that
/// right-to-left keyboards and copied text carry: invisible, meaningless in a one-script name,
/// and removed rather than refused.
pub(crate) fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The explicit direction controls (embeddings, overrides, isolates) that reorder what is
/// shown, so a name could read differently from what is stored: refused.
pub(crate) fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `raw` without its implicit direction marks.
pub(crate) fn strip_direction_marks(raw: &str) -> String {
    raw.chars().filter(|&c| !is_direction_mark(c)).collect()
}

/// The NFKC form: compatibility characters (full-width `Ａ`, ligatures, presentation forms)
/// become their ordinary letters, and composed and decomposed accents become one form.
pub(crate) fn nfkc(s: &str) -> String {
    s.nfkc().collect()
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

/// Case-folded key used for case-insensitive equality and lookups: NFKC, lower-cased, the
/// Greek final sigma folded to `σ`, NFKC again. `ß` stays `ß`, so every key stored before
/// names in every script were allowed is still its text's key (ADR 0001).
pub(crate) fn fold(s: &str) -> String {
    let lowered: String = nfkc(s)
        .to_lowercase()
        .chars()
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect();
    nfkc(&lowered)
}

/// The key a user's query is looked up by: direction marks removed, NFKC, whitespace
/// collapsed, case-folded — the key of the name, alias or display name it should find.
pub fn lookup_key(query: &str) -> String {
    fold(&collapse_spaces(&nfkc(&strip_direction_marks(query))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_width_accents_and_final_sigma() {
        assert_eq!(lookup_key("  ＥＩＮＳＴＥＩＮ "), "einstein");
        assert_eq!(
            lookup_key("Zoe\u{0308}"),
            lookup_key("Zoë"),
            "decomposed accent"
        );
        assert_eq!(lookup_key("ΟΔΟΣ"), lookup_key("οδος"));
        assert_eq!(lookup_key("\u{200F}שלום\u{200F}"), "שלום");
        assert_eq!(lookup_key("Angel \u{00A0} Dust"), "angel dust");
        assert_eq!(
            lookup_key("Straße"),
            "straße",
            "keys stored before stay valid"
        );
    }
}
