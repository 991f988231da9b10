//! What a rule is asked about: a worker, an action, a resource, a context.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AreaName, CustomerId, DocumentId, WorkerLogin};
use crate::error::Error;

/// Something a worker does to customer data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    View,
    Edit,
    Create,
    Delete,
    Export,
    Download,
    Print,
    Send,
    Unlock,
}

impl Action {
    /// Every action, in a stable order.
    pub const ALL: [Action; 9] = [
        Action::View,
        Action::Edit,
        Action::Create,
        Action::Delete,
        Action::Export,
        Action::Download,
        Action::Print,
        Action::Send,
        Action::Unlock,
    ];

    /// The action's name, as rules see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Edit => "edit",
            Action::Create => "create",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Download => "download",
            Action::Print => "print",
            Action::Send => "send",
            Action::Unlock => "unlock",
        }
    }
}

impl FromStr for Action {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::InvalidValue {
                kind: "action",
                value: s.to_owned(),
                reason: "expected view, edit, create, delete, export, download, print, send or unlock",
            })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a resource; rules declare which kinds they apply to.
///
/// Customers, areas and documents are a customer's record; the other kinds
/// are the firm's own records (the compliance officer's and marketing's
/// objects), which carry no customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    Customer,
    Area,
    Document,
    /// The audit log: search it, download it.
    AuditLog,
    /// The dossier's registers (providers, activities, measures...).
    Register,
    /// The data-protection dossier itself.
    Dossier,
    /// Security breaches and their reports.
    Breach,
    /// Marketing campaigns.
    Campaign,
    /// The opt-out (baja) list and the Robinson list.
    OptOut,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::Customer,
        ResourceKind::Area,
        ResourceKind::Document,
        ResourceKind::AuditLog,
        ResourceKind::Register,
        ResourceKind::Dossier,
        ResourceKind::Breach,
        ResourceKind::Campaign,
        ResourceKind::OptOut,
    ];

    /// The kinds of a customer's record: what `*` means in a pack.
    pub const RECORD: [ResourceKind; 3] = [
        ResourceKind::Customer,
        ResourceKind::Area,
        ResourceKind::Document,
    ];

    /// The firm's own records: what `office` means in a pack.
    pub const OFFICE: [ResourceKind; 6] = [
        ResourceKind::AuditLog,
        ResourceKind::Register,
        ResourceKind::Dossier,
        ResourceKind::Breach,
        ResourceKind::Campaign,
        ResourceKind::OptOut,
    ];

    /// The kind's name, as rules see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Customer => "customer",
            ResourceKind::Area => "area",
            ResourceKind::Document => "document",
            ResourceKind::AuditLog => "audit-log",
            ResourceKind::Register => "register",
            ResourceKind::Dossier => "dossier",
            ResourceKind::Breach => "breach",
            ResourceKind::Campaign => "campaign",
            ResourceKind::OptOut => "opt-out",
        }
    }

    /// Whether this kind belongs to a customer's record.
    pub fn is_record(self) -> bool {
        ResourceKind::RECORD.contains(&self)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of one office object (`providers`, `spring-sale`): lowercase
/// letters, digits, `-`, `_` and `.`, at most 64.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OfficeName(String);

impl OfficeName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OfficeName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidValue {
                kind: "name",
                value: s.to_owned(),
                reason: "expected lowercase letters, digits, `-`, `_` or `.`, at most 64",
            })
        }
    }
}

impl fmt::Display for OfficeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference to a resource, as written on the command line and in the
/// API: `customer:C-1001`, `customer:C-1001/personal`, `document:D-1001-2`,
/// and the firm's own records: `audit-log`, `dossier`, `register:providers`,
/// `breach`, `campaign:spring-sale`, `opt-out`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ResourceRef {
    Customer(CustomerId),
    Area(CustomerId, AreaName),
    Document(DocumentId),
    /// One of the firm's own records, or the whole of a kind when unnamed.
    // INVARIANT: `kind` is never a record kind (parsing and
    // `ResourceRef::office` refuse them), so an office request has no customer.
    Office(ResourceKind, Option<OfficeName>),
}

impl ResourceRef {
    /// An office object of `kind`, named or not; `None` for a record kind.
    pub fn office(kind: ResourceKind, name: Option<OfficeName>) -> Option<Self> {
        (!kind.is_record()).then_some(ResourceRef::Office(kind, name))
    }

    /// The resource's kind.
    pub fn kind(&self) -> ResourceKind {
        match self {
            ResourceRef::Customer(_) => ResourceKind::Customer,
            ResourceRef::Area(..) => ResourceKind::Area,
            ResourceRef::Document(_) => ResourceKind::Document,
            ResourceRef::Office(kind, _) => *kind,
        }
    }
}

impl FromStr for ResourceRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidValue {
            kind: "resource",
            value: s.to_owned(),
            reason: "expected customer:ID, customer:ID/AREA, document:ID, or an office kind \
                     (audit-log, register, dossier, breach, campaign, opt-out) with an optional :NAME",
        };
        let (kind, rest) = match s.split_once(':') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (s, None),
        };
        if let Some(office) = ResourceKind::OFFICE
            .into_iter()
            .find(|k| k.as_str() == kind)
        {
            let name = rest.map(str::parse).transpose()?;
            return Ok(ResourceRef::Office(office, name));
        }
        let rest = rest.ok_or_else(invalid)?;
        match kind {
            "customer" => match rest.split_once('/') {
                Some((id, area)) => Ok(ResourceRef::Area(id.parse()?, area.parse()?)),
                None => Ok(ResourceRef::Customer(rest.parse()?)),
            },
            "document" => Ok(ResourceRef::Document(rest.parse()?)),
            _ => Err(invalid()),
        }
    }
}

impl TryFrom<String> for ResourceRef {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<ResourceRef> for String {
    fn from(r: ResourceRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceRef::Customer(id) => write!(f, "customer:{id}"),
            ResourceRef::Area(id, area) => write!(f, "customer:{id}/{area}"),
            ResourceRef::Document(id) => write!(f, "document:{id}"),
            ResourceRef::Office(kind, None) => write!(f, "{kind}"),
            ResourceRef::Office(kind, Some(name)) => write!(f, "{kind}:{name}"),
        }
    }
}

/// The circumstances of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// When the request is made.
    pub time: DateTime<Utc>,
    /// `office`, `remote`, `api`, `cli`...
    #[serde(default = "default_channel")]
    pub channel: String,
    /// Why the data is needed (purpose limitation), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The client's address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Areas of the resource's customer that this worker has unlocked and
    /// whose unlock has not expired. Filled in by the engine, not the caller.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unlocked: BTreeSet<AreaName>,
    /// For `send`: the campaign declares it is about products or services
    /// similar to those the customer contracted from this firm (LSSI-CE
    /// art. 21.2). Set by the mail guard from the campaign, never by a caller.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub similar_products: bool,
}

fn default_channel() -> String {
    "cli".into()
}

impl Context {
    /// A context at `time` on `channel`, with nothing else known.
    pub fn new(time: DateTime<Utc>, channel: impl Into<String>) -> Self {
        Self {
            time,
            channel: channel.into(),
            purpose: None,
            address: None,
            unlocked: BTreeSet::new(),
            similar_products: false,
        }
    }

    /// The hour of day (0..=23, UTC) for office-hours rules.
    pub fn hour(&self) -> i64 {
        i64::from(self.time.hour())
    }

    /// The day of week, 1 = Monday .. 7 = Sunday.
    pub fn weekday(&self) -> i64 {
        i64::from(self.time.weekday().number_from_monday())
    }
}

/// A question for the rules: may `worker` do `action` to `resource`?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub worker: WorkerLogin,
    pub action: Action,
    pub resource: ResourceRef,
    pub context: Context,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_references_parse_and_print_back() {
        for text in [
            "customer:C-1001",
            "customer:C-1001/personal",
            "customer:P-2001/clinical:cardiology",
            "document:D-1001-2",
            "audit-log",
            "dossier",
            "register:providers",
            "campaign:spring-sale",
            "opt-out",
        ] {
            let r: ResourceRef = text.parse().expect(text);
            assert_eq!(r.to_string(), text);
        }
        for bad in [
            "C-1001",
            "invoice:I-1",
            "customer:",
            "customer:C 1",
            "document:D/1",
            "register:Providers",
            "campaign:",
            "customer",
        ] {
            assert!(bad.parse::<ResourceRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn office_objects_carry_no_customer_and_record_kinds_are_not_office() {
        let r: ResourceRef = "register:providers".parse().expect("register");
        assert_eq!(r.kind(), ResourceKind::Register);
        assert!(!r.kind().is_record());
        assert!(ResourceRef::office(ResourceKind::Customer, None).is_none());
        assert_eq!(
            serde_json::to_string(&ResourceKind::AuditLog).expect("json"),
            "\"audit-log\""
        );
    }

    #[test]
    fn unknown_actions_are_named_in_the_error() {
        let err = "exprot".parse::<Action>().expect_err("typo");
        assert!(err.to_string().contains("`exprot`"));
    }
}
