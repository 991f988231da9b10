//! `custodia add ...`: one dossier register entry from the command line
//! (providers, processing activities, measures, training, backups,
//! breaches), for firms that keep no organisation file.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use custodia_engine::{
    Backup, Breach, ConfidentialityAgreement, Contact, CustomerId, EndOfContract, EntryId,
    LogReview, OrgSlug, ProcessingActivity, Provider, RegisterEntry, RiskAnalysis, RiskLevel,
    SecurityMeasure, Sla, SubProcessor, Training, WorkerLogin,
};

use custodia_engine::rules::{Action, ResourceKind};

use crate::audit::parse_time;
use crate::global::{Global, with_app};
use crate::output::emit;

/// What every `add` shares: where the entry goes.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(long)]
    pub org: OrgSlug,
    /// The entry's id, unique within its register (e.g. `P-CLOUD`)
    #[arg(long)]
    pub id: EntryId,
    /// Replace the entry of the same id instead of refusing
    #[arg(long)]
    pub replace: bool,
    /// Act as this worker (required, or `CUSTODIA_AS`): the rules decide
    /// (`create`, or `edit` with --replace, on the `register` kind), audited
    #[arg(long = "as", value_name = "WORKER", env = "CUSTODIA_AS")]
    pub actor: WorkerLogin,
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// A provider (processor, art. 28) and its service levels
    Provider(Box<ProviderArgs>),
    /// A record of processing activity (art. 30(1))
    Activity(ActivityArgs),
    /// A technical or organisational security measure (art. 32)
    Measure(MeasureArgs),
    /// A staff training session
    Training(TrainingArgs),
    /// A backup and its restore check
    Backup(BackupArgs),
    /// A personal data breach (art. 33(3) fields)
    Breach(BreachArgs),
    /// The yearly risk analysis (arts. 24 and 32)
    Risk(RiskArgs),
    /// A worker's signed confidentiality agreement (LOPDGDD art. 5)
    Confidentiality(ConfidentialityArgs),
    /// The monthly review of the access log: who, when, what was found
    LogReview(LogReviewArgs),
}

#[derive(Debug, Args)]
pub struct ProviderArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub name: String,
    /// What they do for us, e.g. `cloud e-mail`
    #[arg(long)]
    pub service: String,
    #[arg(long)]
    pub contact_name: Option<String>,
    #[arg(long, requires = "contact_name")]
    pub contact_email: Option<String>,
    #[arg(long, requires = "contact_name")]
    pub contact_phone: Option<String>,
    /// They process personal data on our behalf (a processor, art. 28)
    #[arg(long, conflicts_with = "no_personal_data")]
    pub personal_data: bool,
    /// They reach no personal data of ours; with neither flag the
    /// question stays open and the dossier asks it
    #[arg(long)]
    pub no_personal_data: bool,
    /// When the processing contract (art. 28(3)) was signed
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub contract_signed: Option<NaiveDate>,
    /// What happens to the data when the contract ends (art. 28(3)(g))
    #[arg(long, value_name = "return|delete|return-then-delete")]
    pub end_of_contract: Option<EndOfContract>,
    /// Whether the contract lets us audit them (art. 28(3)(h))
    #[arg(long, value_name = "true|false")]
    pub audit_rights: Option<bool>,
    /// A sub-processor: `NAME|SERVICE[|COUNTRY[|AUTHORISED YYYY-MM-DD]]`
    /// (repeat for several)
    #[arg(long = "sub-processor", value_parser = parse_sub_processor)]
    pub sub_processors: Vec<SubProcessor>,
    /// When the confidentiality clause was signed
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub confidentiality_clause: Option<NaiveDate>,
    /// e.g. `99.5%`
    #[arg(long)]
    pub availability: Option<String>,
    #[arg(long)]
    pub support_hours: Option<String>,
    /// Time to respond to an incident, e.g. `4h`
    #[arg(long)]
    pub incident_response: Option<String>,
    #[arg(long)]
    pub assigned_staff: Option<String>,
    /// How they reach our systems (repeat for several)
    #[arg(long = "access-mode")]
    pub access_modes: Vec<String>,
    /// Who applies updates: `us` or `provider`
    #[arg(long)]
    pub updates_by: Option<String>,
    /// Who takes backups: `us` or `provider`
    #[arg(long)]
    pub backups_by: Option<String>,
    #[arg(long)]
    pub load_limits: Option<String>,
    #[arg(long)]
    pub scheduled_interruptions: Option<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub last_review: Option<NaiveDate>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub next_review: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub name: String,
    /// Repeat for several
    #[arg(long = "purpose")]
    pub purposes: Vec<String>,
    /// e.g. `contract (art. 6(1)(b))`
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// Categories of data subjects (repeat for several)
    #[arg(long = "subject")]
    pub data_subjects: Vec<String>,
    /// Categories of personal data (repeat for several)
    #[arg(long = "category")]
    pub data_categories: Vec<String>,
    /// Health or other art. 9 data
    #[arg(long)]
    pub special_categories: bool,
    /// Criminal convictions and offences (art. 10)
    #[arg(long)]
    pub criminal_data: bool,
    /// Occasional processing, not part of the regular work (art. 30(5))
    #[arg(long)]
    pub occasional: bool,
    /// Repeat for several
    #[arg(long = "recipient")]
    pub recipients: Vec<String>,
    /// Third countries data goes to, or `none`
    #[arg(long)]
    pub transfers: Option<String>,
    /// The safeguards of those transfers: adequacy decision, standard
    /// contractual clauses...
    #[arg(long)]
    pub transfer_safeguards: Option<String>,
    #[arg(long)]
    pub retention: Option<String>,
    /// Repeat for several
    #[arg(long = "security-measure")]
    pub security_measures: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub name: String,
    /// e.g. `access`, `backup`, `network`, `encryption`, `awareness`
    #[arg(long)]
    pub category: String,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub implemented: Option<NaiveDate>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub next_check: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct TrainingArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub title: String,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    #[arg(long, default_value_t = 0)]
    pub hours: u32,
    /// A worker login who attended (repeat for several)
    #[arg(long = "attendee")]
    pub attendees: Vec<WorkerLogin>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub target: Target,
    /// When it was taken (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub taken_at: DateTime<Utc>,
    /// Where it is kept
    #[arg(long)]
    pub location: String,
    #[arg(long)]
    pub encrypted: bool,
    /// The day a restore was tried
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub restore_checked: Option<NaiveDate>,
    /// Whether that restore worked
    #[arg(long, requires = "restore_checked")]
    pub restore_ok: Option<bool>,
}

#[derive(Debug, Args)]
pub struct BreachArgs {
    #[command(flatten)]
    pub target: Target,
    /// When the organisation became aware: the 72-hour clock starts here
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub aware_at: DateTime<Utc>,
    /// What happened
    #[arg(long)]
    pub nature: String,
    /// Categories of data concerned (repeat for several)
    #[arg(long = "category")]
    pub data_categories: Vec<String>,
    #[arg(long)]
    pub approx_subjects: Option<u64>,
    #[arg(long)]
    pub approx_records: Option<u64>,
    #[arg(long)]
    pub consequences: Option<String>,
    /// Measures taken or proposed
    #[arg(long)]
    pub measures: Option<String>,
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub notified_authority_at: Option<DateTime<Utc>>,
    /// Why it was notified after 72 hours (art. 33(1))
    #[arg(long, requires = "notified_authority_at")]
    pub late_reason: Option<String>,
    /// The documented decision not to notify: why the breach is unlikely
    /// to result in a risk to people (art. 33(5))
    #[arg(long, conflicts_with = "notified_authority_at")]
    pub not_notified_reason: Option<String>,
    /// A customer affected: the art. 34 notice goes to them (repeat)
    #[arg(long = "affected")]
    pub affected_customers: Vec<CustomerId>,
    #[arg(long)]
    pub subjects_notified: bool,
}

#[derive(Debug, Args)]
pub struct RiskArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// The overall result: low, medium or high
    #[arg(long)]
    pub level: RiskLevel,
    /// e.g. `AEPD Gestiona`, `INCIBE checklist`
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long)]
    pub findings: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConfidentialityArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub worker: WorkerLogin,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub signed: NaiveDate,
}

#[derive(Debug, Args)]
pub struct LogReviewArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: NaiveDate,
    /// The worker who reviewed it
    #[arg(long)]
    pub reviewer: WorkerLogin,
    /// What the review found (`nothing unusual` is a finding too)
    #[arg(long)]
    pub findings: String,
}

/// `NAME|SERVICE[|COUNTRY[|AUTHORISED]]`.
fn parse_sub_processor(s: &str) -> Result<SubProcessor, String> {
    let parts: Vec<&str> = s.split('|').map(str::trim).collect();
    let (name, service) = match parts.as_slice() {
        [name, service, ..] if !name.is_empty() && !service.is_empty() => (*name, *service),
        _ => {
            return Err(format!(
                "`{s}`: expected NAME|SERVICE[|COUNTRY[|AUTHORISED YYYY-MM-DD]]"
            ));
        }
    };
    let country = parts
        .get(2)
        .filter(|c| !c.is_empty())
        .map(|c| (*c).to_owned());
    let authorised = parts
        .get(3)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<NaiveDate>()
                .map_err(|e| format!("`{s}`: authorised date `{d}`: {e}"))
        })
        .transpose()?;
    Ok(SubProcessor {
        name: name.to_owned(),
        service: service.to_owned(),
        country,
        authorised,
    })
}

impl AddCommand {
    /// Where the entry goes, and the entry.
    fn into_entry(self) -> (Target, RegisterEntry) {
        match self {
            AddCommand::Provider(a) => {
                let a = *a;
                let contact = a.contact_name.map(|name| Contact {
                    name,
                    email: a.contact_email,
                    phone: a.contact_phone,
                });
                let sla = Sla {
                    availability: a.availability,
                    support_hours: a.support_hours,
                    incident_response: a.incident_response,
                    assigned_staff: a.assigned_staff,
                    access_modes: a.access_modes,
                    updates_by: a.updates_by,
                    backups_by: a.backups_by,
                    load_limits: a.load_limits,
                    scheduled_interruptions: a.scheduled_interruptions,
                };
                let entry = Provider {
                    id: a.target.id.clone(),
                    name: a.name,
                    service: a.service,
                    contact,
                    processes_personal_data: match (a.personal_data, a.no_personal_data) {
                        (true, _) => Some(true),
                        (_, true) => Some(false),
                        _ => None,
                    },
                    contract_signed: a.contract_signed,
                    confidentiality_clause: a.confidentiality_clause,
                    sla,
                    last_review: a.last_review,
                    next_review: a.next_review,
                    sub_processors: a.sub_processors,
                    end_of_contract: a.end_of_contract,
                    audit_rights: a.audit_rights,
                };
                (a.target, RegisterEntry::Provider(entry))
            }
            AddCommand::Activity(a) => {
                let entry = ProcessingActivity {
                    id: a.target.id.clone(),
                    name: a.name,
                    purposes: a.purposes,
                    legal_basis: a.legal_basis,
                    data_subjects: a.data_subjects,
                    data_categories: a.data_categories,
                    special_categories: a.special_categories,
                    criminal_data: a.criminal_data,
                    occasional: a.occasional,
                    recipients: a.recipients,
                    transfers: a.transfers,
                    transfer_safeguards: a.transfer_safeguards,
                    retention: a.retention,
                    security_measures: a.security_measures,
                };
                (a.target, RegisterEntry::Activity(entry))
            }
            AddCommand::Measure(a) => {
                let entry = SecurityMeasure {
                    id: a.target.id.clone(),
                    name: a.name,
                    category: a.category,
                    description: a.description,
                    implemented: a.implemented,
                    next_check: a.next_check,
                };
                (a.target, RegisterEntry::Measure(entry))
            }
            AddCommand::Training(a) => {
                let entry = Training {
                    id: a.target.id.clone(),
                    title: a.title,
                    date: a.date,
                    hours: a.hours,
                    attendees: a.attendees,
                };
                (a.target, RegisterEntry::Training(entry))
            }
            AddCommand::Backup(a) => {
                let entry = Backup {
                    id: a.target.id.clone(),
                    taken_at: a.taken_at,
                    location: a.location,
                    encrypted: a.encrypted,
                    restore_checked: a.restore_checked,
                    restore_ok: a.restore_ok,
                };
                (a.target, RegisterEntry::Backup(entry))
            }
            AddCommand::Breach(a) => {
                let entry = Breach {
                    id: a.target.id.clone(),
                    aware_at: a.aware_at,
                    nature: a.nature,
                    data_categories: a.data_categories,
                    approx_subjects: a.approx_subjects,
                    approx_records: a.approx_records,
                    consequences: a.consequences,
                    measures: a.measures,
                    notified_authority_at: a.notified_authority_at,
                    late_reason: a.late_reason,
                    not_notified_reason: a.not_notified_reason,
                    affected_customers: a.affected_customers,
                    subjects_notified: a.subjects_notified,
                };
                (a.target, RegisterEntry::Breach(entry))
            }
            AddCommand::Risk(a) => {
                let entry = RiskAnalysis {
                    id: a.target.id.clone(),
                    date: a.date,
                    level: a.level,
                    method: a.method,
                    findings: a.findings,
                };
                (a.target, RegisterEntry::Risk(entry))
            }
            AddCommand::Confidentiality(a) => {
                let entry = ConfidentialityAgreement {
                    id: a.target.id.clone(),
                    worker: a.worker,
                    signed: a.signed,
                };
                (a.target, RegisterEntry::Confidentiality(entry))
            }
            AddCommand::LogReview(a) => {
                let entry = LogReview {
                    id: a.target.id.clone(),
                    date: a.date,
                    reviewer: a.reviewer,
                    findings: a.findings,
                };
                (a.target, RegisterEntry::LogReview(entry))
            }
        }
    }
}

/// Records the entry; the core audits it in the same transaction.
pub async fn add(g: &Global, command: AddCommand) -> anyhow::Result<()> {
    let (target, entry) = command.into_entry();
    let replaced = with_app(g, async |app| {
        // INVARIANT: a register entry is written only with the rules'
        // leave for the worker who writes it, as in the web UI.
        let action = if target.replace {
            Action::Edit
        } else {
            Action::Create
        };
        let name = entry.kind().as_str().parse().ok();
        let reader = crate::access::operator_reader(&target.actor);
        app.require_office(&target.org, &reader, action, ResourceKind::Register, name)
            .await?;
        app.add_register_entry(&target.org, &entry, target.replace)
            .await
            .map_err(crate::output::replace_hint)
    })
    .await?;
    let (kind, id) = (entry.kind().noun(), entry.id());
    let verb = if replaced { "replaced" } else { "added" };
    emit(
        g.json,
        &serde_json::json!({
            "organisation": target.org,
            "register": entry.kind().as_str(),
            "id": id,
            "replaced": replaced,
        }),
        |_| say!("{verb} {kind} `{id}` in `{}`", target.org),
    )
}
