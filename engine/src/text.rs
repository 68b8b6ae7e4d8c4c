//! Free text at the boundary: the one check every description, note,
//! reason, comment, result, report, reward and name passes in `decide`.
//!
//! What a command carries as free text is stored in the log forever and
//! shown by every surface: the console, the chat bot, Open311's XML, the
//! audit. So it is taken in one form only:
//!
//! - trimmed, and normalized to NFC, so that one text has one spelling
//!   whatever keyboard or client composed it (a search or a comparison
//!   finds it);
//! - no control characters but newline and tab, so that nothing can forge
//!   a line in a log or a chat;
//! - no bidirectional overrides or isolates (U+202A–U+202E,
//!   U+2066–U+2069), which make a text read differently from what it says;
//! - no non-characters (U+FDD0–U+FDEF and every code point ending in FFFE
//!   or FFFF), which XML forbids: one in a description made Open311's
//!   `requests.xml` unparseable for every client;
//! - not empty once invisible characters (zero-width spaces and joiners,
//!   soft hyphens, fillers, variation selectors) and white space are
//!   removed, where the text must say something;
//! - at most [`TEXT_CHARS_MAX`] characters.
//!
//! This is a check in `decide`, not a type of the events: the events keep
//! their `String` fields, so old logs decode and the golden payloads keep
//! their shape; only new commands are held to it.

use unicode_normalization::UnicodeNormalization as _;

use crate::Error;

/// The longest description, note, reason or result text, in characters.
pub const TEXT_CHARS_MAX: usize = 2_000;

/// Checks and normalizes one free text: trimmed, NFC, within bounds, and
/// free of control, bidi-override and non-characters; refused when it
/// must say something and shows nothing.
pub fn bounded_text(field: &'static str, text: &str, may_be_empty: bool) -> Result<String, Error> {
    // Bounded before normalizing, so that a huge text costs no work; NFC
    // never lengthens a text by more than a few characters per character,
    // so the bound is checked again after.
    if text.chars().nth(4 * TEXT_CHARS_MAX).is_some() {
        return Err(Error::invalid(field, "must be at most 2,000 characters"));
    }
    let text: String = text.trim().nfc().collect();
    let text = text.trim();
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    if text.chars().any(is_bidi_control) {
        return Err(Error::invalid(field, "must not contain bidirectional overrides or isolates"));
    }
    if text.chars().any(is_noncharacter) {
        return Err(Error::invalid(field, "must not contain non-characters (such as U+FFFE or U+FFFF)"));
    }
    if text.chars().count() > TEXT_CHARS_MAX {
        return Err(Error::invalid(field, "must be at most 2,000 characters"));
    }
    let shows_something = text.chars().any(|c| !c.is_whitespace() && !is_invisible(c));
    match (shows_something, may_be_empty) {
        (true, _) => Ok(text.to_string()),
        (false, true) => Ok(String::new()),
        (false, false) if text.is_empty() => Err(Error::invalid(field, "must not be empty")),
        (false, false) => Err(Error::invalid(field, "must not be empty (it holds only invisible characters)")),
    }
}

/// The embeddings, overrides and isolates that reorder what follows them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Unicode's 66 non-characters: U+FDD0–U+FDEF, and the last two code
/// points of every plane.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{FDD0}'..='\u{FDEF}') || (u32::from(c) & 0xFFFE) == 0xFFFE
}

/// Characters that show nothing by themselves: zero-width spaces, joiners
/// and marks, the soft hyphen, invisible operators, fillers and variation
/// selectors.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
            | '\u{E0000}'..='\u{E007F}'
    )
}
