//! The dossier's registers: providers, processing activities, security
//! measures, training, backups and breaches.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Contact, CustomerId, EntryId, WorkerLogin};

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
    /// Whether they process personal data on our behalf. Asked, never
    /// assumed: `None` (not answered) is a pending action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes_personal_data: Option<bool>,
    /// When the processing contract (art. 28(3)) was signed.
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
    /// Other processors they engage for our data (art. 28(2) and (4)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_processors: Vec<SubProcessor>,
    /// What the contract says happens to the data when it ends (art. 28(3)(g)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_contract: Option<EndOfContract>,
    /// Whether the contract lets us audit and inspect them (art. 28(3)(h)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_rights: Option<bool>,
}

impl Provider {
    /// Processes personal data for us: answered yes.
    pub fn is_processor(&self) -> bool {
        self.processes_personal_data == Some(true)
    }
}

/// A processor's own processor, engaged for our data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubProcessor {
    pub name: String,
    pub service: String,
    /// Where it processes the data (a third country means a transfer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// When we authorised it in writing (art. 28(2)); `None`: not authorised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorised: Option<NaiveDate>,
}

/// What a processor does with the data when the contract ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndOfContract {
    /// Returns it to us.
    Return,
    /// Deletes it and certifies the deletion.
    Delete,
    /// Returns it, then deletes every copy.
    ReturnThenDelete,
}

impl EndOfContract {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndOfContract::Return => "return",
            EndOfContract::Delete => "delete",
            EndOfContract::ReturnThenDelete => "return-then-delete",
        }
    }
}

impl std::str::FromStr for EndOfContract {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        [Self::Return, Self::Delete, Self::ReturnThenDelete]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| crate::Error::InvalidValue {
                kind: "end of contract",
                value: s.to_owned(),
                reason: "expected return, delete or return-then-delete",
            })
    }
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
    /// Criminal convictions and offences (art. 10).
    #[serde(default)]
    pub criminal_data: bool,
    /// Occasional, not part of the firm's regular work (art. 30(5)).
    #[serde(default)]
    pub occasional: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Third countries data goes to; empty with `transfers = "none"` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers: Option<String>,
    /// The safeguards of those transfers (arts. 45-49): adequacy decision,
    /// standard contractual clauses...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_safeguards: Option<String>,
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
    /// A notification after 72 hours must give the reasons for the delay
    /// (art. 33(1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_reason: Option<String>,
    /// The documented decision not to notify, because the breach is
    /// unlikely to result in a risk to people (arts. 33(1) and 33(5)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_notified_reason: Option<String>,
    /// The customers affected: the art. 34 notice goes to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_customers: Vec<CustomerId>,
    #[serde(default)]
    pub subjects_notified: bool,
}

/// How likely and severe the risks to people are (arts. 24, 32, 35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

impl std::str::FromStr for RiskLevel {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| crate::Error::InvalidValue {
                kind: "risk level",
                value: s.to_owned(),
                reason: "expected low, medium or high",
            })
    }
}

/// The yearly risk analysis (GDPR arts. 24 and 32; INCIBE's basic
/// measures start from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskAnalysis {
    pub id: EntryId,
    pub date: NaiveDate,
    /// The overall result.
    pub level: RiskLevel,
    /// e.g. `AEPD Gestiona EIPD`, `INCIBE checklist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<String>,
}

/// A worker's signed duty of confidentiality (LOPDGDD art. 5; GDPR arts.
/// 28(3)(b) and 32(4)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidentialityAgreement {
    pub id: EntryId,
    pub worker: WorkerLogin,
    pub signed: NaiveDate,
}

/// The monthly review of the access log: who looked, when, what they found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogReview {
    pub id: EntryId,
    pub date: NaiveDate,
    pub reviewer: WorkerLogin,
    pub findings: String,
}

impl Breach {
    /// The art. 33(1) deadline for notifying the authority.
    pub fn notification_deadline(&self) -> DateTime<Utc> {
        self.aware_at + chrono::Duration::hours(72)
    }

    /// Notified after the 72 hours.
    pub fn notified_late(&self) -> bool {
        self.notified_authority_at
            .is_some_and(|at| at > self.notification_deadline())
    }

    /// Still waiting for a notification or a documented decision not to.
    pub fn awaits_notification(&self) -> bool {
        self.notified_authority_at.is_none() && self.not_notified_reason.is_none()
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
    Risk,
    Confidentiality,
    LogReview,
}

impl RegisterKind {
    const ALL: [RegisterKind; 9] = [
        RegisterKind::Provider,
        RegisterKind::Activity,
        RegisterKind::Measure,
        RegisterKind::Training,
        RegisterKind::Backup,
        RegisterKind::Breach,
        RegisterKind::Risk,
        RegisterKind::Confidentiality,
        RegisterKind::LogReview,
    ];

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterKind::Provider => "provider",
            RegisterKind::Activity => "activity",
            RegisterKind::Measure => "measure",
            RegisterKind::Training => "training",
            RegisterKind::Backup => "backup",
            RegisterKind::Breach => "breach",
            RegisterKind::Risk => "risk",
            RegisterKind::Confidentiality => "confidentiality",
            RegisterKind::LogReview => "log-review",
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
            RegisterKind::Risk => "risk analysis",
            RegisterKind::Confidentiality => "confidentiality agreement",
            RegisterKind::LogReview => "access log review",
        }
    }

    /// Reads a stored body of this kind.
    pub fn decode(self, body: &str) -> serde_json::Result<RegisterEntry> {
        Ok(match self {
            RegisterKind::Provider => RegisterEntry::Provider(serde_json::from_str(body)?),
            RegisterKind::Activity => RegisterEntry::Activity(serde_json::from_str(body)?),
            RegisterKind::Measure => RegisterEntry::Measure(serde_json::from_str(body)?),
            RegisterKind::Training => RegisterEntry::Training(serde_json::from_str(body)?),
            RegisterKind::Backup => RegisterEntry::Backup(serde_json::from_str(body)?),
            RegisterKind::Breach => RegisterEntry::Breach(serde_json::from_str(body)?),
            RegisterKind::Risk => RegisterEntry::Risk(serde_json::from_str(body)?),
            RegisterKind::Confidentiality => {
                RegisterEntry::Confidentiality(serde_json::from_str(body)?)
            }
            RegisterKind::LogReview => RegisterEntry::LogReview(serde_json::from_str(body)?),
        })
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
    Risk(RiskAnalysis),
    Confidentiality(ConfidentialityAgreement),
    LogReview(LogReview),
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
            RegisterEntry::Risk(_) => RegisterKind::Risk,
            RegisterEntry::Confidentiality(_) => RegisterKind::Confidentiality,
            RegisterEntry::LogReview(_) => RegisterKind::LogReview,
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
            RegisterEntry::Risk(e) => &e.id,
            RegisterEntry::Confidentiality(e) => &e.id,
            RegisterEntry::LogReview(e) => &e.id,
        }
    }

    /// The workers the entry names, who must exist in the organisation.
    pub fn workers(&self) -> Vec<&WorkerLogin> {
        match self {
            RegisterEntry::Training(t) => t.attendees.iter().collect(),
            RegisterEntry::Confidentiality(c) => vec![&c.worker],
            RegisterEntry::LogReview(r) => vec![&r.reviewer],
            _ => Vec::new(),
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_analyses: Vec<RiskAnalysis>,
    /// Staff confidentiality agreements, one per worker (kept with training).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confidentiality: Vec<ConfidentialityAgreement>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_reviews: Vec<LogReview>,
}

impl Registers {
    /// Every entry, register by register, in each register's order.
    pub fn entries(&self) -> Vec<RegisterEntry> {
        let r = self;
        let all = [
            r.providers
                .iter()
                .cloned()
                .map(RegisterEntry::Provider)
                .collect::<Vec<_>>(),
            r.activities
                .iter()
                .cloned()
                .map(RegisterEntry::Activity)
                .collect(),
            r.measures
                .iter()
                .cloned()
                .map(RegisterEntry::Measure)
                .collect(),
            r.trainings
                .iter()
                .cloned()
                .map(RegisterEntry::Training)
                .collect(),
            r.backups
                .iter()
                .cloned()
                .map(RegisterEntry::Backup)
                .collect(),
            r.breaches
                .iter()
                .cloned()
                .map(RegisterEntry::Breach)
                .collect(),
            r.risk_analyses
                .iter()
                .cloned()
                .map(RegisterEntry::Risk)
                .collect(),
            r.confidentiality
                .iter()
                .cloned()
                .map(RegisterEntry::Confidentiality)
                .collect(),
            r.log_reviews
                .iter()
                .cloned()
                .map(RegisterEntry::LogReview)
                .collect(),
        ];
        all.into_iter().flatten().collect()
    }

    /// How many entries, in all registers.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether every register is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each register in id order, as the store reads them back.
    pub fn sort(&mut self) {
        let mut entries = self.entries();
        entries.sort_by(|a, b| a.id().cmp(b.id()));
        *self = Registers::default();
        for entry in entries {
            self.push(entry);
        }
    }

    /// Adds an entry to its register.
    pub fn push(&mut self, entry: RegisterEntry) {
        match entry {
            RegisterEntry::Provider(e) => self.providers.push(e),
            RegisterEntry::Activity(e) => self.activities.push(e),
            RegisterEntry::Measure(e) => self.measures.push(e),
            RegisterEntry::Training(e) => self.trainings.push(e),
            RegisterEntry::Backup(e) => self.backups.push(e),
            RegisterEntry::Breach(e) => self.breaches.push(e),
            RegisterEntry::Risk(e) => self.risk_analyses.push(e),
            RegisterEntry::Confidentiality(e) => self.confidentiality.push(e),
            RegisterEntry::LogReview(e) => self.log_reviews.push(e),
        }
    }
}
