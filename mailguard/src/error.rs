//! The mail guard's one error type.

use std::path::PathBuf;

/// What can go wrong planning or sending a campaign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid address `{address}`: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    #[error("campaign `{0}` not found")]
    CampaignNotFound(String),
    #[error("campaign `{0}` already exists")]
    CampaignExists(String),
    #[error(
        "campaign `{0}` has started sending: what was sent stays as it was; create a new campaign"
    )]
    CampaignStarted(String),
    #[error("template `{template}`: {message}")]
    Template {
        template: &'static str,
        message: String,
    },
    #[error("{path}: line {line}: {message}")]
    Input {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("smtp: {0}")]
    Smtp(String),
    #[error("campaign `{campaign}` paused: {failed} of {attempted} messages failed")]
    Paused {
        campaign: String,
        failed: usize,
        attempted: usize,
    },
    #[error("campaign `{campaign}` is scheduled for {at}: not sent before then")]
    NotYetDue {
        campaign: String,
        at: chrono::DateTime<chrono::Utc>,
    },
    #[error("campaign `{0}` was stopped: it sends nothing more")]
    CampaignStopped(String),
    #[error(
        "campaign `{campaign}`: the {part} body has no unsubscribe link; put {{{{ unsubscribe_url }}}} in it (LSSI-CE arts. 20.1 and 22.1: every message must offer a simple, free way to opt out, and List-Unsubscribe headers alone are not shown by every mail program)"
    )]
    NoUnsubscribeLink {
        campaign: String,
        part: &'static str,
    },
    #[error(
        "organisation `{org}` has no Robinson list on record: import the latest download with `custodia robinson --org {org} --downloaded YYYY-MM-DD FILE` before planning (LOPDGDD art. 23.4)"
    )]
    NoRobinsonList { org: String },
    #[error(
        "the Robinson list of `{org}` was downloaded on {downloaded}, {age} days ago, more than the {max} days allowed: download it again and import it before planning (LOPDGDD art. 23.4)"
    )]
    StaleRobinsonList {
        org: String,
        downloaded: chrono::NaiveDate,
        age: i64,
        max: i64,
    },
    #[error("robinson list download date {0} is in the future")]
    RobinsonDateInFuture(chrono::NaiveDate),
    #[error(
        "breach `{0}` names no affected customer: add them to the breach entry (`affected_customers`) before notifying"
    )]
    NoAffectedCustomers(String),
    #[error("dkim: {0}")]
    Dkim(String),
    #[error("invalid unsubscribe token")]
    BadToken,
    #[error("{0}")]
    Engine(#[from] custodia_engine::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("i/o error on `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
