//! Typed identifiers: parsed once at the edge, trusted inside.

use crate::error::Error;

/// Characters an identifier may hold. Kept narrow so that ids can be used
/// in URLs, file names and log lines without escaping.
fn valid_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@')
}

pub(crate) fn check_id(kind: &'static str, value: &str) -> Result<(), Error> {
    let reason = if value.is_empty() {
        "must not be empty"
    } else if value.len() > 64 {
        "must be at most 64 characters"
    } else if !value.chars().all(valid_id_char) {
        "may only hold ASCII letters, digits and `-_.:@`"
    } else {
        return Ok(());
    };
    Err(Error::InvalidValue {
        kind,
        value: value.to_owned(),
        reason,
    })
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_id($kind, &value)?;
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An organisation's short name, e.g. `bufete-ruiz`.
    OrgSlug, "organisation slug"
);
id_type!(
    /// A worker's login, unique within an organisation, e.g. `ana`.
    WorkerLogin, "worker login"
);
id_type!(
    /// A customer's file number, e.g. `C-1001`.
    CustomerId, "customer id"
);
id_type!(
    /// A document's id, e.g. `D-1001-3`.
    DocumentId, "document id"
);
id_type!(
    /// An area of a customer record, e.g. `personal` or `clinical:cardiology`.
    AreaName, "area name"
);
id_type!(
    /// A document type, e.g. `contract`, `invoice`, `clinical-report`.
    DocumentType, "document type"
);
id_type!(
    /// The id of an entry in one of the dossier registers (provider, activity...).
    EntryId, "register entry id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_spaces_and_markup() {
        assert!(CustomerId::new("C-1001").is_ok());
        assert!(AreaName::new("clinical:cardiology").is_ok());
        for bad in ["", "a b", "<script>", "ñ", &"x".repeat(65)] {
            let err = CustomerId::new(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid customer id"), "{err}");
        }
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: WorkerLogin = serde_json::from_str("\"ana\"").expect("valid login");
        assert_eq!(ok.as_str(), "ana");
        assert!(serde_json::from_str::<WorkerLogin>("\"an a\"").is_err());
    }
}
