//! `custodia report ...`: documents from live data.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use custodia_app::{Custodia, DocumentExport};
use custodia_engine::audit::{AuditQuery, BreachQuery};
use custodia_engine::rules::{Action, ResourceKind, ResourceRef};
use custodia_engine::{OrgSlug, WorkerLogin};
use custodia_reports::{Lang, SummaryInput};

use crate::audit::parse_time;
use crate::global::{Global, with_app};

/// A document's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Pdf,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

/// What every document takes: whose, in which language and format, where.
#[derive(Debug, Args)]
pub struct DocumentArgs {
    #[arg(long)]
    pub org: OrgSlug,
    /// es (default) or en
    #[arg(long, default_value = "es")]
    pub lang: Lang,
    /// html (one self-contained file) or pdf (typst, fonts embedded)
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,
    #[arg(long, short)]
    pub output: PathBuf,
    /// Act as this worker (required, or `CUSTODIA_AS`): the rules decide
    /// (`print` on the report's kind: `dossier`, `audit-log`, `breach` or
    /// `register`), audited, and the export event names them
    #[arg(long = "as", value_name = "WORKER", env = "CUSTODIA_AS")]
    pub actor: WorkerLogin,
}

impl ReportCommand {
    /// The office kind the report is about, for the decision.
    fn kind(&self) -> ResourceKind {
        match self {
            ReportCommand::Dossier { .. } => ResourceKind::Dossier,
            ReportCommand::Audit { .. } => ResourceKind::AuditLog,
            ReportCommand::Breach { .. } => ResourceKind::Breach,
            ReportCommand::Clause { .. } => ResourceKind::Register,
        }
    }

    fn doc(&self) -> &DocumentArgs {
        match self {
            ReportCommand::Dossier { doc, .. }
            | ReportCommand::Audit { doc, .. }
            | ReportCommand::Breach { doc, .. }
            | ReportCommand::Clause { doc, .. } => doc,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The data-protection dossier (Expediente de Protección de Datos)
    Dossier {
        #[command(flatten)]
        doc: DocumentArgs,
        /// A PEM certificate the organisation serves (web, mail) whose
        /// expiry the dossier shows; repeat, or list in the variable
        #[arg(long = "tls-cert", env = "CUSTODIA_TLS_CERTS", value_delimiter = ',')]
        tls_certs: Vec<PathBuf>,
    },
    /// Accesses per worker, customer and action, denials, exports, unusual activity
    Audit {
        #[command(flatten)]
        doc: DocumentArgs,
        /// Start of the period (RFC 3339 or YYYY-MM-DD)
        #[arg(long, value_parser = parse_time)]
        from: DateTime<Utc>,
        /// End of the period, exclusive
        #[arg(long, value_parser = parse_time)]
        to: DateTime<Utc>,
    },
    /// The customers a breach window touched, ready to attach to a notification
    Breach {
        #[command(flatten)]
        doc: DocumentArgs,
        #[arg(long)]
        worker: Option<String>,
        #[arg(long)]
        customer: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long, value_parser = parse_time)]
        from: DateTime<Utc>,
        #[arg(long, value_parser = parse_time)]
        to: DateTime<Utc>,
    },
    /// The layered information clause of a processing activity (GDPR
    /// arts. 13-14; LOPDGDD art. 11), for forms and emails
    Clause {
        #[command(flatten)]
        doc: DocumentArgs,
        /// The activity's id in the register, e.g. RA-01
        #[arg(long)]
        activity: String,
    },
}

/// One rendered document: bytes in the asked format.
fn render(
    format: Format,
    html: impl FnOnce() -> custodia_reports::Result<String>,
    pdf: impl FnOnce() -> custodia_reports::Result<Vec<u8>>,
) -> custodia_reports::Result<Vec<u8>> {
    match format {
        Format::Html => html().map(String::into_bytes),
        Format::Pdf => pdf(),
    }
}

pub async fn run(g: &Global, command: ReportCommand) -> anyhow::Result<()> {
    with_app(g, async |app| write(app, command).await).await
}

async fn write(app: &Custodia, command: ReportCommand) -> anyhow::Result<()> {
    // INVARIANT: no report is made without the rules' leave for the
    // worker who asks, like the web UI's download. A refusal is decided
    // again through the audited path, so it is recorded; a leave is
    // recorded by the export event that names the worker. Asking first
    // without an event keeps the report's own chain figures the same for
    // the same data (reproducible documents).
    let actor = command.doc().actor.clone();
    let reader = crate::access::operator_reader(&actor);
    let org = &command.doc().org;
    let resource = ResourceRef::office(command.kind(), None)
        .context("a report's kind is one of the firm's own records")?;
    if !app.may(org, &reader, Action::Print, &resource).await? {
        app.require_office(org, &reader, Action::Print, command.kind(), None)
            .await?;
        anyhow::bail!("`{actor}` may not print this report");
    }
    let store = app.store();
    let now = report_time()?;
    let (bytes, doc, what) = match command {
        ReportCommand::Dossier { doc, tls_certs } => {
            let mut input = dossier(app, &doc.org, now).await?;
            input.marketing = app.marketing_history(&doc.org).await?;
            input.tls = tls_certs
                .iter()
                .map(|path| custodia_reports::TlsCertificate::read(path))
                .collect::<Result<_, _>>()?;
            let bytes = render(
                doc.format,
                || custodia_reports::dossier_html(&input, doc.lang),
                || custodia_reports::dossier_pdf(&input, doc.lang),
            )?;
            (bytes, doc, "dossier")
        }
        ReportCommand::Audit { doc, from, to } => {
            let organisation = store.org(&doc.org).await?.organisation().clone();
            let q = AuditQuery {
                from: Some(from),
                to: Some(to),
                ..AuditQuery::default()
            };
            let events = store.query_audit(&doc.org, &q).await?;
            let input = SummaryInput {
                organisation: &organisation,
                events: &events,
                from,
                to,
                now,
            };
            let bytes = render(
                doc.format,
                || custodia_reports::summary_html(&input, doc.lang),
                || custodia_reports::summary_pdf(&input, doc.lang),
            )?;
            (bytes, doc, "audit summary")
        }
        ReportCommand::Breach {
            doc,
            worker,
            customer,
            address,
            from,
            to,
        } => {
            let q = BreachQuery {
                worker,
                customer,
                address,
                from,
                to,
            };
            let organisation = store.org(&doc.org).await?.organisation().clone();
            let scope = store.breach_scope(&doc.org, &q).await?;
            let bytes = render(
                doc.format,
                || custodia_reports::breach_html(&organisation, &scope, now, doc.lang),
                || custodia_reports::breach_pdf(&organisation, &scope, now, doc.lang),
            )?;
            (bytes, doc, "breach scope")
        }
        ReportCommand::Clause { doc, activity } => {
            let scope = store.org(&doc.org).await?;
            let organisation = scope.organisation().clone();
            let registers = scope.registers().await?;
            let entry = registers
                .activities
                .iter()
                .find(|a| a.id.as_str() == activity)
                .with_context(|| {
                    format!(
                        "--activity: `{activity}` is not an activity of `{}`",
                        doc.org
                    )
                })?;
            let bytes = render(
                doc.format,
                || custodia_reports::clause_html(&organisation, entry, now, doc.lang),
                || custodia_reports::clause_pdf(&organisation, entry, now, doc.lang),
            )?;
            (bytes, doc, "information clause")
        }
    };
    // A document takes personal data out of Custodia: the core records
    // the export before the file exists.
    let export = DocumentExport {
        org: &doc.org,
        worker: Some(&actor),
        what: format!(
            "{what} report ({}, {})",
            doc.format.name(),
            doc.lang.catalogue().code
        ),
        channel: "cli",
    };
    app.write_document(&export, &doc.output, &bytes).await?;
    say!("written {}", doc.output.display());
    Ok(())
}

/// When the document is made: now, or `SOURCE_DATE_EPOCH` when set (the
/// reproducible-builds convention), so the same data gives the same bytes.
fn report_time() -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") else {
        return Ok(chrono::Utc::now());
    };
    epoch
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .with_context(|| format!("SOURCE_DATE_EPOCH `{epoch}` is not a Unix time"))
}

/// Gathers the dossier's data live: the store, the packs in force and
/// the whole audit chain verified now, against its witness.
async fn dossier(
    app: &Custodia,
    org: &OrgSlug,
    now: DateTime<Utc>,
) -> anyhow::Result<custodia_reports::DossierInput> {
    let audit = app.verify_audit(org).await?;
    Ok(custodia_reports::DossierInput::gather(app.store(), org, &app.rules(), audit, now).await?)
}
