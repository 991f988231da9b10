//! Email addresses: normalised (trimmed, domain lowercased and in IDNA
//! ASCII form) and validated, so that one person is one key.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A normalised, valid email address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// Normalises and validates an address.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidAddress {
            address: raw.to_owned(),
            reason,
        };
        let trimmed = raw.trim();
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(|| invalid("no `@`"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before `@` must have 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("misplaced dot before `@`"));
        }
        let local_ok = local.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '!' | '#'
                        | '$'
                        | '%'
                        | '&'
                        | '\''
                        | '*'
                        | '+'
                        | '-'
                        | '/'
                        | '='
                        | '?'
                        | '^'
                        | '_'
                        | '`'
                        | '{'
                        | '|'
                        | '}'
                        | '~'
                        | '.'
                )
                || (!c.is_ascii() && c.is_alphanumeric())
        });
        if !local_ok {
            return Err(invalid("forbidden character before `@`"));
        }
        // Plain ASCII domains (nearly all) need only lowercasing; IDNA's
        // mapping is for the rest, and for punycode labels it must check.
        let lowered = domain.to_ascii_lowercase();
        let domain = if domain.is_ascii() && !lowered.contains("xn--") {
            lowered
        } else {
            idna::domain_to_ascii(domain)
                .map_err(|_| invalid("the domain is not a valid (internationalised) name"))?
        };
        let labels_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !labels_ok {
            return Err(invalid("the domain is not a valid host name"));
        }
        let mut address = String::with_capacity(local.len() + 1 + domain.len());
        address.push_str(local);
        address.push('@');
        address.push_str(&domain);
        Ok(Self(address))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The suppression key: the whole address in lowercase. Local parts
    /// may be case-sensitive in theory, but an opt-out must never be
    /// dodged by capitals (fail closed).
    pub fn key(&self) -> String {
        if self.0.is_ascii() {
            self.0.to_ascii_lowercase()
        } else {
            self.0.to_lowercase()
        }
    }

    /// The Robinson list key: hex SHA-256 of the channel id `02` (email)
    /// followed by the normalised address.
    pub fn robinson_hash(&self) -> String {
        hex::encode(robinson_digest(&self.key()))
    }

    /// The first 128 bits of the Robinson hash: what the plan's set holds.
    pub fn robinson_key(&self) -> u128 {
        robinson_key_of(&self.key())
    }

    /// The address, as a string of its own.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// [`Address::robinson_key`] of the address whose [`Address::key`] is `key`
/// (a plan computes the key once for both of its sets).
pub(crate) fn robinson_key_of(key: &str) -> u128 {
    let digest = robinson_digest(key);
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

fn robinson_digest(key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"02");
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_domains_lowercased_and_punycoded() {
        assert_eq!(
            Address::parse("  Ana.Lopez@Correo.EXAMPLE ")
                .expect("valid")
                .as_str(),
            "Ana.Lopez@correo.example"
        );
        assert_eq!(
            Address::parse("jose@españa.example").expect("idn").as_str(),
            "jose@xn--espaa-rta.example"
        );
    }

    #[test]
    fn ascii_and_idna_paths_agree_on_ascii_domains() {
        for raw in [
            "a@Mail.Example.COM",
            "b@x-y.example",
            "c@xn--espaa-rta.example",
        ] {
            let domain = raw.rsplit_once('@').expect("at").1;
            let idna = idna::domain_to_ascii(domain).expect("idna");
            let ours = Address::parse(raw).expect("valid");
            assert_eq!(ours.as_str().rsplit_once('@').expect("at").1, idna, "{raw}");
        }
    }

    #[test]
    fn invalid_addresses_name_the_problem() {
        for (raw, fragment) in [
            ("no-at.example", "no `@`"),
            ("@x.example", "1 to 64"),
            ("a..b@x.example", "dot"),
            ("a b@x.example", "forbidden"),
            ("a@localhost", "host name"),
            ("a@-x.example", "host name"),
        ] {
            let err = Address::parse(raw).expect_err(raw).to_string();
            assert!(err.contains(fragment), "{raw}: {err}");
        }
    }

    #[test]
    fn robinson_hash_is_sha256_of_channel_and_address() {
        let a = Address::parse("ana@x.example").expect("valid");
        assert_eq!(
            a.robinson_hash(),
            hex::encode(Sha256::digest(b"02ana@x.example"))
        );
        // The plan's key is the hash's first 128 bits, as stored lists read.
        let prefix = &a.robinson_hash()[..32];
        assert_eq!(
            a.robinson_key(),
            u128::from_str_radix(prefix, 16).expect("hex")
        );
    }
}
