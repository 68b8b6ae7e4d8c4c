//! The command grammar: what a volunteer types, in Chinese or English.
//!
//! | Chinese              | English               | Command                      |
//! |----------------------|-----------------------|------------------------------|
//! | `接单 T-1024`        | `accept T-1024`       | [`ChatCommand::Accept`]      |
//! | `拒绝 T-1024 [原因]` | `decline T-1024 [why]`| [`ChatCommand::Decline`]     |
//! | `到达 T-1024`        | `start T-1024`        | [`ChatCommand::Start`]       |
//! | `完成 T-1024 2小时 已修好` | `done T-1024 2h fixed` | [`ChatCommand::Done`] |
//! | `我的`               | `mine`                | [`ChatCommand::Mine`]        |
//! | `积分`               | `points`              | [`ChatCommand::Points`]      |
//! | `帮助`               | `help`                | [`ChatCommand::Help`]        |
//! | `绑定 123456`        | `link 123456`         | [`ChatCommand::Link`]        |
//!
//! Anything else is [`Parsed::Help`]: the bot answers with a short help
//! sentence rather than guessing.
//!
//! # Forgiving
//!
//! People type on phones, often with a Chinese input method on, so before
//! matching the text is normalised character by character: full-width ASCII
//! (`ＡＢＣ`, `０-９`, `－`) becomes ASCII, the ideographic space U+3000 and
//! every other Unicode space separate words, dashes and minus signs become
//! `-`, and ASCII letters are compared without case. Extra spaces are
//! ignored; one leading `/` or `!` (the habit of other chat bots) is dropped;
//! a Chinese command word may be glued to its argument (`接单1024`). A ticket
//! id may be written `T-1024`, `t-1024`, `T1024` or just `1024`.
//!
//! Free text (a reason, a result) is kept as the volunteer wrote it, not
//! normalised: the mapping is one character to one character, so the bot
//! cuts the original text at the same place.
//!
//! # Strict
//!
//! - The whole message is at most [`INPUT_CHARS_MAX`] characters and a
//!   reason or result at most [`TEXT_CHARS_MAX`]; longer is not understood.
//! - Commands with a fixed number of arguments refuse extra words, so that
//!   `接单 1024 1025` is not silently read as accepting only T-1024.
//! - A decline's reason is optional (the engine allows an empty one).
//! - `done` requires a duration and a result. The minutes feed the
//!   volunteers' duty report (≥ 4 hours a month for backup-agency members),
//!   so guessing 0 would silently under-count; and the engine refuses a
//!   resolution without a result. Durations are whole numbers only: `2小时`,
//!   `2h`, `90分钟`, `90m`, `90min`, `2小时30分`, `2h30m`, `2h 30m`, `2h30`; a decimal
//!   such as `1.5h` is not understood (the help says to write `1h30m`). Zero
//!   and more than the engine's 30 days are not understood either.
//! - A link code is exactly 6 digits.

use gridloop_engine::ids::TicketId;
use gridloop_engine::ticket::MINUTES_SPENT_MAX;

/// The longest message, in characters, the grammar looks at.
pub const INPUT_CHARS_MAX: usize = 500;
/// The longest reason or result, in characters.
pub const TEXT_CHARS_MAX: usize = 200;

/// What the volunteer asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatCommand {
    /// Accept the offer of this ticket (接单).
    Accept(TicketId),
    /// The ticket and the reason (may be empty).
    Decline(TicketId, String),
    /// Say that the volunteer has arrived and work on this accepted ticket
    /// has started (到达).
    Start(TicketId),
    /// Report this ticket resolved.
    Done {
        /// The ticket resolved.
        ticket: TicketId,
        /// The time spent, in whole minutes (1 to 30 days' worth); it counts
        /// towards the volunteer's service hours.
        minutes: u32,
        /// What was done, in the volunteer's words (required).
        result: String,
    },
    /// List the volunteer's open tickets.
    Mine,
    /// Show the volunteer's points balance.
    Points,
    /// Show the help sentence.
    Help,
    /// The 6-digit one-time code a dispatcher issued.
    Link(String),
}

/// The result of parsing one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A command the grammar understood.
    Command(ChatCommand),
    /// Not understood: answer with the help sentence.
    Help,
}

/// The language a reply is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

/// The command words, each with its language and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Word {
    Accept,
    Decline,
    Start,
    Done,
    Mine,
    Points,
    Help,
    Link,
}

const CHINESE_WORDS: [(&str, Word); 8] = [
    ("接单", Word::Accept),
    ("拒绝", Word::Decline),
    ("到达", Word::Start),
    ("完成", Word::Done),
    ("我的", Word::Mine),
    ("积分", Word::Points),
    ("帮助", Word::Help),
    ("绑定", Word::Link),
];

const ENGLISH_WORDS: [(&str, Word); 8] = [
    ("accept", Word::Accept),
    ("decline", Word::Decline),
    ("start", Word::Start),
    ("done", Word::Done),
    ("mine", Word::Mine),
    ("points", Word::Points),
    ("help", Word::Help),
    ("link", Word::Link),
];

/// Parses one chat message.
pub fn parse(text: &str) -> Parsed {
    parse_inner(text).map_or(Parsed::Help, Parsed::Command)
}

/// The language to answer `text` in: that of its command word, else Chinese
/// when the message contains any CJK character, else English.
pub fn language(text: &str) -> Lang {
    if text.chars().count() <= INPUT_CHARS_MAX {
        let message = Message::new(text);
        if let Some((_, lang, _)) = message.command_word() {
            return lang;
        }
    }
    if text.chars().any(is_cjk) { Lang::Zh } else { Lang::En }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

fn parse_inner(text: &str) -> Option<ChatCommand> {
    if text.chars().count() > INPUT_CHARS_MAX {
        return None;
    }
    let message = Message::new(text);
    let (word, _, rest) = message.command_word()?;
    let mut cursor = rest;
    match word {
        Word::Accept | Word::Start => {
            let ticket = ticket_id(message.token(&mut cursor)?)?;
            message.at_end(cursor)?;
            Some(if word == Word::Accept { ChatCommand::Accept(ticket) } else { ChatCommand::Start(ticket) })
        }
        Word::Decline => {
            let ticket = ticket_id(message.token(&mut cursor)?)?;
            let reason = message.free_text(cursor)?;
            Some(ChatCommand::Decline(ticket, reason))
        }
        Word::Done => {
            let ticket = ticket_id(message.token(&mut cursor)?)?;
            message.skip_spaces(&mut cursor);
            let (minutes, used) = duration(&message.norm[cursor..])?;
            let result = message.free_text(cursor + used)?;
            if result.is_empty() {
                return None;
            }
            Some(ChatCommand::Done { ticket, minutes, result })
        }
        Word::Link => {
            let code = message.token(&mut cursor)?;
            message.at_end(cursor)?;
            (code.len() == 6 && code.iter().all(char::is_ascii_digit)).then(|| ChatCommand::Link(code.iter().collect()))
        }
        Word::Mine | Word::Points | Word::Help => {
            message.at_end(cursor)?;
            Some(match word {
                Word::Mine => ChatCommand::Mine,
                Word::Points => ChatCommand::Points,
                _ => ChatCommand::Help,
            })
        }
    }
}

/// A message as two parallel character arrays: what was typed, and its
/// normalised form (same length, so an index means the same place in both).
struct Message {
    original: Vec<char>,
    norm: Vec<char>,
}

impl Message {
    fn new(text: &str) -> Self {
        let original: Vec<char> = text.chars().collect();
        let norm = original.iter().map(|&c| normalise(c)).collect();
        Self { original, norm }
    }

    fn skip_spaces(&self, at: &mut usize) {
        while *at < self.norm.len() && self.norm[*at] == ' ' {
            *at += 1;
        }
    }

    /// The next word (normalised), advancing past it.
    fn token(&self, at: &mut usize) -> Option<&[char]> {
        self.skip_spaces(at);
        let start = *at;
        while *at < self.norm.len() && self.norm[*at] != ' ' {
            *at += 1;
        }
        (*at > start).then(|| &self.norm[start..*at])
    }

    /// `Some` when only spaces remain.
    fn at_end(&self, mut at: usize) -> Option<()> {
        self.skip_spaces(&mut at);
        (at == self.norm.len()).then_some(())
    }

    /// The rest of the message as typed, trimmed and bounded.
    fn free_text(&self, at: usize) -> Option<String> {
        let text: String = self.original[at.min(self.original.len())..].iter().collect();
        let text = text.trim();
        (text.chars().count() <= TEXT_CHARS_MAX).then(|| text.to_string())
    }

    /// The command word, its language, and where its argument starts. A
    /// Chinese word may be glued to its argument; an English one may not
    /// (`accept1024` is more likely a typo than a command).
    fn command_word(&self) -> Option<(Word, Lang, usize)> {
        let mut at = 0;
        self.skip_spaces(&mut at);
        if matches!(self.norm.get(at), Some('/' | '!')) {
            at += 1;
        }
        let start = at;
        let mut end = start;
        let first = self.token(&mut end)?;
        for (text, word) in CHINESE_WORDS {
            let len = text.chars().count();
            if first.len() >= len && first[..len].iter().copied().eq(text.chars()) {
                return Some((word, Lang::Zh, start + len));
            }
        }
        ENGLISH_WORDS
            .iter()
            .find(|(text, _)| first.iter().copied().eq(text.chars()))
            .map(|&(_, word)| (word, Lang::En, end))
    }
}

/// One character of the normalised form. Every case maps one character to
/// one character, which is what lets free text be cut from the original.
fn normalise(c: char) -> char {
    let c = match c {
        // Full-width ASCII: ＡＢＣ, ０-９, －, ！, ／.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        // Hyphens, dashes and minus signs that phones and input methods produce.
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{30FC}' => '-',
        c if c.is_whitespace() => ' ',
        c => c,
    };
    c.to_ascii_lowercase()
}

/// `T-1024`, `t1024` or `1024`, validated by the engine (1 to 12 digits, no
/// leading zero).
fn ticket_id(token: &[char]) -> Option<TicketId> {
    let digits = match token {
        ['t', '-', rest @ ..] | ['t', rest @ ..] => rest,
        rest => rest,
    };
    if digits.is_empty() || !digits.iter().all(char::is_ascii_digit) {
        return None;
    }
    TicketId::new(format!("T-{}", digits.iter().collect::<String>())).ok()
}

const HOUR_UNITS: [&str; 7] = ["小时", "钟头", "hours", "hour", "hrs", "hr", "h"];
const MINUTE_UNITS: [&str; 7] = ["分钟", "minutes", "minute", "mins", "min", "分", "m"];

/// A duration at the start of `text` (normalised): its minutes and how many
/// characters it took. The result may follow without a space (`2小时已修好`).
fn duration(text: &[char]) -> Option<(u32, usize)> {
    let mut at = 0;
    let first = number(text, &mut at)?;
    if matches!(text.get(at), Some('.' | ',')) {
        // `1.5h`: whole numbers only.
        return None;
    }
    let minutes = if let Some(len) = unit(&text[at..], &HOUR_UNITS) {
        at += len;
        let mut rest = at;
        let mut spaced = rest;
        while text.get(spaced) == Some(&' ') {
            spaced += 1;
        }
        let mut after = spaced;
        if let Some(extra) = number(text, &mut rest) {
            // `2h30m`, `2小时30分`, `2h30`: the minutes are glued on.
            if extra >= 60 {
                return None;
            }
            at = rest + unit(&text[rest..], &MINUTE_UNITS).unwrap_or(0);
            first.checked_mul(60)?.checked_add(extra)?
        } else if let (true, Some(extra)) = (spaced > rest, number(text, &mut after)) {
            // `2h 30m`: after a space the minutes need their unit, else the
            // number belongs to the result (`2h 3 taps fixed`).
            match unit(&text[after..], &MINUTE_UNITS) {
                Some(len) if extra < 60 && !text.get(after + len).is_some_and(char::is_ascii_alphanumeric) => {
                    at = after + len;
                    first.checked_mul(60)?.checked_add(extra)?
                }
                _ => first.checked_mul(60)?,
            }
        } else {
            first.checked_mul(60)?
        }
    } else {
        at += unit(&text[at..], &MINUTE_UNITS)?;
        first
    };
    // A unit glued to an English word (`2hours` is fine, `2hx` is not) is
    // not a duration.
    if text.get(at).is_some_and(char::is_ascii_alphanumeric) {
        return None;
    }
    (1..=MINUTES_SPENT_MAX).contains(&minutes).then_some((minutes, at))
}

/// Up to 6 ASCII digits at `at`, advancing past them.
fn number(text: &[char], at: &mut usize) -> Option<u32> {
    let start = *at;
    while *at < text.len() && text[*at].is_ascii_digit() {
        *at += 1;
    }
    if *at == start || *at - start > 6 {
        return None;
    }
    text[start..*at].iter().collect::<String>().parse().ok()
}

/// The length of the longest unit in `units` that `text` starts with.
fn unit(text: &[char], units: &[&str]) -> Option<usize> {
    units.iter().map(|u| u.chars().collect::<Vec<_>>()).filter(|u| text.starts_with(u)).map(|u| u.len()).max()
}
