//! The one error type of the crate, in the style of the engine's: each
//! variant has a stable code ([`WorldError::code`]) and says how a caller
//! handles it.

use thiserror::Error;

use crate::Problem;

/// Why reading or importing a world bundle failed.
#[derive(Debug, Error)]
pub enum WorldError {
    /// The bundle has problems; nothing was written.
    /// Caller: print every problem (they name file, line and column) and
    /// exit non-zero; the operator fixes the files and runs it again.
    #[error("the bundle has {} problem(s), the first: {}", .0.len(), first(.0))]
    Invalid(Vec<Problem>),

    /// The import was asked for by someone who is not the operator.
    /// Caller: refuse (HTTP 403); only an admin imports a world.
    #[error("a {role} may not import a world: the operator must be an admin")]
    NotOperator {
        /// The role of the actor who asked, such as `dispatcher`.
        role: &'static str,
    },

    /// The engine refused a change, or the store failed, while importing
    /// `what`. Caller: by the engine error's code (which [`WorldError::code`]
    /// returns): a storage failure is retried by running the same import
    /// again (every append is idempotent); a refusal means the log's world
    /// and the bundle disagree (another district's log) and is shown as is.
    #[error("{what}: {source}")]
    Engine {
        /// What the import was doing, as a phrase (`importing volunteer V-7`).
        what: String,
        /// The engine's error: a refusal or a storage failure.
        #[source]
        source: gridloop_engine::Error,
    },

    /// The personal store failed on `key`. Caller: run the import again;
    /// records are written one at a time, each whole or not at all.
    #[error("personal store, record {key}: {source}")]
    Personal {
        /// The record's key, such as `volunteer:V-7`.
        key: String,
        /// The personal store's error.
        #[source]
        source: gridloop_engine::Error,
    },
}

fn first(problems: &[Problem]) -> String {
    problems.first().map_or_else(String::new, ToString::to_string)
}

impl WorldError {
    /// A stable machine code, shown by every surface next to the sentence.
    /// An engine failure keeps the engine's own code (`storage_failure`,
    /// `invalid_input`...), so a caller handles it as it would anywhere.
    pub fn code(&self) -> &'static str {
        match self {
            WorldError::Invalid(_) => "invalid_bundle",
            WorldError::NotOperator { .. } => "not_operator",
            WorldError::Engine { source, .. } => source.code(),
            WorldError::Personal { .. } => "personal_store",
        }
    }

    pub(crate) fn engine(what: impl Into<String>, source: gridloop_engine::Error) -> Self {
        WorldError::Engine { what: what.into(), source }
    }
}

impl From<Vec<Problem>> for WorldError {
    fn from(problems: Vec<Problem>) -> Self {
        WorldError::Invalid(problems)
    }
}
