//! The engine's one error type.

use std::path::PathBuf;

/// Everything that can go wrong inside the engine, with enough context to
/// tell a user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid {kind} `{value}`: {reason}")]
    InvalidValue {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{path}: line {line}: {message}")]
    Input {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("organisation `{0}` not found")]
    OrganisationNotFound(String),
    #[error("organisation `{0}` already exists (replace it to overwrite it)")]
    OrganisationExists(String),
    #[error("{kind} `{id}` not found in organisation `{org}`")]
    NotFound {
        org: String,
        kind: &'static str,
        id: String,
    },
    #[error("{kind} `{id}` already exists in organisation `{org}` (replace it to change it)")]
    EntryExists {
        org: String,
        kind: &'static str,
        id: String,
    },
    #[error("unsupported database url `{0}`: use sqlite://FILE or postgres://...")]
    UnsupportedDatabase(String),
    #[error("the store at `{0}` already holds data (force the demo to replace it)")]
    StoreNotEmpty(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the audit log's own SQLite connections.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("password hashing failed: {0}")]
    Password(String),
    #[error("i/o error on `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rule pack error: {0}")]
    Pack(String),
    #[error("audit log error: {0}")]
    Audit(String),
    #[error("vault: {0}")]
    Vault(String),
    #[error(
        "the master key `{have}` does not open organisation `{org}`'s key (wrapped by master key `{want}`): wrong master key file or CUSTODIA_MASTER_KEY"
    )]
    WrongMasterKey {
        org: String,
        have: String,
        want: String,
    },
    #[error(
        "sealed data of customer `{customer}` in organisation `{org}` ({slot}) does not decrypt: it was altered or moved from another record"
    )]
    Tampered {
        org: String,
        customer: String,
        slot: String,
    },
    #[error(
        "sealed data of customer `{customer}` in organisation `{org}` ({slot}) has no data key: the record was purged or its key lost, and it cannot be decrypted"
    )]
    KeyGone {
        org: String,
        customer: String,
        slot: String,
    },
    #[error("injected fault at `{0}` (CUSTODIA_FAULT)")]
    Fault(String),
}

/// Shorthand used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Error::Corrupt(what.to_string())
    }
}
