//! What is wrong with a bundle: one sentence per problem, each naming the
//! file, the line or feature, and the column, property or key.

use std::collections::BTreeMap;
use std::fmt;

/// Where in its file a problem lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The file as a whole (missing, too large, not decodable).
    File,
    /// A line of a CSV file (the header is line 1) or of a TOML file.
    Line(u64),
    /// A feature of `grids.geojson`: its index from 0, and its code when it
    /// has a readable one.
    Feature {
        /// The feature's index in the collection, from 0.
        index: usize,
        /// The feature's `code` property, when it has a readable one.
        code: Option<String>,
    },
}

/// The column, property or key a problem is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// A CSV column.
    Column(String),
    /// A GeoJSON feature's property.
    Property(String),
    /// A TOML key.
    Key(String),
}

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file's name within the bundle (`catalog.csv`).
    pub file: String,
    /// Where in the file: the whole file, a line, or a feature.
    pub place: Place,
    /// The column, property or key at fault, when the problem is about one.
    pub field: Option<Field>,
    /// What is wrong, as a sentence without a final full stop.
    pub message: String,
}

impl Problem {
    /// A problem with a whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Self { file: file.to_string(), place: Place::File, field: None, message: message.into() }
    }

    /// A problem with one cell of a CSV file.
    pub fn cell(file: &str, line: u64, column: &str, message: impl Into<String>) -> Self {
        let field = Some(Field::Column(column.to_string()));
        Self { file: file.to_string(), place: Place::Line(line), field, message: message.into() }
    }

    /// A problem with one line of a file, no column in particular.
    pub fn line(file: &str, line: u64, message: impl Into<String>) -> Self {
        Self { file: file.to_string(), place: Place::Line(line), field: None, message: message.into() }
    }

    /// A problem with a TOML key, on its line when known.
    pub fn key(file: &str, line: Option<u64>, key: &str, message: impl Into<String>) -> Self {
        let place = line.map_or(Place::File, Place::Line);
        Self { file: file.to_string(), place, field: Some(Field::Key(key.to_string())), message: message.into() }
    }

    /// A problem with a feature of `grids.geojson`, or one of its properties.
    pub fn feature(index: usize, code: Option<&str>, property: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: crate::GRIDS.to_string(),
            place: Place::Feature { index, code: code.map(str::to_string) },
            field: property.map(|p| Field::Property(p.to_string())),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        match &self.place {
            Place::File => {}
            Place::Line(line) => write!(f, ":{line}")?,
            Place::Feature { index, code: Some(code) } => write!(f, ": feature {index} ({code})")?,
            Place::Feature { index, code: None } => write!(f, ": feature {index}")?,
        }
        match &self.field {
            None => {}
            Some(Field::Column(name)) => write!(f, ": column {name}")?,
            Some(Field::Property(name)) => write!(f, ": property {name}")?,
            Some(Field::Key(name)) => write!(f, ": key {name}")?,
        }
        write!(f, ": {}", self.message)
    }
}

/// The most problems kept per file: a file of a million bad lines is
/// reported by its first thousand and a count, not a million sentences.
pub const PROBLEMS_PER_FILE_MAX: usize = 1_000;

/// The problems found so far, bounded per file.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<Problem>,
    per_file: BTreeMap<String, (usize, usize)>,
}

impl Problems {
    pub(crate) fn push(&mut self, problem: Problem) {
        let (kept, dropped) = self.per_file.entry(problem.file.clone()).or_default();
        if *kept < PROBLEMS_PER_FILE_MAX {
            *kept += 1;
            self.list.push(problem);
        } else {
            *dropped += 1;
        }
    }

    /// How many problems were found, those left out included.
    pub(crate) fn len(&self) -> usize {
        self.list.len() + self.per_file.values().map(|(_, dropped)| dropped).sum::<usize>()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems in the order of the bundle's files, then of lines or
    /// features; each file's count of those left out at its end.
    pub(crate) fn into_vec(self) -> Vec<Problem> {
        let mut list = self.list;
        for (file, (_, dropped)) in self.per_file {
            if dropped > 0 {
                let mut more = Problem::file(&file, format!("{dropped} more problems are not shown"));
                more.place = Place::Line(u64::MAX);
                list.push(more);
            }
        }
        list.sort_by_key(|p| {
            let file = crate::FILES.iter().position(|f| *f == p.file).unwrap_or(crate::FILES.len());
            let place = match p.place {
                Place::File => 0,
                Place::Line(line) => line,
                Place::Feature { index, .. } => index as u64 + 1,
            };
            (file, place)
        });
        for problem in list.iter_mut().filter(|p| p.place == Place::Line(u64::MAX)) {
            problem.place = Place::File;
        }
        list
    }
}
