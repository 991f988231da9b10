//! Anti-forgery tokens. A form's token is an HMAC of a secret only the
//! browser's `HttpOnly` cookie carries (the session token, or before login
//! the login seed), so another site can neither read nor compute it. It is
//! compared in constant time; a POST without a valid one changes nothing.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What the token signs: binds it to this purpose only.
const LABEL: &[u8] = b"custodia web form v1";

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC pads its key to the block with zeros; a 64-byte array holding
    // the secret's digest is that same key, and needs no fallible call.
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&Sha256::digest(secret.as_bytes()));
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
    mac.update(LABEL);
    mac
}

/// The token forms carry for `secret`.
pub fn token(secret: &str) -> String {
    hex::encode(mac(secret).finalize().into_bytes())
}

/// Whether `sent` is the token for `secret`, in constant time.
// INVARIANT: every state-changing form handler calls this before acting.
pub fn valid(secret: &str, sent: &str) -> bool {
    let Ok(sent) = hex::decode(sent) else {
        return false;
    };
    mac(secret).verify_slice(&sent).is_ok()
}

/// A fresh random secret (the login seed), 32 bytes in hex.
pub fn seed() -> String {
    use rand_core::RngCore;
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_only_for_its_own_secret() {
        let t = token("session-a");
        assert!(valid("session-a", &t));
        assert!(!valid("session-b", &t));
        assert!(!valid("session-a", ""));
        assert!(!valid("session-a", "zz"));
    }
}
