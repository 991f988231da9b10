//! Organisations, workers, customers, areas and documents.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    AreaContent, AreaName, CustomerId, DocumentId, DocumentType, Identity, OrgSlug, PasswordHash,
    WorkerLogin,
};
use crate::error::Error;

/// A business sector. Each sector enables the rule pack of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sector {
    Legal,
    Health,
    Accounting,
    Architecture,
    Ecommerce,
}

impl Sector {
    /// The sector's name, as used in pack names and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Legal => "legal",
            Sector::Health => "health",
            Sector::Accounting => "accounting",
            Sector::Architecture => "architecture",
            Sector::Ecommerce => "ecommerce",
        }
    }
}

/// A person or office to contact (controller, DPO, provider support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A firm using Custodia. Everything else in the store belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub slug: OrgSlug,
    pub name: String,
    pub sectors: Vec<Sector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The controller's contact (GDPR art. 30(1)(a)).
    pub controller: Contact,
    /// The data protection officer, where one is named (art. 37).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<Contact>,
    /// Head count, for the art. 30(5) exemption check.
    #[serde(default)]
    pub staff_count: u32,
    /// A health professional practising alone: LOPDGDD art. 34.1.l) then
    /// asks for no DPO even though clinical histories are kept. Declared,
    /// never inferred: without it a clinic is told to name a DPO.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sole_practitioner: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How sensitive a record or area is. Ordered: `Low < Medium < High < Restricted`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyLevel {
    Low,
    #[default]
    Medium,
    High,
    Restricted,
}

impl PrivacyLevel {
    /// The level as a number (1..=4) for rules to compare.
    pub fn rank(self) -> i64 {
        match self {
            PrivacyLevel::Low => 1,
            PrivacyLevel::Medium => 2,
            PrivacyLevel::High => 3,
            PrivacyLevel::Restricted => 4,
        }
    }

    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyLevel::Low => "low",
            PrivacyLevel::Medium => "medium",
            PrivacyLevel::High => "high",
            PrivacyLevel::Restricted => "restricted",
        }
    }
}

impl std::str::FromStr for PrivacyLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "restricted" => Ok(Self::Restricted),
            _ => Err(Error::InvalidValue {
                kind: "privacy level",
                value: s.to_owned(),
                reason: "expected low, medium, high or restricted",
            }),
        }
    }
}

/// A worker's place in the permission pyramid: 1 (trainee) to 5 (partner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    /// The lowest and highest levels of the pyramid.
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 5;

    /// The level as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Level {
    type Error = Error;
    fn try_from(value: u8) -> Result<Self, Error> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(Error::InvalidValue {
                kind: "level",
                value: value.to_string(),
                reason: "must be between 1 (trainee) and 5 (partner)",
            })
        }
    }
}

impl From<Level> for u8 {
    fn from(level: Level) -> u8 {
        level.0
    }
}

/// Whether a grant allows reading only, or editing too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantAccess {
    Read,
    Edit,
}

/// An explicit exception to the pyramid, e.g. "may read cardiology histories".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// What the grant covers: an area (`clinical:cardiology`) or a document type.
    pub scope: String,
    pub access: GrantAccess,
}

/// Someone who works for the organisation and uses its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    pub login: WorkerLogin,
    pub name: String,
    pub level: Level,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialties: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// argon2id only; a worker without one cannot log in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<PasswordHash>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Express consent to commercial communications, with its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Where it was given: web form, signed paper, counter...
    pub source: String,
    pub date: NaiveDate,
}

/// An opt-out (baja) from commercial communications. Absolute (GDPR art. 21(3)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub date: NaiveDate,
    /// How it arrived: email link, phone, letter, counter...
    pub channel: String,
}

/// The chance to refuse commercial communications, offered when the
/// customer's data was collected (LSSI-CE art. 21.2, second paragraph).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutOffer {
    pub date: NaiveDate,
    /// Where it was offered: contract clause, checkout checkbox...
    pub channel: String,
}

/// A customer's commercial-communication status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Communications {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<OptOut>,
    /// Whether, when and how an opt-out was offered at collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_offered: Option<OptOutOffer>,
}

impl Communications {
    /// Whether marketing may be sent: consent given and no later opt-out.
    /// An opt-out always wins, whatever its date (art. 21(3)).
    pub fn allows_marketing(&self) -> bool {
        self.consent.is_some() && self.opt_out.is_none()
    }
}

/// An area of a customer record with its own privacy level and, optionally,
/// its own password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub name: AreaName,
    #[serde(default)]
    pub privacy: PrivacyLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<PasswordHash>,
    /// What the area holds. Sealed in the vault: `None` when read from
    /// the store's index, filled by a read through the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<AreaContent>,
}

impl Area {
    /// Whether the area is closed by a password.
    pub fn is_locked(&self) -> bool {
        self.password_hash.is_some()
    }
}

/// A customer record (ficha).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    /// Sealed in the vault with `phone` and `address` (see [`Identity`]):
    /// `None` when read from the store's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// Kept in clear: the mail guard matches and sends to it; see
    /// ARCHITECTURE.md, "What stays in clear".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A postal address, sealed like the tax id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default)]
    pub privacy: PrivacyLevel,
    /// Workers in charge of this customer.
    #[serde(default)]
    pub assigned: Vec<WorkerLogin>,
    /// Has bought or contracted before (LSSI-CE art. 21.2). Only when the
    /// source says so: a missing value is `false`.
    #[serde(default)]
    pub existing_customer: bool,
    #[serde(default)]
    pub communications: Communications,
    /// Sector-specific attributes (case type, specialty, order count...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub areas: Vec<Area>,
    /// Blocked after erasure or restricted (set only by a granted rights
    /// request, never by an import).
    #[serde(skip)]
    pub restriction: Option<super::Restriction>,
}

impl Customer {
    /// The identity fields the vault seals.
    pub fn identity(&self) -> Identity {
        Identity {
            tax_id: self.tax_id.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
        }
    }

    /// Puts sealed identity fields back into the record.
    pub fn set_identity(&mut self, identity: Identity) {
        self.tax_id = identity.tax_id;
        self.phone = identity.phone;
        self.address = identity.address;
    }

    /// The named area, if the record has it.
    pub fn area(&self, name: &AreaName) -> Option<&Area> {
        self.areas.iter().find(|a| &a.name == name)
    }

    /// Whether LSSI-CE art. 21.2 lets a campaign reach this customer
    /// without consent: an existing customer, offered an opt-out when the
    /// data was collected, and a campaign about similar products or
    /// services of the same firm (`similar_products`, declared by it).
    pub fn existing_customer_exception(&self, similar_products: bool) -> bool {
        self.existing_customer && self.communications.opt_out_offered.is_some() && similar_products
    }

    /// Whether the worker is in charge of this customer.
    pub fn is_assigned_to(&self, login: &WorkerLogin) -> bool {
        self.assigned.contains(login)
    }
}

/// Where a document's bytes live. Custodia mediates access; the path is
/// never shown to a worker who is not allowed to see the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    Local,
    Share,
    Cloud,
}

/// A storage location: a local folder, a network share or a cloud drive path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub kind: LocationKind,
    pub path: String,
}

/// A document belonging to a customer record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub id: DocumentId,
    pub customer: CustomerId,
    pub area: AreaName,
    #[serde(rename = "type")]
    pub doc_type: DocumentType,
    pub title: String,
    /// Where it came from. Shown only to a worker allowed to see it.
    pub location: Location,
    /// The sealed bytes Custodia holds, when it holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// A document's bytes held by Custodia: sealed under the customer's key
/// in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Held {
    /// SHA-256 of the sealed bytes: their address in the blob store.
    pub blob: String,
    /// The plaintext size in bytes.
    pub size: u64,
    /// `application/pdf`, `text/plain`...
    pub media_type: String,
}
