//! Pseudonymous references: an event names a person it has no customer
//! id for (an address that opted out, a message to a list) by a keyed
//! hash, never by the address itself. The audit log outlives erasure and
//! travels in proofs; a plain hash of an address can be guessed, a keyed
//! one only by whoever holds the key, which lives outside the database
//! (it is derived from the audit signing key).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Turns personal identifiers into the references events carry.
#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(..)")
    }
}

/// What an address reference starts with.
pub const ADDRESS_PREFIX: &str = "address:~";

impl Pseudonyms {
    /// Pseudonyms under a 32-byte secret key.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The reference to an email address (already normalised by the
    /// caller) within `org`: `address:~` and 128 bits of HMAC-SHA256 in
    /// hex. The organisation is hashed in, so the same person is not
    /// linkable across organisations.
    pub fn address(&self, org: &str, address: &str) -> String {
        let mut mac = mac(&self.key);
        mac.update(b"address\0");
        mac.update(org.as_bytes());
        mac.update(b"\0");
        mac.update(address.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{ADDRESS_PREFIX}{}", hex::encode(&digest[..16]))
    }
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; 32 bytes never fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Derives the pseudonym key from a signing key's secret bytes: a keyed
/// hash under its own label, so neither key reveals the other.
pub(crate) fn derive(secret: &[u8; 32]) -> Pseudonyms {
    let mut mac = mac(secret);
    mac.update(b"custodia-audit-pseudonyms-v1");
    Pseudonyms::from_key(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_reference_is_keyed_stable_and_per_organisation() {
        let ours = derive(&[1; 32]);
        let a = ours.address("bufete-ruiz", "ana@example.com");
        assert!(a.starts_with(ADDRESS_PREFIX), "{a}");
        assert_eq!(a.len(), ADDRESS_PREFIX.len() + 32);
        assert!(!a.contains("ana"), "{a}");
        assert_eq!(a, ours.address("bufete-ruiz", "ana@example.com"));
        assert_ne!(a, ours.address("clinica-sol", "ana@example.com"));
        assert_ne!(a, ours.address("bufete-ruiz", "ana@example.org"));
        assert_ne!(
            a,
            derive(&[2; 32]).address("bufete-ruiz", "ana@example.com")
        );
        // Not the plain hash anyone could compute.
        use sha2::Digest;
        let plain = hex::encode(Sha256::digest(b"ana@example.com"));
        assert!(!plain.starts_with(&a[ADDRESS_PREFIX.len()..]));
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let p = Pseudonyms::from_key([0xab; 32]);
        assert!(!format!("{p:?}").contains("ab"));
    }
}
