//! The dossier's registers: providers, processing activities, security
//! measures, training, backups and breaches.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Contact, EntryId, WorkerLogin};

/// Service levels agreed with a provider (INCIBE's checklist).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// e.g. `99.5%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_hours: Option<String>,
    /// Time to respond to an incident, e.g. `4h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_staff: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<String>,
    /// Who applies updates: us or the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates_by: Option<String>,
    /// Who takes backups: us or the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_limits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_interruptions: Option<String>,
}

/// A provider (processor, GDPR art. 28) and its service levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: EntryId,
    pub name: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub processes_personal_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_signed: Option<NaiveDate>,
    /// When the confidentiality clause was signed, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidentiality_clause: Option<NaiveDate>,
    #[serde(default)]
    pub sla: Sla,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_review: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_review: Option<NaiveDate>,
}

/// A record of processing activity (GDPR art. 30(1)). Every field after
/// `name` may be missing on import; the dossier lists what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingActivity {
    pub id: EntryId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_categories: Vec<String>,
    /// Health or other art. 9 data.
    #[serde(default)]
    pub special_categories: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Third countries data goes to; empty with `transfers = "none"` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_measures: Vec<String>,
}

/// A technical or organisational measure (GDPR art. 32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityMeasure {
    pub id: EntryId,
    pub name: String,
    /// e.g. `access`, `backup`, `network`, `encryption`, `awareness`.
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implemented: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<NaiveDate>,
}

/// A staff awareness session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub id: EntryId,
    pub title: String,
    pub date: NaiveDate,
    #[serde(default)]
    pub hours: u32,
    #[serde(default)]
    pub attendees: Vec<WorkerLogin>,
}

/// A backup and the check that it can be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub id: EntryId,
    pub taken_at: DateTime<Utc>,
    pub location: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_checked: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_ok: Option<bool>,
}

/// A personal data breach, with the fields GDPR art. 33(3) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breach {
    pub id: EntryId,
    /// When the organisation became aware: the 72-hour clock starts here.
    pub aware_at: DateTime<Utc>,
    pub nature: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approx_subjects: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approx_records: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequences: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_authority_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub subjects_notified: bool,
}

impl Breach {
    /// The art. 33(1) deadline for notifying the authority.
    pub fn notification_deadline(&self) -> DateTime<Utc> {
        self.aware_at + chrono::Duration::hours(72)
    }
}

/// The kinds of register entry, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterKind {
    Provider,
    Activity,
    Measure,
    Training,
    Backup,
    Breach,
}

impl RegisterKind {
    /// The kind's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterKind::Provider => "provider",
            RegisterKind::Activity => "activity",
            RegisterKind::Measure => "measure",
            RegisterKind::Training => "training",
            RegisterKind::Backup => "backup",
            RegisterKind::Breach => "breach",
        }
    }

    /// The kind in words, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            RegisterKind::Provider => "provider",
            RegisterKind::Activity => "processing activity",
            RegisterKind::Measure => "security measure",
            RegisterKind::Training => "training",
            RegisterKind::Backup => "backup",
            RegisterKind::Breach => "breach",
        }
    }
}

/// One entry of any register, as `custodia add` records it. Serialises
/// as the entry itself, the body the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RegisterEntry {
    Provider(Provider),
    Activity(ProcessingActivity),
    Measure(SecurityMeasure),
    Training(Training),
    Backup(Backup),
    Breach(Breach),
}

impl RegisterEntry {
    /// Which register the entry belongs to.
    pub fn kind(&self) -> RegisterKind {
        match self {
            RegisterEntry::Provider(_) => RegisterKind::Provider,
            RegisterEntry::Activity(_) => RegisterKind::Activity,
            RegisterEntry::Measure(_) => RegisterKind::Measure,
            RegisterEntry::Training(_) => RegisterKind::Training,
            RegisterEntry::Backup(_) => RegisterKind::Backup,
            RegisterEntry::Breach(_) => RegisterKind::Breach,
        }
    }

    /// The entry's id, unique within its register.
    pub fn id(&self) -> &EntryId {
        match self {
            RegisterEntry::Provider(e) => &e.id,
            RegisterEntry::Activity(e) => &e.id,
            RegisterEntry::Measure(e) => &e.id,
            RegisterEntry::Training(e) => &e.id,
            RegisterEntry::Backup(e) => &e.id,
            RegisterEntry::Breach(e) => &e.id,
        }
    }
}

/// All register entries of one organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<Provider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<ProcessingActivity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<SecurityMeasure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trainings: Vec<Training>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<Backup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<Breach>,
}
