//! Text normalisation shared by indexing and querying.
//!
//! Residents type on phones: full-width letters and digits, traditional
//! characters, stray control characters, emoji. Everything that reaches the
//! analyzer goes through [`normalize`] first, at index time and at query time
//! alike, so both sides see the same characters.

/// Longest question we look at, in characters. Longer messages are cut here:
/// nobody types a 10,000-character safety question, and the cost of analysis
/// must stay bounded whatever arrives.
pub const MAX_QUESTION_CHARS: usize = 300;

/// Normalises text for matching: traditional → simplified (plain `t2s`, never
/// the Taiwan variant, which turns 么 into 幺), full-width → half-width,
/// lowercase, control characters → spaces, runs of white space folded.
pub fn normalize(input: &str) -> String {
    let mut folded = String::with_capacity(input.len());
    for c in input.chars() {
        let c = fold_width(c);
        if c.is_control() || c.is_whitespace() {
            if !folded.ends_with(' ') && !folded.is_empty() {
                folded.push(' ');
            }
            continue;
        }
        folded.extend(c.to_lowercase());
    }
    let trimmed = folded.trim_end();
    if trimmed.chars().any(is_han) {
        hanconv::t2s(trimmed)
    } else {
        trimmed.to_string()
    }
}

/// Cuts a message to [`MAX_QUESTION_CHARS`] characters.
pub fn truncate_chars(input: &str, max: usize) -> &str {
    match input.char_indices().nth(max) {
        Some((at, _)) => &input[..at],
        None => input,
    }
}

/// Full-width ASCII (U+FF01..U+FF5E) and the ideographic space map to their
/// half-width forms; everything else is left alone.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// A CJK unified ideograph (the basic block and extension A), the characters
/// jieba and the bigram analyzer work on.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// A character that can be part of a search term: Han, ASCII letters and
/// digits, and other alphabetic scripts.
pub fn is_word_char(c: char) -> bool {
    is_han(c) || c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_becomes_simplified_and_simplified_is_kept() {
        assert_eq!(normalize("瓦斯外洩怎麼辦"), "瓦斯外泄怎么办");
        assert_eq!(normalize("怎么办"), "怎么办");
        assert_eq!(normalize("電動車"), "电动车");
    }

    #[test]
    fn width_case_and_space_are_folded() {
        assert_eq!(normalize("ＡＥＤ　怎么用"), "aed 怎么用");
        assert_eq!(normalize("  CPR\t\n步骤\u{7}  "), "cpr 步骤");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("燃气泄漏", 2), "燃气");
        assert_eq!(truncate_chars("燃气", 5), "燃气");
    }
}
