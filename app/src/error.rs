//! The core's one error type.

use std::path::PathBuf;

/// What can go wrong in an operation, wrapping the lower crates' errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] custodia_engine::Error),
    #[error(transparent)]
    Mail(#[from] custodia_mailguard::Error),
    #[error(transparent)]
    Report(#[from] custodia_reports::Error),
    #[error("cannot load rule packs from `{path}`: {source}")]
    Packs {
        path: PathBuf,
        source: custodia_engine::Error,
    },
    #[error(
        "the {what} `{path}` is missing, but {why}: restore it from your backup (a new key would \
         not match what it signed)"
    )]
    KeyMissing {
        what: &'static str,
        path: PathBuf,
        why: &'static str,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("worker `{0}` not found in any organisation")]
    UnknownWorker(String),
    #[error("worker `{0}` exists in several organisations: name the organisation")]
    AmbiguousWorker(String),
    #[error("`{worker}` may not {action} `{resource}`: {why}")]
    Denied {
        worker: String,
        action: String,
        resource: String,
        why: String,
    },
    #[error("backup: {0}")]
    Backup(String),
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
}

/// Shorthand used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
