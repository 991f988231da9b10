//! Custodia's documents: the data-protection dossier, the audit summary of
//! a period, the breach-scope report, the information clause of a
//! processing activity and the letter answering an access request, as
//! self-contained HTML (inline CSS
//! and SVG, no external assets) and PDF (typst, fonts embedded,
//! reproducible), in Spanish (default) and English. Every string comes
//! from a catalogue in which a missing key does not compile, or from a
//! `Lang::pick` pair that names both languages.
//!
//! ```no_run
//! # async fn demo(store: &custodia_engine::Store, org: &custodia_engine::OrgSlug, q: &custodia_engine::audit::BreachQuery) -> Result<(), Box<dyn std::error::Error>> {
//! let scope = store.breach_scope(org, q).await?;
//! let organisation = store.org(org).await?.organisation().clone();
//! let now = chrono::Utc::now();
//! let pdf = custodia_reports::breach_pdf(&organisation, &scope, now, custodia_reports::Lang::Es)?;
//! std::fs::write("brecha.pdf", pdf)?;
//! # Ok(()) }
//! ```

mod breach;
mod certificate;
mod chart;
mod clause;
mod dossier;
mod i18n;
mod input;
mod letter;
mod marketing;
mod notice;
mod pdf;
mod pending;
mod summary;

pub use breach::{breach_html, breach_pdf};
pub use certificate::{RENEW_WITHIN_DAYS, TlsCertificate};
pub use clause::{clause_html, clause_pdf};
pub use dossier::{dossier_html, dossier_pdf};
pub use i18n::{Catalogue, EN, ES, Lang};
pub use input::{DossierInput, PackInfo, Visibility};
pub use letter::{Access, DataItem, Purpose, RightsPackage, letter_html, letter_pdf};
pub use notice::{BreachNotice, breach_notice};
pub use pending::{Duties, Pending, duties_pending, pending_actions};
pub use summary::{SummaryInput, summary_html, summary_pdf};

/// The stylesheet every document inlines.
const CSS: &str = include_str!("../templates/base.css");

/// What can go wrong rendering a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unknown language `{0}`: expected es or en")]
    UnknownLanguage(String),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    #[error("pdf: {0}")]
    Pdf(String),
    #[error("{what} lacks `{field}`, which the clause must give: fill it in the register")]
    Incomplete { what: String, field: String },
    #[error(transparent)]
    Engine(#[from] custodia_engine::Error),
    #[error("tls certificate `{path}`: {message}")]
    Certificate {
        path: std::path::PathBuf,
        message: String,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
