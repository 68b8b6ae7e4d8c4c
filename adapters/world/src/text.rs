//! Text as a city's tools write it: encodings (UTF-8 with or without a
//! byte-order mark, GB18030/GBK), CSV tables as Excel saves them, and the
//! cell conventions of `docs/world.md` (lists, yes/no, durations, names).

use std::collections::{BTreeMap, HashMap};

use gridloop_engine::time::Millis;

use crate::problem::{Problem, Problems};

/// How the CSV files are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// Valid UTF-8 is read as UTF-8, anything else as GB18030.
    #[default]
    Auto,
    /// UTF-8, with or without a byte-order mark; anything else is a problem.
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    Gb18030,
}

impl Encoding {
    /// The encoding named by `--encoding` (`auto`, `utf-8`, `gb18030`, `gbk`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "auto" => Some(Encoding::Auto),
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "gb18030" | "gbk" | "gb2312" => Some(Encoding::Gb18030),
            _ => None,
        }
    }
}

/// Decodes a file's bytes. A UTF-8 byte-order mark is dropped; a file that
/// does not decode is refused, naming the line of the first bad byte.
pub(crate) fn decode(file: &str, bytes: &[u8], encoding: Encoding) -> Result<String, Problem> {
    let as_utf8 = || match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string()),
        Err(e) => Err(line_of(&bytes[..e.valid_up_to()])),
    };
    match encoding {
        Encoding::Utf8 => as_utf8().map_err(|line| {
            Problem::line(file, line, "is not valid UTF-8 here (a GB18030 file? try --encoding gb18030)")
        }),
        Encoding::Auto => as_utf8().or_else(|_| gb18030(file, bytes, "is neither UTF-8 nor GB18030 here")),
        Encoding::Gb18030 => gb18030(file, bytes, "is not valid GB18030 here"),
    }
}

fn gb18030(file: &str, bytes: &[u8], why: &str) -> Result<String, Problem> {
    let (text, had_errors) = encoding_rs::GB18030.decode_with_bom_removal(bytes);
    if had_errors {
        // The decoder does not say where; its first replacement character does.
        let at = text.find('\u{fffd}').unwrap_or(0);
        return Err(Problem::line(file, line_of(&text.as_bytes()[..at]), why));
    }
    Ok(text.into_owned())
}

/// The line (from 1) that the byte after `before` is on.
fn line_of(before: &[u8]) -> u64 {
    before.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// A CSV file's columns: those every row must have, and the others allowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns {
    pub file: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// The most data rows the bundle may hold in this file.
    pub rows_max: usize,
}

/// One data row, with its line number, read by column name.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub file: &'static str,
    pub line: u64,
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The trimmed cell of `column`, empty when the column or cell is absent.
    pub(crate) fn get(&self, column: &str) -> &str {
        self.index.get(column).and_then(|&i| self.record.get(i)).map_or("", str::trim)
    }

    /// A problem with this row's cell in `column`.
    pub(crate) fn problem(&self, column: &str, message: impl Into<String>) -> Problem {
        Problem::cell(self.file, self.line, column, message)
    }

    /// The cell of a required column, or a problem when it is empty.
    pub(crate) fn required(&self, column: &str) -> Result<&str, Problem> {
        match self.get(column) {
            "" => Err(self.problem(column, "is empty; it is required")),
            cell => Ok(cell),
        }
    }
}

/// Reads a CSV text and calls `each` for every non-blank data row. The
/// header is checked first: an unknown or repeated column is a problem, a
/// missing required column too, and then no row is read (every row would
/// only repeat it) and `false` is returned: the file's rows are unknown,
/// so references to them are not checked either.
pub(crate) fn for_each_row(
    columns: Columns,
    text: &str,
    problems: &mut Problems,
    mut each: impl FnMut(&Row<'_>, &mut Problems),
) -> bool {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut records = reader.records();
    let Some(header) = next_record(columns.file, &mut records, problems) else {
        problems.push(Problem::file(columns.file, "is empty; it needs at least its header row"));
        return false;
    };
    let Some(index) = check_header(columns, &header, problems) else { return false };
    let lines = LineIndex::new(text);
    let mut rows = 0;
    while let Some(record) = next_record(columns.file, &mut records, problems) {
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| lines.line_at(text, p.byte()));
        if record.len() > header.len() && record.iter().skip(header.len()).any(|c| !c.is_empty()) {
            let why = format!("has {} cells, but the header names {} columns", record.len(), header.len());
            problems.push(Problem::line(columns.file, line, why));
            continue;
        }
        rows += 1;
        if rows > columns.rows_max {
            let why = format!("has more than {} rows, the most a bundle holds", columns.rows_max);
            problems.push(Problem::line(columns.file, line, why));
            return true;
        }
        each(&Row { file: columns.file, line, index: &index, record: &record }, problems);
    }
    true
}

/// Where each line of a text starts. The CSV reader's own line count
/// skips blank lines, and its byte offset of a record is where the blank
/// lines before it start, so a record's line is found from that offset
/// past any line breaks.
struct LineIndex(Vec<u64>);

impl LineIndex {
    fn new(text: &str) -> Self {
        Self(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i as u64).collect())
    }

    /// The line (from 1) of the first byte at or after `offset` that is
    /// not a line break.
    fn line_at(&self, text: &str, offset: u64) -> u64 {
        let rest = text.as_bytes().get(offset as usize..).unwrap_or_default();
        let offset = offset + rest.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count() as u64;
        self.0.partition_point(|&newline| newline < offset) as u64 + 1
    }
}

/// The next record; a record the CSV reader cannot read is a problem, and
/// reading goes on after it.
fn next_record(
    file: &str,
    records: &mut csv::StringRecordsIter<'_, &[u8]>,
    problems: &mut Problems,
) -> Option<csv::StringRecord> {
    loop {
        match records.next()? {
            Ok(record) => return Some(record),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                problems.push(Problem::line(file, line, format!("cannot be read as CSV: {e}")));
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                    return None;
                }
            }
        }
    }
}

/// The column index by name, or `None` when a required column is missing.
fn check_header(
    columns: Columns,
    header: &csv::StringRecord,
    problems: &mut Problems,
) -> Option<HashMap<String, usize>> {
    let file = columns.file;
    let line = header.position().map_or(1, csv::Position::line);
    let mut index = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
        if !columns.required.contains(&name.as_str()) && !columns.optional.contains(&name.as_str()) {
            let known: Vec<&str> = columns.required.iter().chain(columns.optional).copied().collect();
            let why = format!("is not a column of {file} (its columns: {})", known.join(", "));
            problems.push(Problem::cell(file, line, &shown(&name), why));
        } else if index.insert(name.clone(), i).is_some() {
            problems.push(Problem::cell(file, line, &name, "is named twice in the header"));
        }
    }
    let mut complete = true;
    for name in columns.required.iter().filter(|name| !index.contains_key(**name)) {
        problems.push(Problem::cell(file, line, name, "is missing from the header; it is required"));
        complete = false;
    }
    complete.then_some(index)
}

/// A header cell as shown in a sentence: quoted when empty, bounded.
fn shown(name: &str) -> String {
    if name.is_empty() {
        return "\"\"".to_string();
    }
    name.chars().take(40).collect()
}

/// Splits a list cell on `;`, `；`, `、` or `|`, trimming the items and
/// dropping empty ones.
pub(crate) fn split_list(cell: &str) -> Vec<&str> {
    cell.split([';', '；', '、', '|']).map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// A yes/no cell, in any of the spellings `docs/world.md` lists.
pub(crate) fn yes_no(cell: &str) -> Option<bool> {
    match cell.to_lowercase().as_str() {
        "yes" | "true" | "1" | "是" | "y" => Some(true),
        "no" | "false" | "0" | "否" | "n" => Some(false),
        _ => None,
    }
}

/// A required yes/no cell; `default` when the cell is empty and optional.
pub(crate) fn flag(row: &Row<'_>, column: &str, default: Option<bool>) -> Result<bool, Problem> {
    match (row.get(column), default) {
        ("", Some(default)) => Ok(default),
        ("", None) => Err(row.problem(column, "is empty; write yes or no")),
        (cell, _) => yes_no(cell).ok_or_else(|| row.problem(column, format!("{} is not yes or no", quoted(cell)))),
    }
}

/// A duration cell (`30m`, `4h`, `3d`).
pub(crate) fn duration(row: &Row<'_>, column: &str) -> Result<Millis, Problem> {
    let cell = row.required(column)?;
    Millis::parse_span(cell).map_err(|e| row.problem(column, format!("{}: {}", quoted(cell), reason(e))))
}

/// A name: at most 2,000 characters, no control characters (the engine's
/// own rule for every text of the world).
pub(crate) fn name(text: &str, may_be_empty: bool) -> Result<String, String> {
    gridloop_engine::ticket::bounded_text("name", text, may_be_empty).map_err(reason)
}

/// The reason of an engine refusal, without the field name the engine puts
/// first (the problem names its column itself).
pub(crate) fn reason(error: gridloop_engine::Error) -> String {
    match error {
        gridloop_engine::Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// A value as quoted in a sentence, bounded so that a hostile cell cannot
/// make a sentence of megabytes.
pub(crate) fn quoted(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() { format!("{short:?}…") } else { format!("{short:?}") }
}

/// Values by key, each with the line that wrote it (so that the engine's
/// refusals, which name a key, are reported at that line).
pub(crate) type Lined<K, V> = BTreeMap<K, (V, u64)>;

/// The value, or `None` with its problem added to `found`: a row's cells
/// are all checked, so a row with three mistakes is reported with three.
pub(crate) fn ok<T>(found: &mut Vec<Problem>, result: Result<T, Problem>) -> Option<T> {
    result.map_err(|problem| found.push(problem)).ok()
}

/// A required cell parsed as an engine id (or code).
pub(crate) fn parse_id<T>(
    row: &Row<'_>,
    column: &str,
    parse: impl Fn(&str) -> Result<T, gridloop_engine::Error>,
) -> Result<T, Problem> {
    let cell = row.required(column)?;
    parse(cell).map_err(|e| row.problem(column, format!("{}: {}", quoted(cell), reason(e))))
}
