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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Customer,
    Area,
    Document,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 3] = [
        ResourceKind::Customer,
        ResourceKind::Area,
        ResourceKind::Document,
    ];

    /// The kind's name, as rules see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Customer => "customer",
            ResourceKind::Area => "area",
            ResourceKind::Document => "document",
        }
    }
}

/// A reference to a resource, as written on the command line and in the
/// API: `customer:C-1001`, `customer:C-1001/personal`, `document:D-1001-2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ResourceRef {
    Customer(CustomerId),
    Area(CustomerId, AreaName),
    Document(DocumentId),
}

impl ResourceRef {
    /// The resource's kind.
    pub fn kind(&self) -> ResourceKind {
        match self {
            ResourceRef::Customer(_) => ResourceKind::Customer,
            ResourceRef::Area(..) => ResourceKind::Area,
            ResourceRef::Document(_) => ResourceKind::Document,
        }
    }
}

impl FromStr for ResourceRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidValue {
            kind: "resource",
            value: s.to_owned(),
            reason: "expected customer:ID, customer:ID/AREA or document:ID",
        };
        let (kind, rest) = s.split_once(':').ok_or_else(invalid)?;
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
        ] {
            assert!(bad.parse::<ResourceRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_actions_are_named_in_the_error() {
        let err = "exprot".parse::<Action>().expect_err("typo");
        assert!(err.to_string().contains("`exprot`"));
    }
}
