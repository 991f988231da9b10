//! What a customer record holds beyond its index: the identity fields the
//! rules may mask and each area's contents. Both are sealed in the vault;
//! these are their plaintext shapes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One value of an area field, typed by the pack that declares the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Flag(bool),
    Number(i64),
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Flag(true) => f.write_str("yes"),
            FieldValue::Flag(false) => f.write_str("no"),
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::Text(t) => f.write_str(t),
        }
    }
}

/// The contents of one area: the fields its pack declares, and notes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaContent {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl AreaContent {
    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.notes.is_none()
    }
}

/// The identity fields of a customer that are sealed, because the rules
/// may mask them and a leaked database must not show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Identity {
    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.tax_id.is_none() && self.phone.is_none() && self.address.is_none()
    }

    /// The fields by name, in a fixed order, for views and exports.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("tax_id", self.tax_id.as_deref()),
            ("phone", self.phone.as_deref()),
            ("address", self.address.as_deref()),
        ]
    }
}
