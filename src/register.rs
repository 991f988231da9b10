//! `custodia add ...`: one dossier register entry from the command line
//! (providers, processing activities, measures, training, backups,
//! breaches), for firms that keep no organisation file.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use custodia_engine::{
    Backup, Breach, Contact, EntryId, OrgSlug, ProcessingActivity, Provider, RegisterEntry,
    SecurityMeasure, Sla, Training, WorkerLogin,
};

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
    /// They process personal data on our behalf
    #[arg(long)]
    pub personal_data: bool,
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub contract_signed: Option<NaiveDate>,
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
    /// Repeat for several
    #[arg(long = "recipient")]
    pub recipients: Vec<String>,
    /// Third countries data goes to, or `none`
    #[arg(long)]
    pub transfers: Option<String>,
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
    #[arg(long)]
    pub subjects_notified: bool,
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
                    processes_personal_data: a.personal_data,
                    contract_signed: a.contract_signed,
                    confidentiality_clause: a.confidentiality_clause,
                    sla,
                    last_review: a.last_review,
                    next_review: a.next_review,
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
                    recipients: a.recipients,
                    transfers: a.transfers,
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
                    subjects_notified: a.subjects_notified,
                };
                (a.target, RegisterEntry::Breach(entry))
            }
        }
    }
}

/// Records the entry; the core audits it in the same transaction.
pub async fn add(g: &Global, command: AddCommand) -> anyhow::Result<()> {
    let (target, entry) = command.into_entry();
    let replaced = with_app(g, async |app| {
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
